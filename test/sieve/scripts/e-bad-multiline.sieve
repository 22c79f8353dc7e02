require "vacation";
vacation text: junk
hello
.
;
