if allof (true, frob) { keep; }
