// Command metadata as Redis 7.0 publishes it, and the COMMAND INFO / COMMAND
// DOCS reply encoders. The Raw* shapes are what test/tools/gen-command-table.mjs
// dumps into redis-commands.ts; the encoders follow server.c
// (addReplyCommandInfo, addReplyCommandDocs, addReplyCommandArgList, ...)
// field by field so the bytes match Redis's in RESP2 and RESP3.
import type { ReplyWriter } from '../protocol/resp-writer';
import type { CommandSpec } from './table';

/** A key spec as COMMAND INFO prints it (flags are the printed names). */
export interface RawKeySpec {
  notes?: string;
  flags: string[];
  bs:
    | { type: 'index'; index: number }
    | { type: 'keyword'; keyword: string; startfrom: number }
    | { type: 'unknown' };
  fk:
    | { type: 'range'; lastkey: number; keystep: number; limit: number }
    | { type: 'keynum'; keynumidx: number; firstkey: number; keystep: number }
    | { type: 'unknown' };
}

/** One node of a command's argument tree (COMMAND DOCS "arguments"). */
export interface RawArg {
  name: string;
  type: string;
  key_spec_index?: number;
  token?: string;
  summary?: string;
  since?: string;
  deprecated_since?: string;
  flags?: string[];
  arguments?: RawArg[];
}

/** COMMAND DOCS fields of one command, minus "subcommands". */
export interface RawDocs {
  summary?: string;
  since?: string;
  group: string;
  complexity?: string;
  doc_flags?: string[];
  deprecated_since?: string;
  replaced_by?: string;
  history?: [string, string][];
  arguments?: RawArg[];
}

export interface RawCommand {
  name: string; // lowercase full name: "get", "client|list"
  arity: number;
  flags: string[]; // COMMAND INFO flag names, in Redis's order
  firstKey: number;
  lastKey: number;
  keyStep: number;
  aclCategories: string[]; // "@read", ...
  tips: string[];
  keySpecs: RawKeySpec[];
  docs: RawDocs;
  subcommands?: RawCommand[];
  /** Name of Redis's getkeys_proc for this command, if it has one. */
  getkeys?: string;
  /** Flags COMMAND INFO hides (may_replicate, protected). */
  hiddenFlags?: string[];
}

// ---------------------------------------------------------------- flag tables

/** Command flags. Bits are in the order COMMAND INFO prints them
 *  (server.c addReplyFlagsForCommand), hidden ones last. */
export const CMD_WRITE = 1 << 0;
export const CMD_READONLY = 1 << 1;
export const CMD_DENYOOM = 1 << 2;
export const CMD_MODULE = 1 << 3;
export const CMD_ADMIN = 1 << 4;
export const CMD_PUBSUB = 1 << 5;
export const CMD_NOSCRIPT = 1 << 6;
export const CMD_BLOCKING = 1 << 7;
export const CMD_LOADING = 1 << 8;
export const CMD_STALE = 1 << 9;
export const CMD_SKIP_MONITOR = 1 << 10;
export const CMD_SKIP_SLOWLOG = 1 << 11;
export const CMD_ASKING = 1 << 12;
export const CMD_FAST = 1 << 13;
export const CMD_NO_AUTH = 1 << 14;
export const CMD_NO_MANDATORY_KEYS = 1 << 15;
export const CMD_NO_ASYNC_LOADING = 1 << 16;
export const CMD_NO_MULTI = 1 << 17;
export const CMD_MOVABLE_KEYS = 1 << 18;
export const CMD_ALLOW_BUSY = 1 << 19;
// Hidden from COMMAND INFO on purpose, as in Redis.
export const CMD_MAY_REPLICATE = 1 << 20;
export const CMD_SENTINEL = 1 << 21;
export const CMD_ONLY_SENTINEL = 1 << 22;
export const CMD_PROTECTED = 1 << 23;

