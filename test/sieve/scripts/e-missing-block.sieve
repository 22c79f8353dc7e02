if true;
