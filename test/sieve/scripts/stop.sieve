if true {
  stop;
}
discard;
