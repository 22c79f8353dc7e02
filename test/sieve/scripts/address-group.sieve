# messages: mime odd
require "fileinto";
if address :all :is "to" "me@example.com" { fileinto "group-member"; }
if address :domain :is "to" "example.net" { fileinto "bob-domain"; }
if address :localpart :is "from" "jose" { fileinto "jose"; }
