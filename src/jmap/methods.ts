/** The method table: every JMAP method this server answers, with the capability a request must use for it. */
import { CAP } from './api.js';
import type { JmapServer } from './server.js';
import { mailboxChanges, mailboxGet, mailboxQuery, mailboxQueryChanges, mailboxSet } from './mailbox.js';
import { emailGet } from './email-get.js';
import { emailQuery, emailQueryChanges } from './email-query.js';
import { emailChanges, threadChanges, threadGet } from './changes.js';
import { emailCopy, emailImport, emailParse, emailSet } from './email-set.js';
import { snippetGet } from './snippet.js';
import { identityChanges, identityGet, identitySet, submissionChanges, submissionGet, submissionQuery, submissionSet } from './submission.js';
import { sieveChanges, sieveGet, sieveQuery, sieveSet, sieveValidate } from './sieve.js';
import { quotaChanges, quotaGet, quotaQuery, vacationGet, vacationSet } from './quota.js';
import { PushHub, postPush, pushSubscriptionGet, pushSubscriptionSet, stateChange } from './push.js';
import type { Account } from './account.js';
import type { PushSubscriptionRecord } from '../store/tokens.js';

/** Registers the methods; returns the push hub they share with the EventSource and WebSocket routes. */
export function registerMethods(server: JmapServer): PushHub {
  const hub = new PushHub();
  const r = server.register.bind(server);
  r('Core/echo', CAP.core, async (args) => args);
  r('Mailbox/get', CAP.mail, mailboxGet);
  r('Mailbox/changes', CAP.mail, mailboxChanges);
  r('Mailbox/query', CAP.mail, mailboxQuery);
  r('Mailbox/queryChanges', CAP.mail, mailboxQueryChanges);
  r('Mailbox/set', CAP.mail, mailboxSet);
  r('Thread/get', CAP.mail, threadGet);
  r('Thread/changes', CAP.mail, threadChanges);
  r('Email/get', CAP.mail, emailGet);
  r('Email/changes', CAP.mail, emailChanges);
  r('Email/query', CAP.mail, emailQuery);
  r('Email/queryChanges', CAP.mail, emailQueryChanges);
  r('Email/set', CAP.mail, emailSet);
  r('Email/copy', CAP.mail, emailCopy);
  r('Email/import', CAP.mail, emailImport);
  r('Email/parse', CAP.mail, emailParse);
  r('SearchSnippet/get', CAP.mail, snippetGet);
  r('Identity/get', CAP.submission, identityGet);
  r('Identity/changes', CAP.submission, identityChanges);
  r('Identity/set', CAP.submission, identitySet);
  r('EmailSubmission/get', CAP.submission, submissionGet);
  r('EmailSubmission/changes', CAP.submission, submissionChanges);
  r('EmailSubmission/query', CAP.submission, submissionQuery);
  r('EmailSubmission/set', CAP.submission, submissionSet);
  r('VacationResponse/get', CAP.vacation, vacationGet);
  r('VacationResponse/set', CAP.vacation, vacationSet);
  r('SieveScript/get', CAP.sieve, sieveGet);
  r('SieveScript/changes', CAP.sieve, sieveChanges);
  r('SieveScript/query', CAP.sieve, sieveQuery);
  r('SieveScript/set', CAP.sieve, (args, call) => sieveSet(args, call, server.sieveQuota));
  r('SieveScript/validate', CAP.sieve, sieveValidate);
  if (server.capabilityNames.has(CAP.quota)) {
    r('Quota/get', CAP.quota, quotaGet);
    r('Quota/changes', CAP.quota, quotaChanges);
    r('Quota/query', CAP.quota, quotaQuery);
  }
  // PushSubscriptions belong to the user, not an account; a verified one gets the account's StateChanges.
  // They live in the store: every process that has the user's account open pushes (a client may get a
  // StateChange twice, which costs it one /changes call), re-reading the subscription first so one
  // destroyed or changed through another process stops or changes here too.
  const pushed = new Map<string, () => void>();
  const deliverTo = (account: Account, p: PushSubscriptionRecord): void => {
    if (pushed.has(p.id)) return;
    const types = p.types ? new Set(p.types) : null;
    const stop = (): void => {
      remove();
      pushed.delete(p.id);
    };
    const remove = hub.add(account, {
      types,
      seen: {},
      send(changed) {
        void (async () => {
          const cur = (await account.store.tokens.pushList(account.userId).catch(() => [p])).find((x) => x.id === p.id);
          if (!cur || !cur.verified || (cur.expires && cur.expires.getTime() < Date.now())) return stop();
          const wanted = cur.types ? Object.fromEntries(Object.entries(changed).filter(([t]) => cur.types!.includes(t))) : changed;
          if (Object.keys(wanted).length) await postPush(cur.url, stateChange(account, wanted), cur.keys);
        })();
      },
    });
    pushed.set(p.id, remove);
  };
  // A process that opens the user's account (first request, or after a restart) resumes the user's verified subscriptions.
  server.accountOpened = async (account) => {
    for (const p of await account.store.tokens.pushList(account.userId)) if (p.verified && !(p.expires && p.expires.getTime() < Date.now())) deliverTo(account, p);
  };
  // Seed "seen" with the current states so only later changes are pushed.
  r('PushSubscription/get', CAP.core, pushSubscriptionGet);
  r('PushSubscription/set', CAP.core, async (args, call) => {
    const res = await pushSubscriptionSet(args, call, (p) => deliverTo(call.account, p));
    for (const id of res['destroyed'] as string[]) {
      pushed.get(id)?.();
      pushed.delete(id);
    }
    return res;
  });
  return hub;
}
