require ["include", "variables", "fileinto"];
set "local" "main";
global "shared";
set "shared" "from-main";
include "scope-check";
fileinto "${local}-${shared}";
