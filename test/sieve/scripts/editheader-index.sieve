# messages: list basic
require ["editheader", "index", "fileinto"];
deleteheader :index 1 "x-mailer";
if header :is "x-mailer" "Forwarder 1.1" { fileinto "first-mailer-gone"; }
deleteheader :contains "x-priority" "1";
if not exists "x-priority" { fileinto "priority-gone"; }
