require "variables";
set "global.x" "1";
