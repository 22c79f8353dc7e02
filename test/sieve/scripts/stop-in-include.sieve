require ["include", "fileinto"];
include :global "stopper";
fileinto "unreached";
