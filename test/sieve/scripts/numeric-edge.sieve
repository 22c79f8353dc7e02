# messages: odd list basic
require ["fileinto", "relational", "comparator-i;ascii-numeric"];
if header :value "gt" :comparator "i;ascii-numeric" "x-priority" "999999" { fileinto "infinite"; }
if header :is :comparator "i;ascii-numeric" "x-priority" "xyz" { fileinto "both-infinite"; }
if header :value "lt" :comparator "i;ascii-numeric" "x-priority" "2" { fileinto "lt-two"; }
