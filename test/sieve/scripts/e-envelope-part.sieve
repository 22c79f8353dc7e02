require "envelope";
if envelope "bogus" "x" { discard; }
