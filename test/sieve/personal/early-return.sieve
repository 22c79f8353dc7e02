require ["include", "fileinto"];
fileinto "in-include";
return;
fileinto "never";
