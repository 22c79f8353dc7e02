require ["include", "fileinto"];
include "early-return";
fileinto "after-include";
