require ["reject", "fileinto"];
reject "no";
fileinto "Somewhere";
