require ["encoded-character", "fileinto"];
if header :contains "subject" "${hex:61 63 6d 65}" { fileinto "${unicode:41}cme"; }
if header :contains "subject" "${hex:43 61 66 C3 A9}" { fileinto "caf${unicode:e9}"; }
