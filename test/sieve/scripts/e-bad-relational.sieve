require "relational";
if header :value "xx" "subject" "x" { discard; }
