# messages: list basic
require ["include", "variables", "fileinto"];
global "folder";
set "folder" "from-main";
include :personal "setfolder";
fileinto "${folder}";
include :global "sorting";
include :once :personal "setfolder";
include :optional "does-not-exist";
