/**
 * The dispatch table: command name (with "UID " prefix for UID commands) -> allowed states, sequence
 * number usage, typed parser and handler.
 */
import type { AnyCommand } from '../session.js';
import { capability, check, enable, id, logout, noop } from './any.js';
import { authenticate, login, starttls } from './auth.js';
import { create, del, rename, subscribe, unsubscribe } from './mailbox.js';
import { list, lsub, namespace } from './list.js';
import { status } from './status.js';
import { close, examine, select, unselect } from './select.js';
import { append } from './append.js';
import { fetch, uidFetch } from './fetch.js';
import { store, uidStore } from './store.js';
import { search, uidSearch } from './search.js';
import { copy, move, uidCopy, uidMove } from './copy.js';
import { expunge, uidExpunge } from './expunge.js';
import { idle } from './idle.js';
import { compress } from './compress.js';

export const COMMANDS: ReadonlyMap<string, AnyCommand> = new Map(
  Object.entries({
  CAPABILITY: capability,
  NOOP: noop,
  LOGOUT: logout,
  ID: id,
  ENABLE: enable,
  STARTTLS: starttls,
  LOGIN: login,
  AUTHENTICATE: authenticate,
  SELECT: select,
  EXAMINE: examine,
  CREATE: create,
  DELETE: del,
  RENAME: rename,
  SUBSCRIBE: subscribe,
  UNSUBSCRIBE: unsubscribe,
  LIST: list,
  LSUB: lsub,
  NAMESPACE: namespace,
  STATUS: status,
  APPEND: append,
  IDLE: idle,
  CHECK: check,
  CLOSE: close,
  UNSELECT: unselect,
  EXPUNGE: expunge,
  'UID EXPUNGE': uidExpunge,
  SEARCH: search,
  'UID SEARCH': uidSearch,
  FETCH: fetch,
  'UID FETCH': uidFetch,
  STORE: store,
  'UID STORE': uidStore,
  COPY: copy,
  'UID COPY': uidCopy,
  MOVE: move,
  'UID MOVE': uidMove,
  COMPRESS: compress,
  }),
);
