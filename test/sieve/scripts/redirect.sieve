if address :domain :is "from" "example.org" {
  redirect "archive@example.com";
}
redirect "boss@example.com";
redirect "boss@example.com";
