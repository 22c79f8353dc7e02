# messages: odd list
require "fileinto";
if header :contains ["subject", "from"] ["zebra", "digest", "acme"] { fileinto "multi"; }
if exists ["x-none", "subject"] { fileinto "never"; }
