require ["envelope", "fileinto"];
if envelope :all :is "from" "alice@example.org" { fileinto "from-alice"; }
if envelope :domain :is "to" "EXAMPLE.com" { fileinto "to-local"; }
if envelope :localpart :contains "from" "announce" { fileinto "from-list"; }
