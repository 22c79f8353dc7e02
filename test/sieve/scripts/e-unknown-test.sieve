

if frobtest { discard; }
