require ["imap4flags", "variables", "fileinto"];
set "myflags" "";
addflag "myflags" "\\Answered";
addflag "myflags" "Custom";
if hasflag "myflags" "custom" { fileinto :flags "${myflags}" "WithVarFlags"; }
