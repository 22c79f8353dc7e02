require "fileinto";
fileinto "abc;
