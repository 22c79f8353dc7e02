# messages: list mime
require ["editheader", "fileinto", "variables", "relational", "comparator-i;ascii-numeric"];
deleteheader :matches "x-mailer" "List*";
if header :matches "x-mailer" "*" { fileinto "mailer-${1}"; }
addheader "X-Note" "Café über";
if header :is "x-note" "Café über" { fileinto "utf8-roundtrip"; }
deleteheader :index 1 :last "received";
if header :count "eq" :comparator "i;ascii-numeric" "received" "0" { fileinto "never"; }
