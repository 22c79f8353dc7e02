# messages: basic mime list
require ["spamtestplus", "relational", "comparator-i;ascii-numeric", "fileinto"];
if spamtest :percent :value "gt" :comparator "i;ascii-numeric" "50" { fileinto "probably-spam"; }
if spamtest :percent :value "eq" :comparator "i;ascii-numeric" "20" { fileinto "twenty"; }
if spamtest :percent :value "eq" :comparator "i;ascii-numeric" "0" { fileinto "zero-percent"; }
