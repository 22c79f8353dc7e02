require "fileinto";
if address :localpart :is "to" "bob" { fileinto "to-bob"; }
if address :domain :is "cc" "example.org" { fileinto "cc-example"; }
if address :all :contains ["to", "cc"] "example.net" { fileinto "net"; }
if address :all :is "from" "alice@example.org" { fileinto "alice"; }
