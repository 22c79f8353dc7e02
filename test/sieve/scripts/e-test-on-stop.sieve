stop true;
