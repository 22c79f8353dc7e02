# messages: odd mime
require ["body", "fileinto"];
if body :text :contains "André knows" { fileinto "base64-latin1"; }
if body :content "application/octet-stream" :contains "zebra" { fileinto "attachment-zebra"; }
if body :content "message/rfc822" :contains "zebra" { fileinto "inner-zebra"; }
if body :contains "preamble" { fileinto "preamble"; }
if body :raw :contains "VGhlIG1lc3NhZ2" { fileinto "raw-base64"; }
