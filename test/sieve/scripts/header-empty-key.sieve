require "fileinto";
if header :contains "subject" "" { fileinto "has-subject"; }
if header :is "x-none" "" { fileinto "never"; }
if header :contains ["x-none", "x-mailer"] "" { fileinto "has-mailer"; }
