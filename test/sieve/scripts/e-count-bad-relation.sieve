require "relational";
if header :count "big" "to" "1" { keep; }
