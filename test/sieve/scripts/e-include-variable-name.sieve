require ["include", "variables"];
set "x" "a";
include "${x}";
