# messages: list basic
require ["ihave", "fileinto"];
fileinto "before";
if header :contains "subject" "digest" { error "digests are not welcome"; }
