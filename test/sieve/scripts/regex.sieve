# messages: basic mime list
require ["regex", "variables", "fileinto"];
if header :regex "subject" "^\\[([a-z-]+)\\]" { fileinto "list-${1}"; }
if header :regex :comparator "i;ascii-casemap" "from" "ALICE|jose" { fileinto "known"; }
if address :regex :domain "from" "^lists\\.example\\.(org|net)$" { fileinto "list-domain-${1}"; }
if header :regex "x-priority" "^[[:digit:]]+$" { fileinto "numeric-priority"; }
