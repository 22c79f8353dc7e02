require "vacation";
vacation :from "nobody" "x";
