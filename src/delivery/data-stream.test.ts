import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { installFastDataScan } from './data-stream.js';

type Feed = (this: unknown, chunk: Buffer, done: (err?: Error | null) => void) => void;
const proto = SMTPStream.prototype as unknown as { _feedDataStream: Feed };
const original = proto._feedDataStream;

/** Runs one DATA phase through SMTPStream with `feed` as its scan: the message and the commands after it. */
async function receive(feed: Feed, chunks: Buffer[]): Promise<{ data: string; commands: string[] }> {
  proto._feedDataStream = feed;
  const s = new SMTPStream();
  const commands: string[] = [];
  s.oncommand = (line: Buffer, cb?: () => void) => {
    commands.push(line.toString('latin1'));
    cb?.();
  };
  const ds = s.startDataMode();
  const parts: Buffer[] = [];
  ds.on('data', (c: Buffer) => parts.push(c));
  const ended = new Promise<void>((resolve) => ds.on('end', () => resolve()));
  // Writes queue up while the stream waits for continue() after the end of DATA.
  for (const c of chunks) s.write(c);
  await ended;
  s.continue();
  await new Promise<void>((resolve) => s.end(() => resolve()));
  return { data: Buffer.concat(parts).toString('latin1'), commands };
}

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    out.push(buf.subarray(at, c));
    at = c;
  }
  out.push(buf.subarray(at));
  return out.filter((b) => b.length > 0);
}

const WIRE = [
  'Subject: x\r\n\r\nhello\r\n..dot line\r\n.\r\nNOOP\r\n',
  '..first line escaped\r\nbody\r\n.\r\nRSET\r\n',
  '.\r\nNOOP\r\n',
  'a\r\n.b not escaped\r\n...two\r\nend\r\n.\r\nQUIT\r\n',
  'x\r\n.\r\n',
  '\r\n.\r\nNOOP\r\n',
  'line\n.bare lf dot\r\n.\r\n',
  'abcdef\r\n..x\r\n.y\r\nlonger line here\r\n..\r\n.\r\nNOOP\r\n',
  'ab\r\n.\r\n',
];

test('the indexOf scan emits what the byte loop emits, however the wire is cut', async () => {
  assert.equal(installFastDataScan(), true);
  const fast = proto._feedDataStream;
  assert.notEqual(fast, original);
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (const text of WIRE) {
    const wire = Buffer.from(text, 'latin1');
    const cutsList: number[][] = [[]];
    for (let i = 1; i < wire.length; i++) cutsList.push([i]);
    for (let i = 1; i < wire.length; i++) for (let j = i + 1; j < wire.length; j++) cutsList.push([i, j]);
    cutsList.push(Array.from({ length: wire.length - 1 }, (_, i) => i + 1)); // one byte at a time
    for (let k = 0; k < 40; k++) cutsList.push(Array.from({ length: 1 + rand(5) }, () => 1 + rand(wire.length - 1)));
    for (const cuts of cutsList) {
      const chunks = splitAt(wire, cuts);
      const want = await receive(original, chunks);
      const got = await receive(fast, chunks);
      assert.deepEqual(got, want, `${JSON.stringify(text)} cut at ${cuts.join(',')}`);
    }
  }
  proto._feedDataStream = fast;
});

test('a large message with dot-stuffed lines arrives unescaped and whole', async () => {
  installFastDataScan();
  const lines = Array.from({ length: 3000 }, (_, i) => (i % 97 === 0 ? `..stuffed ${i}` : `line ${i} ${'x'.repeat(i % 70)}`));
  const wire = Buffer.from(lines.join('\r\n') + '\r\n.\r\nNOOP\r\n', 'latin1');
  const chunks = splitAt(wire, [1000, 65536, 65537, 100_000, wire.length - 9]);
  const got = await receive(proto._feedDataStream, chunks);
  assert.equal(got.data, lines.map((l) => (l.startsWith('..') ? l.slice(1) : l)).join('\r\n') + '\r\n');
  assert.deepEqual(got.commands, ['NOOP']);
});
