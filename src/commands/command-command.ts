// The COMMAND command and its subcommands (server.c commandCommand,
// commandInfoCommand, commandDocsCommand, getKeysSubcommandImpl,
// commandListCommand, commandHelpCommand), over Sabre's enabled command table.
// Not a hot path: clients call it once at connect time.
import type { ReplyWriter } from '../protocol/resp-writer';
import { stringMatch } from '../util/glob';
import { replyCommandDocs, replyCommandInfo, replyKeySpecFlags, aclCategoryBit } from './command-docs';
import {
  type CommandSpec, CMD_NO_MANDATORY_KEYS, allCommands, commandHasKeys, getKeyPositionsWithFlags,
  lookupCommand, lookupCommandByFullName, lookupSubcommand,
} from './table';

const HELP_LINES: readonly string[] = [
  'COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  '(no subcommand)',
  '    Return details about all Redis commands.',
  'COUNT',
  '    Return the total number of commands in this Redis server.',
  'LIST',
  '    Return a list of all commands in this Redis server.',
  'INFO [<command-name> ...]',
  '    Return details about multiple Redis commands.',
  '    If no command names are given, documentation details for all',
  '    commands are returned.',
  'DOCS [<command-name> ...]',
  '    Return documentation details about multiple Redis commands.',
  '    If no command names are given, documentation details for all',
  '    commands are returned.',
  'GETKEYS <full-command>',
  '    Return the keys from a full Redis command.',
  'GETKEYSANDFLAGS <full-command>',
  '    Return the keys and the access flags from a full Redis command.',
  'HELP',
  '    Prints this help.',
];

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

