require ["regex", "variables", "fileinto"];
if header :regex "received" "from (([a-z]+\\.)+[a-z]+) by" { fileinto "host-${1}"; }
if header :regex "subject" "^(\\[[^]]*\\] ?)+" { fileinto "bracketed-${0}"; }
if header :regex "from" "(alice|jos)" { fileinto "who-${1}"; }
