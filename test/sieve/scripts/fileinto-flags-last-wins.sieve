# messages: basic
require ["fileinto", "imap4flags"];
fileinto :flags "\\Seen" "A";
fileinto :flags "\\Flagged" "A";
fileinto :flags "\\Seen" "B";
fileinto "B";
redirect "x@example.com";
redirect "X@example.com";
discard;
fileinto "C";
