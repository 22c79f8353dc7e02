# messages: basic mime list
require ["spamtest", "relational", "comparator-i;ascii-numeric", "fileinto"];
if spamtest :value "ge" :comparator "i;ascii-numeric" "7" {
  fileinto "Junk";
} elsif spamtest :value "eq" :comparator "i;ascii-numeric" "0" {
  fileinto "untested";
} elsif spamtest :value "le" :comparator "i;ascii-numeric" "3" {
  fileinto "clean";
}
