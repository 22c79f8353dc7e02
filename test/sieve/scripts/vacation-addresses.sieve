# messages: mime
require ["vacation", "variables"];
if header :matches "subject" "*" { set "s" "${1}"; }
vacation :days 1 :subject "Re: ${s}" :addresses ["someone@example.net", "me@example.com"] "I'll be back.";
