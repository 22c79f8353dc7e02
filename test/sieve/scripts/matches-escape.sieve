require "fileinto";
if header :matches "subject" "*\\[fwd\\]*" { fileinto "escaped"; }
if header :matches "subject" "[acme?users]*" { fileinto "question"; }
if header :matches "subject" "*1.0" { fileinto "never"; }
