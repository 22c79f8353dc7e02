if true { keep; } else true { discard; }
