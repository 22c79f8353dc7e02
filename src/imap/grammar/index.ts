export * from './args.js';
export * from './sequence.js';
export * from './fetch.js';
export * from './search.js';
export * from './commands.js';
