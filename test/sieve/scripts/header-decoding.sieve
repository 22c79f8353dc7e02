# messages: odd mime
require ["fileinto", "variables"];
if header :is "subject" "Re: Hello world folded part" { fileinto "decoded-folded"; }
if header :contains "cc" "André" { fileinto "latin1-name"; }
if header :matches "subject" "Re: *" { fileinto "re-${1}"; }
