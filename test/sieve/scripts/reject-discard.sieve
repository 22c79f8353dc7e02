require "reject";
reject "go away";
discard;
