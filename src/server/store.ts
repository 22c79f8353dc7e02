/**
 * The store as the servers use it: openStore with the IMAP layer's ENVELOPE text (imap/wire/envelope-text.ts)
 * computed once at delivery, so FETCH ENVELOPE copies stored text. Everything that opens a store to serve or
 * deliver mail (server, CLI, tests, benchmarks) opens it here, so every stored message carries the same
 * text. Throws what openStore throws.
 */
import { envelopeImapText } from '../imap/wire/envelope-text.js';
import { openStore, type Store, type StoreSpec } from '../store/index.js';

export function openServerStore(spec: StoreSpec): Promise<Store> {
  return openStore(spec, { envelopeText: envelopeImapText });
}