function argIs(buf: Uint8Array, s: number, e: number, lower: string): boolean {
  if (e - s !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let b = buf[s + i];
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (b !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** processCommand's arity check: "wrong number of arguments for 'command|x' command". */
function arityOk(cmd: CommandSpec, argc: number): boolean {
  return !((cmd.arity > 0 && cmd.arity !== argc) || argc < -cmd.arity);
}

/** "unknown subcommand '%.128s'. Try COMMAND HELP." with CR/LF blanked, as rejectCommandFormat does. */
function unknownSubcommand(w: ReplyWriter, buf: Uint8Array, s: number, e: number): void {
  let end = Math.min(e, s + 128);
  const nul = buf.indexOf(0, s);
  if (nul >= 0 && nul < end) end = nul;
  const name = utf8.decode(buf.subarray(s, end)).replace(/[\r\n]/g, ' ');
  w.error(`ERR unknown subcommand '${name}'. Try COMMAND HELP.`);
}

/**
 * COMMAND [subcommand [args...]]. argv[0] is "COMMAND"; argument i spans
 * buf[argStart[i], argEnd[i]).
 */
export function commandCommand(
  argc: number, buf: Uint8Array, argStart: Int32Array, argEnd: Int32Array, w: ReplyWriter,
): void {
  const container = lookupCommand(buf, argStart[0], argEnd[0]);
  if (argc === 1) {
    commandAll(w);
    return;
  }
  const sub = container ? lookupSubcommand(container, buf, argStart[1], argEnd[1]) : undefined;
  if (!sub) {
    unknownSubcommand(w, buf, argStart[1], argEnd[1]);
    return;
  }
  if (!arityOk(sub, argc)) {
    w.error(`ERR wrong number of arguments for '${sub.name}' command`);
    return;
  }
  switch (sub.name) {
    case 'command|count': w.integer(allCommands().length); break;
    case 'command|info': commandInfo(argc, buf, argStart, argEnd, w); break;
    case 'command|docs': commandDocs(argc, buf, argStart, argEnd, w); break;
    case 'command|getkeys': getKeys(argc, buf, argStart, argEnd, w, false); break;
    case 'command|getkeysandflags': getKeys(argc, buf, argStart, argEnd, w, true); break;
    case 'command|list': commandList(argc, buf, argStart, argEnd, w); break;
    case 'command|help':
      w.arrayHeader(HELP_LINES.length);
      for (const line of HELP_LINES) w.simple(line);
      break;
    default:
      unknownSubcommand(w, buf, argStart[1], argEnd[1]);
  }
}

function commandAll(w: ReplyWriter): void {
  const cmds = allCommands();
  w.arrayHeader(cmds.length);
  for (const c of cmds) replyCommandInfo(w, c);
}

/** COMMAND INFO [name ...]: unknown names give a null entry. */
function commandInfo(argc: number, buf: Uint8Array, argStart: Int32Array, argEnd: Int32Array, w: ReplyWriter): void {
  if (argc === 2) {
    commandAll(w);
    return;
  }
  w.arrayHeader(argc - 2);
  for (let i = 2; i < argc; i++) replyCommandInfo(w, lookupCommandByFullName(buf, argStart[i], argEnd[i]));
}

/** COMMAND DOCS [name ...]: a map of name → docs; unknown names are skipped. */
function commandDocs(argc: number, buf: Uint8Array, argStart: Int32Array, argEnd: Int32Array, w: ReplyWriter): void {
  if (argc === 2) {
    const cmds = allCommands();
    w.mapHeader(cmds.length);
    for (const c of cmds) {
      w.bulkString(c.name);
      replyCommandDocs(w, c);
    }
    return;
  }
  let found = 0;
  for (let i = 2; i < argc; i++) if (lookupCommandByFullName(buf, argStart[i], argEnd[i])) found++;
  w.mapHeader(found);
  for (let i = 2; i < argc; i++) {
    const c = lookupCommandByFullName(buf, argStart[i], argEnd[i]);
    if (!c) continue;
    w.bulkString(c.name);
    replyCommandDocs(w, c);
  }
}

let keyPos = new Int32Array(64);
let keyFlags = new Int32Array(64);

/** COMMAND GETKEYS / GETKEYSANDFLAGS <full command>. */
function getKeys(
  argc: number, buf: Uint8Array, argStart: Int32Array, argEnd: Int32Array, w: ReplyWriter, withFlags: boolean,
): void {
  // lookupCommand(argv+2, argc-2): a container takes its subcommand from the next argument.
  const n = argc - 2;
  let cmd = lookupCommand(buf, argStart[2], argEnd[2]);
  if (cmd && cmd.subcommands && n > 1) cmd = lookupSubcommand(cmd, buf, argStart[3], argEnd[3]);
  if (!cmd) {
    w.error('ERR Invalid command specified');
    return;
  }
  if (!commandHasKeys(cmd)) {
    w.error('ERR The command has no key arguments');
    return;
  }
  if (!arityOk(cmd, n)) {
    w.error('ERR Invalid number of arguments specified for command');
    return;
  }
  if (keyPos.length < n) {
    keyPos = new Int32Array(n);
    keyFlags = new Int32Array(n);
  }
  // The sub-argv starts at argument 2: shift the offset tables by two.
  const count = getKeyPositionsWithFlags(cmd, n, buf, argStart.subarray(2, argc), argEnd.subarray(2, argc), keyPos, keyFlags);
  if (count <= 0) {
    if (cmd.flags & CMD_NO_MANDATORY_KEYS) w.arrayHeader(0);
    else w.error('ERR Invalid arguments specified for command');
    return;
  }
  w.arrayHeader(count);
  for (let j = 0; j < count; j++) {
    const a = keyPos[j] + 2;
    if (withFlags) {
      w.arrayHeader(2);
      w.bulk(buf, argStart[a], argEnd[a]);
      replyKeySpecFlags(w, keyFlags[j]);
    } else {
      w.bulk(buf, argStart[a], argEnd[a]);
    }
  }
}

const FILTER_NONE = 0;
const FILTER_MODULE = 1;
const FILTER_ACLCAT = 2;
const FILTER_PATTERN = 3;

/** COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN glob]. */
function commandList(argc: number, buf: Uint8Array, argStart: Int32Array, argEnd: Int32Array, w: ReplyWriter): void {
  let filter = FILTER_NONE;
  let filterArg = -1;
  for (let i = 2; i < argc; i++) {
    const moreArgs = argc - 1 - i;
    if (argIs(buf, argStart[i], argEnd[i], 'filterby') && moreArgs === 2) {
      const s = argStart[i + 1];
      const e = argEnd[i + 1];
      if (argIs(buf, s, e, 'module')) filter = FILTER_MODULE;
      else if (argIs(buf, s, e, 'aclcat')) filter = FILTER_ACLCAT;
      else if (argIs(buf, s, e, 'pattern')) filter = FILTER_PATTERN;
      else {
        w.error('ERR syntax error');
        return;
      }
      filterArg = i + 2;
      i += 2;
    } else {
      w.error('ERR syntax error');
      return;
    }
  }

  let aclBit = 0;
  if (filter === FILTER_ACLCAT) aclBit = aclCategoryBit(utf8.decode(buf.subarray(argStart[filterArg], argEnd[filterArg])));
  const matches = (c: CommandSpec): boolean => {
    switch (filter) {
      case FILTER_NONE: return true;
      case FILTER_MODULE: return false; // Sabre loads no modules
      case FILTER_ACLCAT: return aclBit !== 0 && (c.aclCategories & aclBit) !== 0;
      default: {
        const name = utf8Encoder.encode(c.name);
        return stringMatch(buf, argStart[filterArg], argEnd[filterArg], name, 0, name.length, true);
      }
    }
  };

  const names: string[] = [];
  for (const c of allCommands()) {
    if (matches(c)) names.push(c.name);
    if (c.subcommands) for (const sub of c.subcommands.values()) if (matches(sub)) names.push(sub.name);
  }
  w.arrayHeader(names.length);
  for (const n of names) w.bulkString(n);
}
