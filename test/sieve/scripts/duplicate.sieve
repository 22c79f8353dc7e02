require ["duplicate", "fileinto"];
if duplicate { discard; }
if duplicate :header "subject" :seconds 60 { fileinto "dup-subject"; }
fileinto "checked";
