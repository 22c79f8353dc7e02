require "fileinto";
if header :comparator "i;octet" :contains "subject" "ACME" { fileinto "octet-upper"; }
if header :comparator "i;octet" :contains "subject" "acme" { fileinto "octet-lower"; }
if header :comparator "i;ascii-casemap" :contains "subject" "ACME" { fileinto "casemap"; }
