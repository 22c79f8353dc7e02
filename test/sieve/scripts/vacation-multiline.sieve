# messages: mime
require "vacation";
vacation text:
I am out of the office.
..dot-stuffed line
Regards,
Me
.
;
