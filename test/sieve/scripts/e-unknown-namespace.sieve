require "variables";

set "a.b" "1";