/** Printed command flag names, index = bit number. */
export const CMD_FLAG_NAMES: readonly string[] = [
  'write', 'readonly', 'denyoom', 'module', 'admin', 'pubsub', 'noscript', 'blocking',
  'loading', 'stale', 'skip_monitor', 'skip_slowlog', 'asking', 'fast', 'no_auth',
  'no_mandatory_keys', 'no_async_loading', 'no_multi', 'movablekeys', 'allow_busy',
];
const CMD_HIDDEN_FLAG_NAMES: readonly string[] = ['may_replicate', 'sentinel', 'only_sentinel', 'protected'];
const CMD_PRINTED_MASK = (1 << CMD_FLAG_NAMES.length) - 1;

/** Key spec flags, in the order addReplyFlagsForKeyArgs prints them. */
export const CMD_KEY_RO = 1 << 0;
export const CMD_KEY_RW = 1 << 1;
export const CMD_KEY_OW = 1 << 2;
export const CMD_KEY_RM = 1 << 3;
export const CMD_KEY_ACCESS = 1 << 4;
export const CMD_KEY_UPDATE = 1 << 5;
export const CMD_KEY_INSERT = 1 << 6;
export const CMD_KEY_DELETE = 1 << 7;
export const CMD_KEY_NOT_KEY = 1 << 8;
export const CMD_KEY_INCOMPLETE = 1 << 9;
export const CMD_KEY_VARIABLE_FLAGS = 1 << 10;
export const KEY_FLAG_NAMES: readonly string[] = [
  'RO', 'RW', 'OW', 'RM', 'access', 'update', 'insert', 'delete', 'not_key', 'incomplete', 'variable_flags',
];

/** ACL categories, in acl.c ACLCommandCategories order (the order COMMAND INFO prints). */
export const ACL_CATEGORY_NAMES: readonly string[] = [
  'keyspace', 'read', 'write', 'set', 'sortedset', 'list', 'hash', 'string', 'bitmap',
  'hyperloglog', 'geo', 'stream', 'pubsub', 'admin', 'fast', 'slow', 'blocking',
  'dangerous', 'connection', 'transaction', 'scripting',
];

function bitOf(names: readonly string[], name: string, what: string): number {
  const i = names.indexOf(name);
  if (i < 0) throw new Error(`unknown ${what} '${name}'`);
  return 1 << i;
}

export function parseCommandFlags(printed: readonly string[], hidden: readonly string[] | undefined): number {
  let flags = 0;
  for (const f of printed) flags |= bitOf(CMD_FLAG_NAMES, f, 'command flag');
  if (hidden) for (const f of hidden) flags |= bitOf(CMD_HIDDEN_FLAG_NAMES, f, 'hidden command flag') << CMD_FLAG_NAMES.length;
  return flags;
}

export function parseKeySpecFlags(names: readonly string[]): number {
  let flags = 0;
  for (const f of names) flags |= bitOf(KEY_FLAG_NAMES, f, 'key spec flag');
  return flags;
}

/** "@read" list → bitmask over ACL_CATEGORY_NAMES. */
export function parseAclCategories(names: readonly string[]): number {
  let cats = 0;
  for (const c of names) {
    if (c[0] !== '@') throw new Error(`bad ACL category '${c}'`);
    cats |= bitOf(ACL_CATEGORY_NAMES, c.slice(1), 'ACL category');
  }
  return cats;
}

/** Bit of an ACL category name given without '@' (case-insensitive, like
 *  ACLGetCommandCategoryFlagByName), or 0 if there is no such category. */
export function aclCategoryBit(name: string): number {
  const i = ACL_CATEGORY_NAMES.indexOf(name.toLowerCase());
  return i < 0 ? 0 : 1 << i;
}

function popcount(x: number): number {
  let n = 0;
  while (x) {
    x &= x - 1;
    n++;
  }
  return n;
}

