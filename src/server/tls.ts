/**
 * TLS material for the listeners: either the operator's files (--tls-cert/--tls-key) or a self-signed
 * certificate generated once into <data>/tls/ and reused on later starts.
 */
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { TlsMaterial } from '../lib/service.js';

export async function loadTlsFiles(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  return { cert, key };
}

/** Generates a self-signed certificate for `hostname` (valid 10 years) with localhost/127.0.0.1 as alternative names. */
export async function generateSelfSigned(hostname: string): Promise<TlsMaterial & { certPem: string }> {
  // Loaded here, not at start: its X.509 libraries (~3 MB of heap) serve only the first start of a data
  // directory without --tls-cert.
  const { generate } = await import('selfsigned');
  const now = new Date();
  const notAfter = new Date(now.getTime() + 3650 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: hostname },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private, certPem: pems.cert };
}

/**
 * Returns the certificate in <dataDir>/tls, generating it on first use. `created` tells the caller to log
 * that a self-signed certificate is in use (clients will need to accept or pin it).
 */
export async function ensureSelfSigned(dataDir: string, hostname: string): Promise<{ tls: TlsMaterial; certFile: string; created: boolean }> {
  const dir = join(dataDir, 'tls');
  const certFile = join(dir, 'selfsigned-cert.pem');
  const keyFile = join(dir, 'selfsigned-key.pem');
  try {
    return { tls: await loadTlsFiles(certFile, keyFile), certFile, created: false };
  } catch {
    // not there yet
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const generated = await generateSelfSigned(hostname);
  await writeFile(keyFile + '.tmp', generated.key, { mode: 0o600 });
  await writeFile(certFile + '.tmp', generated.cert, { mode: 0o644 });
  await rename(keyFile + '.tmp', keyFile);
  await rename(certFile + '.tmp', certFile);
  return { tls: { cert: generated.cert, key: generated.key }, certFile, created: true };
}
