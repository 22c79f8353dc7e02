# messages: mime
require ["vacation", "vacation-seconds"];
vacation :seconds 172800 :addresses ["me@example.com", "other@example.com"] :mime text:
Content-Type: text/plain; charset=utf-8

Back soon.
.
;
