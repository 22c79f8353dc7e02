# messages: basic list
require ["date", "relational", "fileinto"];
if date :originalzone :value "ge" "date" "year" "2024" { fileinto "this-year"; }
if date :zone "+0000" :is "date" "weekday" "2" { fileinto "tuesday-utc"; }
if date :zone "-0800" :is "date" "date" "2024-03-05" { fileinto "pacific-date"; }
if date :originalzone :is "date" "zone" "-0500" { fileinto "eastern"; }
if currentdate :value "ge" "year" "2020" { fileinto "current"; }
