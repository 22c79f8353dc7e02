require "fileinto";
if true {
  if true {
    fileinto "a" "b";
  }
}
