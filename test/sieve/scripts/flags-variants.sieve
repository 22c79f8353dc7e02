require ["imap4flags", "relational", "comparator-i;ascii-numeric", "fileinto"];
setflag ["\\seen \\SEEN", "$Important", "$important"];
if hasflag :count "eq" :comparator "i;ascii-numeric" "2" { fileinto "two-flags"; }
keep :flags "\\Answered";
removeflag "\\SEEN";
