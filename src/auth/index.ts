export * from './hash.js';
export * from './sasl.js';
export * from './authenticator.js';
export * from './service.js';
