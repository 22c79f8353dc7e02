require ["editheader", "fileinto"];
addheader "X-Sieve" "filtered";
if header :is "x-sieve" "filtered" { fileinto "added"; }
deleteheader "x-sieve";
if not exists "x-sieve" { fileinto "deleted"; }
addheader :last "X-Tail" "end";
if header :is "x-tail" "end" { fileinto "tail"; }
