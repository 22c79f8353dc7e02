require "imap4flags";
addflag "\\Seen";
addflag "Junk NonJunk";
removeflag "NonJunk";