/** addReplyCommandFlags: a set of status strings for the bits that are set. */
function replyFlagSet(w: ReplyWriter, flags: number, names: readonly string[]): void {
  w.setHeader(popcount(flags));
  for (let i = 0; i < names.length; i++) if (flags & (1 << i)) w.simple(names[i]);
}

/** A set of key spec flags, as COMMAND INFO and COMMAND GETKEYSANDFLAGS print them. */
export function replyKeySpecFlags(w: ReplyWriter, flags: number): void {
  replyFlagSet(w, flags, KEY_FLAG_NAMES);
}

/** A set of plain status strings (doc_flags, argument flags: already in Redis's order). */
function replyStatusSet(w: ReplyWriter, names: readonly string[]): void {
  w.setHeader(names.length);
  for (const n of names) w.simple(n);
}

// ---------------------------------------------------------------- COMMAND INFO

function replyKeySpecs(w: ReplyWriter, cmd: CommandSpec): void {
  const specs = cmd.meta.keySpecs;
  w.setHeader(specs.length);
  for (let i = 0; i < specs.length; i++) {
    const ks = specs[i];
    w.mapHeader(ks.notes !== undefined ? 4 : 3);
    if (ks.notes !== undefined) {
      w.bulkString('notes');
      w.bulkString(ks.notes);
    }
    w.bulkString('flags');
    replyKeySpecFlags(w, cmd.keySpecs[i].flags);

    w.bulkString('begin_search');
    w.mapHeader(2);
    w.bulkString('type');
    w.bulkString(ks.bs.type);
    w.bulkString('spec');
    switch (ks.bs.type) {
      case 'unknown':
        w.mapHeader(0);
        break;
      case 'index':
        w.mapHeader(1);
        w.bulkString('index');
        w.integer(ks.bs.index);
        break;
      case 'keyword':
        w.mapHeader(2);
        w.bulkString('keyword');
        w.bulkString(ks.bs.keyword);
        w.bulkString('startfrom');
        w.integer(ks.bs.startfrom);
        break;
    }

    w.bulkString('find_keys');
    w.mapHeader(2);
    w.bulkString('type');
    w.bulkString(ks.fk.type);
    w.bulkString('spec');
    switch (ks.fk.type) {
      case 'unknown':
        w.mapHeader(0);
        break;
      case 'range':
        w.mapHeader(3);
        w.bulkString('lastkey');
        w.integer(ks.fk.lastkey);
        w.bulkString('keystep');
        w.integer(ks.fk.keystep);
        w.bulkString('limit');
        w.integer(ks.fk.limit);
        break;
      case 'keynum':
        w.mapHeader(3);
        w.bulkString('keynumidx');
        w.integer(ks.fk.keynumidx);
        w.bulkString('firstkey');
        w.integer(ks.fk.firstkey);
        w.bulkString('keystep');
        w.integer(ks.fk.keystep);
        break;
    }
  }
}

/** addReplyCommandInfo: the 10-element description of one command, or null. */
export function replyCommandInfo(w: ReplyWriter, cmd: CommandSpec | undefined): void {
  if (!cmd) {
    w.nullBulk();
    return;
  }
  w.arrayHeader(10);
  w.bulkString(cmd.name);
  w.integer(cmd.arity);
  replyFlagSet(w, cmd.flags & CMD_PRINTED_MASK, CMD_FLAG_NAMES);
  w.integer(cmd.firstKey);
  w.integer(cmd.lastKey);
  w.integer(cmd.keyStep);
  w.setHeader(popcount(cmd.aclCategories));
  for (let i = 0; i < ACL_CATEGORY_NAMES.length; i++) {
    if (cmd.aclCategories & (1 << i)) w.simple('@' + ACL_CATEGORY_NAMES[i]);
  }
  const tips = cmd.meta.tips;
  w.setHeader(tips.length);
  for (const t of tips) w.bulkString(t);
  replyKeySpecs(w, cmd);
  if (cmd.subcommands === null) {
    w.setHeader(0);
  } else {
    w.arrayHeader(cmd.subcommands.size);
    for (const sub of cmd.subcommands.values()) replyCommandInfo(w, sub);
  }
}

