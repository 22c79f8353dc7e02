export * from './framer.js';
export * from './tokenizer.js';
export * from './encode.js';
export * from './utf7.js';
export * from './envelope-text.js';
