/**
 * Child process for the crash test: serves LMTP on 127.0.0.1 (port 0) over the SQLite store in argv[2] and
 * prints "PORT <n>" once listening. It is killed with SIGKILL by the test.
 */
import { openServerStore } from '../../src/server/store.js';
import { Authenticator } from '../../src/auth/index.js';
import { createLmtpService } from '../../src/delivery/index.js';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: lmtp-child DATADIR');
const store = await openServerStore({ dataDir });
const svc = createLmtpService({ store, auth: new Authenticator(store.directory, { failureDelayMs: 0 }), hostname: 'crash.test' });
const addr = await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false });
process.stdout.write(`PORT ${addr.port}\n`);
