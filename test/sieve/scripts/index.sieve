# messages: list
require ["index", "date", "fileinto"];
if header :index 2 :contains "received" "from c" { fileinto "second-received"; }
if header :index 1 :last :is "x-mailer" "Forwarder 1.1" { fileinto "last-mailer"; }
if date :index 1 :zone "+0000" :is "received" "second" "02" { fileinto "first-received-date"; }
if address :index 1 :is "to" "announce@lists.example.org" { fileinto "first-to"; }
