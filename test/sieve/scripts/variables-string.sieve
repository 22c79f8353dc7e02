# messages: basic list
require ["variables", "relational", "comparator-i;ascii-numeric", "fileinto"];
set "x" "value";
if string :is "${x}" "value" { fileinto "x-is-value"; }
if string :count "eq" :comparator "i;ascii-numeric" ["a", "", "b"] "2" { fileinto "count-two"; }
if string :matches "${unset}" "" { fileinto "unset-empty"; }
if header :matches "from" "*<*>*" { set "addr" "${2}"; }
if string :contains "${addr}" "@" { fileinto "addr-${addr}"; }
