/** Command generators shared by test/imap-fuzz.test.ts and scripts/fuzz.ts. */
import type { Socket } from 'node:net';
import fc from 'fast-check';

export const VALID_COMMANDS = [
  'a1 NOOP',
  'a2 FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (Subject)] BINARY.PEEK[1] BODY[]<0.10>)',
  'a3 UID FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 1)',
  'a4 STORE 1:2 +FLAGS (\\Flagged $X)',
  'a5 UID STORE 1 (UNCHANGEDSINCE 1) -FLAGS.SILENT (\\Seen)',
  'a6 SEARCH RETURN (MIN MAX COUNT SAVE) OR FROM alice NOT SEEN',
  'a7 UID SEARCH CHARSET UTF-8 TEXT "fuzz" SINCE 1-Jan-2000 LARGER 1',
  'a8 LIST (SUBSCRIBED RECURSIVEMATCH) "" ("*" "%") RETURN (CHILDREN STATUS (MESSAGES SIZE HIGHESTMODSEQ))',
  'a9 STATUS INBOX (MESSAGES UNSEEN UIDNEXT DELETED SIZE)',
  'b1 APPEND INBOX (\\Seen) {30+}\r\nSubject: x\r\n\r\nfuzz appended\r\n',
  'b2 COPY 1 Trash',
  'b3 UID MOVE 1:* Archive',
  'b4 EXPUNGE',
  'b5 CREATE "fuzz/&AOk-t&AOk-"',
  'b6 RENAME fuzz fuzz2',
  'b7 DELETE fuzz2',
  'b8 SELECT INBOX (CONDSTORE)',
  'b9 EXAMINE Trash',
  'c1 ENABLE QRESYNC IMAP4rev2 UTF8=ACCEPT',
  'c2 FETCH $ (UID)',
  'c3 UID EXPUNGE 1:*',
  'c4 ID ("name" "fuzz")',
  'c5 SUBSCRIBE INBOX',
  'c6 LSUB "" *',
  'c7 NAMESPACE',
  'c8 UNSELECT',
  'c9 CHECK',
  'd1 SEARCH HEADER X-Nothing "" MODSEQ 1 UID 1:* 1:*',
  'd2 FETCH 1 (BINARY.SIZE[1] BODY[1.MIME] RFC822.HEADER RFC822.TEXT)',
  'd3 IDLE',
  'DONE',
  'd4 AUTHENTICATE PLAIN',
  'd5 COMPRESS DEFLATE',
  'd6 LOGOUT',
];

const NOISE = ['(', ')', '"', '{', '}', '[', ']', '<', '>', '*', '%', '\\', '\0', '\r', '\n', ' ', '~', '{5}', '{99999999}', '{3+}', ':', ',', '$', 'NIL', '\xff'];

/** A mutated valid command, a random noise command, or random bytes. */
export function commandArbitrary(): fc.Arbitrary<Buffer> {
  const mutated = fc
    .tuple(fc.constantFrom(...VALID_COMMANDS), fc.array(fc.tuple(fc.nat(), fc.constantFrom(...NOISE), fc.boolean()), { maxLength: 3 }))
    .map(([cmd, muts]) => {
      let s = cmd;
      for (const [pos, noise, replace] of muts) {
        const p = pos % (s.length + 1);
        s = s.slice(0, p) + noise + s.slice(replace ? p + 1 : p);
      }
      return Buffer.from(s, 'latin1');
    });
  const noise = fc.array(fc.constantFrom(...NOISE, ...VALID_COMMANDS.map((c) => c.split(' ')[1]!)), { maxLength: 10 }).map((p) => Buffer.from('n ' + p.join(' '), 'latin1'));
  const bytes = fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b));
  return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...VALID_COMMANDS).map((c) => Buffer.from(c, 'latin1')) }, { weight: 4, arbitrary: mutated }, { weight: 2, arbitrary: noise }, { weight: 1, arbitrary: bytes });
}

/** Chunk sizes: mostly tiny (byte-by-byte), sometimes large. */
export function chunkArbitrary(): fc.Arbitrary<number[]> {
  return fc.array(fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 16, max: 4096 })), { minLength: 1, maxLength: 20 });
}

export async function sendChunks(socket: Socket, data: Buffer, sizes: number[]): Promise<void> {
  let i = 0;
  let k = 0;
  while (i < data.length && !socket.destroyed) {
    const n = sizes[k++ % sizes.length]!;
    socket.write(data.subarray(i, i + n));
    i += n;
    if (n === 1 && k % 16 === 0) await new Promise((r) => setImmediate(r));
  }
}
