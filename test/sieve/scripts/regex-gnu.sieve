require ["regex", "fileinto", "variables"];
if header :regex "subject" "^\\w+" { fileinto "word-start"; }
if header :regex "subject" "\\s" { fileinto "space-[${0}]"; }
if header :regex "subject" "\\d" { fileinto "backslash-d-never"; }
if header :regex "subject" "\\<fwd\\>" { fileinto "word-bounds"; }
if header :regex "subject" "\\S+$" { fileinto "last-[${0}]"; }
if header :regex "subject" "1\\.0" { fileinto "dot"; }
if header :regex "subject" "(e)[^e]*\\1" { fileinto "backref-[${0}]"; }
if header :regex "subject" "[[:upper:]][[:lower:]]+" { fileinto "capitalized-[${0}]"; }
