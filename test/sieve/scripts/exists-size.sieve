# messages: basic list
require "fileinto";
if exists ["from", "date"] { fileinto "has-from-date"; }
if exists "list-id" { fileinto "is-list"; }
if size :over 600 { fileinto "big"; }
if size :under 1K { fileinto "under-1k"; }