// ---------------------------------------------------------------- COMMAND DOCS

function replyArgList(w: ReplyWriter, args: readonly RawArg[]): void {
  w.arrayHeader(args.length);
  for (const a of args) {
    const nested = a.type === 'oneof' || a.type === 'block';
    let len = 2;
    if (a.key_spec_index !== undefined) len++;
    if (a.token !== undefined) len++;
    if (a.summary !== undefined) len++;
    if (a.since !== undefined) len++;
    if (a.deprecated_since !== undefined) len++;
    if (a.flags !== undefined) len++;
    if (nested) len++;
    w.mapHeader(len);
    w.bulkString('name');
    w.bulkString(a.name);
    w.bulkString('type');
    w.bulkString(a.type);
    if (a.key_spec_index !== undefined) {
      w.bulkString('key_spec_index');
      w.integer(a.key_spec_index);
    }
    if (a.token !== undefined) {
      w.bulkString('token');
      w.bulkString(a.token);
    }
    if (a.summary !== undefined) {
      w.bulkString('summary');
      w.bulkString(a.summary);
    }
    if (a.since !== undefined) {
      w.bulkString('since');
      w.bulkString(a.since);
    }
    if (a.deprecated_since !== undefined) {
      w.bulkString('deprecated_since');
      w.bulkString(a.deprecated_since);
    }
    if (a.flags !== undefined) {
      w.bulkString('flags');
      replyStatusSet(w, a.flags);
    }
    if (nested) {
      w.bulkString('arguments');
      replyArgList(w, a.arguments ?? []);
    }
  }
}

/** addReplyCommandDocs: the docs map of one command (its name is written by the caller). */
export function replyCommandDocs(w: ReplyWriter, cmd: CommandSpec): void {
  const d = cmd.meta.docs;
  let len = 1;
  if (d.summary !== undefined) len++;
  if (d.since !== undefined) len++;
  if (d.complexity !== undefined) len++;
  if (d.doc_flags !== undefined) len++;
  if (d.deprecated_since !== undefined) len++;
  if (d.replaced_by !== undefined) len++;
  if (d.history !== undefined) len++;
  if (d.arguments !== undefined) len++;
  if (cmd.subcommands !== null) len++;
  w.mapHeader(len);
  if (d.summary !== undefined) {
    w.bulkString('summary');
    w.bulkString(d.summary);
  }
  if (d.since !== undefined) {
    w.bulkString('since');
    w.bulkString(d.since);
  }
  w.bulkString('group');
  w.bulkString(d.group);
  if (d.complexity !== undefined) {
    w.bulkString('complexity');
    w.bulkString(d.complexity);
  }
  if (d.doc_flags !== undefined) {
    w.bulkString('doc_flags');
    replyStatusSet(w, d.doc_flags);
  }
  if (d.deprecated_since !== undefined) {
    w.bulkString('deprecated_since');
    w.bulkString(d.deprecated_since);
  }
  if (d.replaced_by !== undefined) {
    w.bulkString('replaced_by');
    w.bulkString(d.replaced_by);
  }
  if (d.history !== undefined) {
    w.bulkString('history');
    w.setHeader(d.history.length);
    for (const [since, changes] of d.history) {
      w.arrayHeader(2);
      w.bulkString(since);
      w.bulkString(changes);
    }
  }
  if (d.arguments !== undefined) {
    w.bulkString('arguments');
    replyArgList(w, d.arguments);
  }
  if (cmd.subcommands !== null) {
    w.bulkString('subcommands');
    w.mapHeader(cmd.subcommands.size);
    for (const sub of cmd.subcommands.values()) {
      w.bulkString(sub.name);
      replyCommandDocs(w, sub);
    }
  }
}
