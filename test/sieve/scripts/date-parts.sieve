# messages: basic list odd
require ["date", "fileinto", "variables"];
if date :originalzone :matches "date" "iso8601" "*" { fileinto "iso-${1}"; }
if date :originalzone :matches "date" "std11" "*" { fileinto "std11-${1}"; }
if date :zone "+0530" :matches "date" "time" "*" { fileinto "time-${1}"; }
if date :zone "+0000" :matches "date" "julian" "*" { fileinto "julian-${1}"; }
if date :originalzone :matches "date" "month" "*" { set "m" "${1}"; }
if date :originalzone :matches "date" "day" "*" { fileinto "md-${m}-${1}"; }
