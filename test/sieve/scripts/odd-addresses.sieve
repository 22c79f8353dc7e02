# messages: odd basic
require ["fileinto", "subaddress", "relational", "comparator-i;ascii-numeric"];
if address :localpart :is "cc" "a b" { fileinto "quoted-local"; }
if address :user :is "cc" "andre" { fileinto "andre-user"; }
if address :detail :is "cc" "lists" { fileinto "andre-detail"; }
if address :domain :is "cc" "example.com" { fileinto "cc-domain"; }
if address :count "eq" :comparator "i;ascii-numeric" "to" "0" { fileinto "no-to-addresses"; }
if address :all :is "reply-to" "y@example.com" { fileinto "group-member"; }
if address :all :contains "from" "MAILER-DAEMON" { fileinto "daemon"; }
