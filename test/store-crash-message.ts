/** Deterministic test messages for the crash test: sizes from ~200 bytes to ~130 KB, CRLF line endings. */
export function crashMessage(seed: number): Buffer {
  const lines = (seed * 7919) % 2000;
  const body: string[] = [];
  for (let i = 0; i < lines; i++) body.push(`seed ${seed} line ${i} ${'abcdefghijklmnopqrstuvwxyz0123456789'.slice(0, (i * 13 + seed) % 37)}`);
  return Buffer.from(
    `From: crash@example.org\r\nTo: crash@example.org\r\nSubject: crash ${seed}\r\nMessage-ID: <crash${seed}@example.org>\r\n\r\n` +
      body.join('\r\n') +
      '\r\n',
    'utf8',
  );
}
