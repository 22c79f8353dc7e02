require "fileinto";
if header :contains "subject" "acme" {
  fileinto "Lists/acme";
} elsif header :contains "subject" "Café" {
  fileinto "Food";
} else {
  fileinto "Other";
}
