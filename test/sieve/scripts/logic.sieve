# messages: basic list
require "fileinto";
if allof (header :contains "from" "example", not exists "list-id") { fileinto "allof"; }
if anyof (false, header :is "precedence" "list") { fileinto "anyof"; }
if not anyof (true, false) { fileinto "never"; }
if allof (true, anyof (false, not false)) { fileinto "nested"; }
