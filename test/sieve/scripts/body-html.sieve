# messages: mime odd
require ["body", "fileinto"];
if body :text :contains "special offer" { fileinto "html-as-text"; }
if body :text :contains "<b>" { fileinto "text-has-tags"; }
if body :content "text/html" :contains "Caf&eacute;" { fileinto "html-raw-entity"; }
if body :content "multipart" :contains "b1" { fileinto "multipart"; }
if body :text :contains "zebra" { fileinto "text-zebra"; }
if body :content "text/plain" :contains "inner" { fileinto "inner-plain"; }
