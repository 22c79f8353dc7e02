# messages: basic mime list
require ["virustest", "relational", "comparator-i;ascii-numeric", "fileinto"];
if virustest :value "eq" :comparator "i;ascii-numeric" "5" { discard; stop; }
if virustest :value "eq" :comparator "i;ascii-numeric" "1" { fileinto "virus-clean"; }
if virustest :value "eq" :comparator "i;ascii-numeric" "0" { fileinto "virus-untested"; }
