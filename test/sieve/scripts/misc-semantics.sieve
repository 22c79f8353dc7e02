# messages: odd list basic
require ["fileinto", "variables", "relational", "comparator-i;ascii-numeric", "envelope", "index", "editheader"];
if exists "x-empty" { fileinto "empty-exists"; }
if header :is "x-empty" "" { fileinto "empty-is-empty"; }
if header :is "x-spaces" "padded" { fileinto "trimmed"; }
if header :matches "x-spaces" "*" { fileinto "spaces-[${1}]"; }
if address :index 1 :last :domain "reply-to" "example.com" { fileinto "last-reply-to"; }
if envelope :count "eq" :comparator "i;ascii-numeric" ["from", "to"] "2" { fileinto "two-envelope"; }
addheader "X-Added" "Carol <carol@example.net>";
if header :contains "x-added" "carol@" { fileinto "added-visible"; }
if size :over 100 { fileinto "over-100"; }
