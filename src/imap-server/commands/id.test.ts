/**
 * Raw-socket transcripts of ID and of the per-IP connection cap.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startImap } from '../../../test/imap-helpers.js';

describe('ID raw transcripts', () => {
  test('ID and per-IP connection cap', async () => {
    const g = await startImap({ maxConnectionsPerIp: 2, countLoopback: true });
    try {
      const a = await RawClient.connect(g.port);
      const b = await RawClient.connect(g.port);
      assert.equal(await a.cmd('ID ("name" "test")', 'i'), '* ID ("name" "mailroom" "vendor" "mailroom" "version" "0.1.0")\r\ni OK ID completed\r\n');
      const { connect } = await import('node:net');
      const s = connect({ host: '127.0.0.1', port: g.port });
      const got = await new Promise<string>((resolve) => {
        let buf = '';
        s.on('data', (d) => (buf += d.toString()));
        s.on('close', () => resolve(buf));
      });
      assert.equal(got, '* BYE Too many connections from your IP address\r\n');
      a.close();
      b.close();
    } finally {
      await g.close();
    }
  });
});
