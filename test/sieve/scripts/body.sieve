# messages: basic mime
require ["body", "fileinto"];
if body :contains "acme" { fileinto "body-acme"; }
if body :text :contains "crème" { fileinto "body-creme"; }
if body :content "text/html" :contains "<b>special</b>" { fileinto "html"; }
if body :raw :contains "Caf=C3=A9" { fileinto "raw-qp"; }
if body :content "text" :contains "secret sauce" { fileinto "text-parts"; }
