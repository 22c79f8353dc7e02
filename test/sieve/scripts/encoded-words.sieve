# messages: mime odd
require "fileinto";
if header :contains "from" "José" { fileinto "decoded-from"; }
if header :is "subject" "Café menu for Friday" { fileinto "decoded-subject"; }
