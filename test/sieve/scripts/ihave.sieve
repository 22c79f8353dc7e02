require "ihave";
if ihave "fileinto" { fileinto "have-fileinto"; }
if ihave "x-nonexistent" { x_nonexistent_command "arg"; }
if not ihave "x-other" { keep; }
