/**
 * The dispatch table, data only: command name (with "UID " prefix for UID commands) -> allowed states,
 * sequence number usage, typed parser and handler, each module under this folder holding one command or
 * one family with its grammar. The dispatcher reads every field of every row.
 */
import type { AnyCommand } from '../session.js';
import { capability } from './capability.js';
import { check, noop } from './noop.js';
import { logout } from './logout.js';
import { id } from './id.js';
import { enable } from './enable.js';
import { starttls } from './starttls.js';
import { authenticate, login } from './login.js';
import { create } from './create.js';
import { del } from './delete.js';
import { rename } from './rename.js';
import { subscribe, unsubscribe } from './subscribe.js';
import { list, lsub } from './list.js';
import { namespace } from './namespace.js';
import { status } from './status.js';
import { examine, select } from './select.js';
import { close, unselect } from './close.js';
import { append } from './append.js';
import { fetch, uidFetch } from './fetch.js';
import { store, uidStore } from './store.js';
import { search, uidSearch } from './search.js';
import { copy, move, uidCopy, uidMove } from './copy.js';
import { expunge, uidExpunge } from './expunge.js';
import { idle } from './idle.js';
import { compress } from './compress.js';
import { unauthenticate } from './unauthenticate.js';
import { sort, uidSort } from './sort.js';
import { thread, uidThread } from './thread.js';
import { cancelUpdate } from './cancelupdate.js';
import { genurlauth, resetkey, urlfetch } from './urlauth.js';
import { replace, uidReplace } from './replace.js';
import { getmetadata, setmetadata } from './metadata.js';
import { notify } from './notify.js';
import { getquota, getquotaroot, setquota } from './quota.js';
import { deleteacl, getacl, listrights, myrights, setacl } from './acl.js';

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
  GETQUOTA: getquota,
  GETQUOTAROOT: getquotaroot,
  SETQUOTA: setquota,
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
  UNAUTHENTICATE: unauthenticate,
  SORT: sort,
  'UID SORT': uidSort,
  THREAD: thread,
  'UID THREAD': uidThread,
  CANCELUPDATE: cancelUpdate,
  RESETKEY: resetkey,
  GENURLAUTH: genurlauth,
  URLFETCH: urlfetch,
  REPLACE: replace,
  'UID REPLACE': uidReplace,
  GETMETADATA: getmetadata,
  SETMETADATA: setmetadata,
  NOTIFY: notify,
  SETACL: setacl,
  DELETEACL: deleteacl,
  GETACL: getacl,
  LISTRIGHTS: listrights,
  MYRIGHTS: myrights,
  }),
);
