# messages: basic list
require ["fileinto", "variables"];
if header :matches "Subject" "[*] *" {
  fileinto "lists.${1}";
  if string :is "${2}" "[fwd] version 1.0 is out" { fileinto "second-ok"; }
}
if header :matches "List-Id" "*<*.*>" { fileinto "list.${2}"; }
