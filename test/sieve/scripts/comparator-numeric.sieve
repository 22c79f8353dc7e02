require ["comparator-i;ascii-numeric", "relational", "fileinto"];
if header :value "ge" :comparator "i;ascii-numeric" "x-priority" "3" {
  fileinto "low-priority";
} elsif header :value "lt" :comparator "i;ascii-numeric" "x-priority" "3" {
  fileinto "high-priority";
}
if header :is :comparator "i;ascii-numeric" "x-priority" "012" { fileinto "twelve"; }
