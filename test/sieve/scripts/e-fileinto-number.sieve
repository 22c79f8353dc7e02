require "fileinto";
fileinto 3;
