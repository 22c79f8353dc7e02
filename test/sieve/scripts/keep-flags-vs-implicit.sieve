# messages: basic
require ["imap4flags", "fileinto", "copy"];
addflag "\\Seen";
keep :flags "\\Answered";
addflag "Later";
fileinto :copy "Copy";
