if header :regex "subject" "b" { keep; }
