# messages: list mime
require "fileinto";
if header :contains "subject" "nothing" { fileinto "a"; }
elsif header :contains "subject" "digest" { fileinto "b"; }
elsif true { fileinto "c"; }
else { fileinto "d"; }
