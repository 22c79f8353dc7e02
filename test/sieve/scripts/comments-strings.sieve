# messages: basic list
/* A bracketed comment
   spanning lines */ require /* inline */ ["fileinto"]; # hash comment
if header :contains "subject" "\\" { fileinto "backslash"; }
if header :is "subject" "Weekly digest, Vol 42" { fileinto "quoted \"name\""; }
fileinto text: # comment after text:
multi
.
;
