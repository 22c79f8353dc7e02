require ["copy", "fileinto"];
redirect :copy "archive@example.com";
fileinto :copy "Archive";
