require ["include", "variables", "fileinto"];
global "shared";
fileinto "inner-local-[${local}]-shared-${shared}";
set "shared" "changed";
set "local" "inner";
