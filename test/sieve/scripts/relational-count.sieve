# messages: basic list odd
require ["relational", "comparator-i;ascii-numeric", "fileinto"];
if header :count "ge" :comparator "i;ascii-numeric" "received" "2" { fileinto "two-hops"; }
if address :count "eq" :comparator "i;ascii-numeric" ["to", "cc"] "3" { fileinto "three-rcpts"; }
if header :value "gt" "subject" "V" { fileinto "subject-after-v"; }
if header :count "eq" :comparator "i;ascii-numeric" "x-none" "0" { fileinto "no-x-none"; }
