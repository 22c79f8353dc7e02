/**
 * The action list of one run (RFC 5228 2.10): duplicate suppression (two stores into one mailbox are one,
 * the later :flags winning, as Pigeonhole does; keep and fileinto "INBOX" are one), redirect and action
 * limits, and the conflicts of RFC 5429 (reject with anything that delivers or answers) and RFC 5230
 * (one vacation). Conflicts and limits throw SieveRuntimeError; the caller then keeps the message.
 */
import type { SieveAction } from './types.js';

export class SieveRuntimeError extends Error {}

type Store = { kind: 'store'; mailbox: string; flags: string[]; create: boolean; copy: boolean; mailboxId?: string; viaKeep: boolean };

export class ResultBuilder {
  private readonly items: Array<Store | SieveAction> = [];
  implicitKeep = true;
  private redirects = 0;

  constructor(private readonly limits: { maxRedirects: number; maxActions: number }) {}

  private count(): void {
    if (this.items.length >= this.limits.maxActions) {
      throw new SieveRuntimeError(`total number of actions exceeds policy limit (${this.items.length + 1} > ${this.limits.maxActions})`);
    }
  }

  private rejected(): boolean {
    return this.items.some((a) => 'type' in a && a.type === 'reject');
  }

  private conflictWithReject(what: string): void {
    if (this.rejected()) throw new SieveRuntimeError(`reject/ereject action conflicts with other action: the ${what} action tries to deliver the message`);
  }

  store(mailbox: string, flags: string[], opts: { create: boolean; copy: boolean; mailboxId?: string; viaKeep: boolean }): void {
    this.conflictWithReject('store');
    const name = /^inbox$/i.test(mailbox) ? 'INBOX' : mailbox;
    if (!opts.copy) this.implicitKeep = false;
    const prev = this.items.find((a): a is Store => 'kind' in a && a.mailbox === name);
    if (prev) {
      prev.flags = flags;
      prev.create ||= opts.create;
      prev.viaKeep ||= opts.viaKeep;
      if (opts.mailboxId) prev.mailboxId = opts.mailboxId;
      return;
    }
    this.count();
    const s: Store = { kind: 'store', mailbox: name, flags, create: opts.create, copy: opts.copy, viaKeep: opts.viaKeep };
    if (opts.mailboxId) s.mailboxId = opts.mailboxId;
    this.items.push(s);
  }

  redirect(address: string, copy: boolean): void {
    this.conflictWithReject('redirect');
    if (!copy) this.implicitKeep = false;
    if (this.items.some((a) => 'type' in a && a.type === 'redirect' && a.address === address)) return;
    this.redirects++;
    if (this.redirects > this.limits.maxRedirects) {
      throw new SieveRuntimeError(`number of redirect actions exceeds policy limit (${this.redirects} > ${this.limits.maxRedirects})`);
    }
    this.count();
    this.items.push({ type: 'redirect', address, copy });
  }

  discard(): void {
    this.implicitKeep = false;
    if (this.items.some((a) => 'type' in a && a.type === 'discard')) return;
    this.count();
    this.items.push({ type: 'discard' });
  }

  reject(reason: string, ereject: boolean): void {
    for (const a of this.items) {
      if ('kind' in a) throw new SieveRuntimeError('reject/ereject action conflicts with other action: the store action tries to deliver the message');
      if (a.type === 'redirect') throw new SieveRuntimeError('reject/ereject action conflicts with other action: the redirect action tries to deliver the message');
      if (a.type === 'vacation') throw new SieveRuntimeError('reject/ereject action conflicts with other action: the vacation action also sends a response back to the sender');
      if (a.type === 'reject') throw new SieveRuntimeError('duplicate reject/ereject action not allowed');
    }
    this.implicitKeep = false;
    this.count();
    this.items.push({ type: 'reject', reason, ereject });
  }

  vacation(v: Extract<SieveAction, { type: 'vacation' }>): void {
    for (const a of this.items) {
      if ('type' in a && a.type === 'vacation') throw new SieveRuntimeError('duplicate vacation action not allowed');
      if ('type' in a && a.type === 'reject') throw new SieveRuntimeError('vacation action conflicts with other action: the reject action also sends a response back to the sender');
    }
    this.count();
    this.items.push(v);
  }

  /** The final list: stores into the default mailbox that came from keep are reported as keep. */
  actions(): SieveAction[] {
    return this.items.map((a): SieveAction => {
      if (!('kind' in a)) return a;
      if (a.viaKeep && a.mailbox === 'INBOX') return { type: 'keep', flags: a.flags };
      const f: SieveAction = { type: 'fileinto', mailbox: a.mailbox, flags: a.flags, create: a.create, copy: a.copy };
      if (a.mailboxId) f.mailboxId = a.mailboxId;
      return f;
    });
  }
}
