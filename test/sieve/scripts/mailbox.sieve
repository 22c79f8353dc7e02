require ["mailbox", "fileinto"];
fileinto :create "New/Box";
if mailboxexists "INBOX" { fileinto "inbox-exists"; }
if mailboxexists ["INBOX", "Nope"] { fileinto "both-exist"; }
