if header :comparator "i;frob" :is "subject" "x" { discard; }
