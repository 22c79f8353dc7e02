require "copy";
redirect :copy "a@example.com";
redirect :copy "a@example.com";
