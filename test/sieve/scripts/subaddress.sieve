# messages: basic odd
require ["subaddress", "fileinto", "envelope"];
if address :user :is "to" "me" { fileinto "user-me"; }
if address :detail :is "to" "work" { fileinto "detail-work"; }
if envelope :detail :is "to" "" { fileinto "empty-detail"; }
if address :detail :matches "from" "*" { fileinto "from-has-detail"; }
