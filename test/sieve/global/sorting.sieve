require ["fileinto"];
if header :contains "subject" "digest" { fileinto "Digests"; }
