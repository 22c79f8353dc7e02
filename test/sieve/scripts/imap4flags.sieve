require ["imap4flags", "fileinto"];
setflag "\\Flagged";
addflag ["\\Seen", "Work"];
removeflag "\\Flagged";
if hasflag :is "work" { fileinto :flags "$Label1" "Labelled"; }
fileinto "Flagged";
if hasflag :contains "seen" { keep; }
