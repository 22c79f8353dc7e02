if header :index 1 "to" "x" { keep; }
