# messages: mime
require "vacation";
vacation :days 3 :subject "Away" :from "me@example.com" "I am away until Monday.";
