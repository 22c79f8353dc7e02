/**
 * Signatures of every command and test: the extension that enables it, its tagged arguments (with the
 * extension each tag needs and the value it takes), positional arguments, tests and block. The validator
 * checks scripts against these tables; Pigeonhole's command registry is the model.
 */

export type ArgType = 'string' | 'list' | 'number';

export interface TagSpec {
  /** Extension the tag needs beyond the command's own (e.g. :copy needs "copy"). */
  ext?: string;
  /** Value following the tag. */
  arg?: ArgType;
  /** Tags of one group exclude each other (match types, address parts, ...). */
  group?: string;
}

export interface Spec {
  kind: 'command' | 'test';
  /** Extension(s) of which any enables it; null = core. */
  ext: readonly string[] | null;
  tags: Record<string, TagSpec>;
  /** Positional arguments after the tags; 'list' also accepts one string. */
  positional: readonly ArgType[];
  /** Number of leading positionals that may be omitted (hasflag variable list) or trailing (deleteheader). */
  optionalLeading?: number;
  optionalTrailing?: number;
  tests: 'none' | 'one' | 'list';
  block: 'none' | 'required';
  /** Names of the positional arguments, for messages. */
  names?: readonly string[];
}

const COMPARATOR: Record<string, TagSpec> = { comparator: { arg: 'string' } };
const MATCH: Record<string, TagSpec> = {
  is: { group: 'match' },
  contains: { group: 'match' },
  matches: { group: 'match' },
  regex: { group: 'match', ext: 'regex' },
  count: { group: 'match', ext: 'relational', arg: 'string' },
  value: { group: 'match', ext: 'relational', arg: 'string' },
};
const MATCHING = { ...COMPARATOR, ...MATCH };
const ADDRESS_PART: Record<string, TagSpec> = {
  all: { group: 'addrpart' },
  localpart: { group: 'addrpart' },
  domain: { group: 'addrpart' },
  user: { group: 'addrpart', ext: 'subaddress' },
  detail: { group: 'addrpart', ext: 'subaddress' },
};
const INDEX: Record<string, TagSpec> = { index: { ext: 'index', arg: 'number' }, last: { ext: 'index' } };

const cmd = (ext: readonly string[] | null, positional: ArgType[], tags: Record<string, TagSpec> = {}, extra: Partial<Spec> = {}): Spec => ({
  kind: 'command', ext, tags, positional, tests: 'none', block: 'none', ...extra,
});
const test = (ext: readonly string[] | null, positional: ArgType[], tags: Record<string, TagSpec> = {}, extra: Partial<Spec> = {}): Spec => ({
  kind: 'test', ext, tags, positional, tests: 'none', block: 'none', ...extra,
});

const FLAGS_TAG: Record<string, TagSpec> = { flags: { ext: 'imap4flags', arg: 'list' } };

export const COMMANDS: Record<string, Spec> = {
  require: cmd(null, ['list']),
  if: cmd(null, [], {}, { tests: 'one', block: 'required' }),
  elsif: cmd(null, [], {}, { tests: 'one', block: 'required' }),
  else: cmd(null, [], {}, { block: 'required' }),
  stop: cmd(null, []),
  keep: cmd(null, [], FLAGS_TAG),
  discard: cmd(null, []),
  redirect: cmd(null, ['string'], { copy: { ext: 'copy' } }),
  fileinto: cmd(['fileinto'], ['string'], {
    ...FLAGS_TAG,
    copy: { ext: 'copy' },
    create: { ext: 'mailbox' },
    mailboxid: { ext: 'mailboxid', arg: 'string' },
  }, { names: ['folder'] }),
  reject: cmd(['reject'], ['string']),
  ereject: cmd(['ereject'], ['string']),
  vacation: cmd(['vacation'], ['string'], {
    days: { arg: 'number', group: 'period' },
    seconds: { arg: 'number', group: 'period', ext: 'vacation-seconds' },
    subject: { arg: 'string' },
    from: { arg: 'string' },
    addresses: { arg: 'list' },
    mime: {},
    handle: { arg: 'string' },
  }),
  setflag: cmd(['imap4flags'], ['string', 'list'], {}, { optionalLeading: 1 }),
  addflag: cmd(['imap4flags'], ['string', 'list'], {}, { optionalLeading: 1 }),
  removeflag: cmd(['imap4flags'], ['string', 'list'], {}, { optionalLeading: 1 }),
  set: cmd(['variables'], ['string', 'string'], {
    lower: { group: 'case' },
    upper: { group: 'case' },
    lowerfirst: { group: 'casefirst' },
    upperfirst: { group: 'casefirst' },
    quotewildcard: { group: 'quote' },
    quoteregex: { group: 'quote', ext: 'regex' },
    length: {},
  }),
  include: cmd(['include'], ['string'], {
    personal: { group: 'location' },
    global: { group: 'location' },
    once: {},
    optional: {},
  }),
  return: cmd(['include'], []),
  global: cmd(['include'], ['list']),
  addheader: cmd(['editheader'], ['string', 'string'], { last: {} }),
  deleteheader: cmd(['editheader'], ['string', 'list'], { ...MATCHING, index: { arg: 'number' }, last: {} }, { optionalTrailing: 1 }),
  error: cmd(['ihave'], ['string']),
};

export const TESTS: Record<string, Spec> = {
  true: test(null, []),
  false: test(null, []),
  not: test(null, [], {}, { tests: 'one' }),
  allof: test(null, [], {}, { tests: 'list' }),
  anyof: test(null, [], {}, { tests: 'list' }),
  exists: test(null, ['list']),
  size: test(null, ['number'], { over: { group: 'size' }, under: { group: 'size' } }),
  header: test(null, ['list', 'list'], { ...MATCHING, ...INDEX }),
  address: test(null, ['list', 'list'], { ...MATCHING, ...ADDRESS_PART, ...INDEX }),
  envelope: test(['envelope'], ['list', 'list'], { ...MATCHING, ...ADDRESS_PART }),
  body: test(['body'], ['list'], {
    ...MATCHING,
    raw: { group: 'transform' },
    content: { group: 'transform', arg: 'list' },
    text: { group: 'transform' },
  }),
  date: test(['date'], ['string', 'string', 'list'], {
    ...MATCHING,
    ...INDEX,
    zone: { group: 'zone', arg: 'string' },
    originalzone: { group: 'zone' },
  }),
  currentdate: test(['date'], ['string', 'list'], { ...MATCHING, zone: { arg: 'string' } }),
  string: test(['variables'], ['list', 'list'], MATCHING),
  hasflag: test(['imap4flags'], ['list', 'list'], MATCHING, { optionalLeading: 1 }),
  mailboxexists: test(['mailbox'], ['list']),
  mailboxidexists: test(['mailboxid'], ['list']),
  environment: test(['environment'], ['string', 'list'], MATCHING),
  ihave: test(['ihave'], ['list']),
  duplicate: test(['duplicate'], [], {
    handle: { arg: 'string' },
    header: { arg: 'string', group: 'id' },
    uniqueid: { arg: 'string', group: 'id' },
    seconds: { arg: 'number' },
    last: {},
  }),
  spamtest: test(['spamtest', 'spamtestplus'], ['string'], { ...MATCHING, percent: { ext: 'spamtestplus' } }),
  virustest: test(['virustest'], ['string'], MATCHING),
};

/** Extensions implied by requiring another (RFC 3685: spamtestplus includes spamtest). */
export const IMPLIED: Record<string, string[]> = { spamtestplus: ['spamtest'] };
