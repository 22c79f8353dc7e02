require ["variables", "fileinto"];
set "pat" "*acme*";
if header :matches "subject" "${pat}" { fileinto "var-wildcard"; }
set :quotewildcard "lit" "*acme*";
if header :matches "subject" "${lit}" { fileinto "quoted-never"; }
if header :matches "subject" "[*]*" { set "first" "${1}"; }
if header :matches "subject" "no match *" { set "first" "changed"; }
fileinto "kept-${first}";
set "n" "${1}";
fileinto "n-${n}";
set "a" "1";
set "b" "${a}${a}";
set "a" "2";
fileinto "b-${b}-${a}";
fileinto "literal-${}-${a.b.c}-$\{a}";
