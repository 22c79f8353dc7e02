/** ManageSieve (RFC 5804): upload, list, activate and check Sieve scripts over store.sieve. */
export { createManageSieveService, ManageSieveService } from './service.js';
export type { ManageSieveServiceOptions } from './options.js';
export { MANAGESIEVE_MAX_LINE } from './options.js';
