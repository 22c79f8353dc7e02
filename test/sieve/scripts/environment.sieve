require ["environment", "fileinto"];
if environment :is "location" "MDA" { fileinto "mda"; }
if environment :is "phase" "during" { fileinto "during"; }
if environment :is "location" "MS" { fileinto "ms"; }
if environment :is "phase" "post" { fileinto "post"; }
if environment :matches "name" "Pigeonhole*" { fileinto "pigeonhole"; }
if environment :contains "unknown-item" "" { fileinto "unknown"; }
