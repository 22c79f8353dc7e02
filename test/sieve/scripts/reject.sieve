# messages: list basic
require "reject";
if header :contains "subject" "digest" { reject "No digests, please."; }
