if header :is ["a", 1] "x" { discard; }
