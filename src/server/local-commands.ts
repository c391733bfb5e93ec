/**
 * Commands that run on the io thread because they concern the connection or the
 * server rather than keys: PING ECHO HELLO AUTH SELECT QUIT RESET CLIENT INFO COMMAND
 * TIME CONFIG SHUTDOWN SLOWLOG. Replies and errors are Redis 7.0.15's, byte for byte
 * (networking.c, acl.c, server.c, config.c); checks run in Redis's order, because the
 * order decides which error a client sees when several arguments are wrong.
 */
import type { Server } from './server';
import { Client, REPLY_OFF, REPLY_ON, REPLY_SKIP_NEXT } from './client';
import type { ExecContext } from '../commands/context';
import { ERR_DB_INDEX, ERR_NOT_INTEGER, ERR_SYNTAX, replyHelp, subcommandSyntaxError } from '../commands/context';
import type { CommandSpec } from '../commands/table';
import { commandCommand } from '../commands/command-command';
import { parseInt64, parsed } from '../util/numbers';
import { infoCommand } from './info';
import { slowlogCommand } from './slowlog';
import { REDIS_COMPAT_VERSION } from './version';
import { registerDurabilityCommands } from './durability';
import { clientChannelCount, clientPatternCount, clientShardChannelCount, registerPubsubCommands } from './pubsub';
import { trackingFlagLetters, trackingRedirect } from './tracking';

export type LocalHandler = (srv: Server, cl: Client, c: ExecContext, spec: CommandSpec) => void;
export const localHandlers = new Map<string, LocalHandler>();

function def(name: string, fn: LocalHandler): void {
  localHandlers.set(name, fn);
}

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;
/** LLONG_MAX as the nearest double; only compared against, never printed. */
const LLONG_MAX_APPROX = 9223372036854775807;

/**
 * Argument i as a 64-bit integer (Redis's getLongLongFromObject: string2ll, so no
 * '+', no leading zeros or spaces), or null. Values beyond 2^53 come back as the
 * nearest double: every caller only compares them against ranges.
 */
export function int64Arg(c: ExecContext, i: number): number | null {
  if (!parseInt64(c.buf, c.argStart[i], c.argEnd[i])) return null;
  return parsed.isBig ? Number(parsed.big) : parsed.int;
}


// ---- connection ---------------------------------------------------------------------------

def('ping', (_s, _cl, c) => {
  // Arity is -1 in the table; pingCommand itself rejects a second argument.
  // (A subscribed RESP2 client gets ["pong", msg]: pub/sub is not there yet.)
  if (c.argc > 2) c.w.error("ERR wrong number of arguments for 'ping' command");
  else if (c.argc === 1) c.w.simple('PONG');
  else c.w.bulk(c.buf, c.argStart[1], c.argEnd[1]);
});

def('echo', (_s, _cl, c) => c.w.bulk(c.buf, c.argStart[1], c.argEnd[1]));

def('time', (_s, _cl, c) => {
  // One clock with µs resolution, so the pair never runs backwards.
  const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  const sec = Math.floor(us / 1e6);
  c.w.arrayHeader(2);
  c.w.bulkInteger(sec);
  c.w.bulkInteger(us - sec * 1e6);
});

const ERR_WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';

const DEFAULT_USER = Buffer.from('default');

/**
 * ACLAuthenticateUser for the only user Sabre has, "default" (names compare exactly):
 * with no requirepass it is "nopass", any password works; otherwise the password must
 * equal requirepass. userIdx -1 means the default user (AUTH <password>). Success
 * authenticates the client; a failure never de-authenticates it.
 */
function authenticate(srv: Server, cl: Client, c: ExecContext, userIdx: number, passIdx: number): boolean {
  if (userIdx >= 0 && !c.buf.subarray(c.argStart[userIdx], c.argEnd[userIdx]).equals(DEFAULT_USER)) return false;
  const req = srv.cfg.requirepass;
  if (req !== '' && !c.buf.subarray(c.argStart[passIdx], c.argEnd[passIdx]).equals(Buffer.from(req, 'utf8'))) return false;
  cl.authenticated = true;
  return true;
}

def('auth', (srv, cl, c) => {
  if (c.argc > 3) {
    c.w.error(ERR_SYNTAX);
    return;
  }
  if (c.argc === 2 && srv.cfg.requirepass === '') {
    c.w.error('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
    return;
  }
  if (authenticate(srv, cl, c, c.argc === 2 ? -1 : 1, c.argc - 1)) c.w.ok();
  else c.w.error(ERR_WRONGPASS);
});

const ERR_CLIENT_NAME = 'ERR Client names cannot contain spaces, newlines or special characters.';

/**
 * Redis's clientSetNameOrReply: an empty name removes the name; otherwise only
 * '!'..'~' are allowed, so CLIENT LIST stays splittable on spaces.
 */
function setClientName(cl: Client, c: ExecContext, i: number): boolean {
  for (let k = c.argStart[i]; k < c.argEnd[i]; k++) {
    const b = c.buf[k];
    if (b < 0x21 || b > 0x7e) {
      c.w.error(ERR_CLIENT_NAME);
      return false;
    }
  }
  cl.name = c.buf.toString('latin1', c.argStart[i], c.argEnd[i]);
  return true;
}

def('hello', (srv, cl, c) => {
  const w = c.w;
  let ver = 0;
  let next = 1;
  if (c.argc >= 2) {
    const v = int64Arg(c, next++);
    if (v === null) {
      w.error('ERR Protocol version is not an integer or out of range');
      return;
    }
    if (v < 2 || v > 3) {
      w.error('NOPROTO unsupported protocol version');
      return;
    }
    ver = v;
  }
  // As in Redis 7.0, options take effect as they are parsed: a SETNAME before a
  // failing option stays set, an AUTH before it stays authenticated.
  for (let j = next; j < c.argc; j++) {
    const more = c.argc - 1 - j;
    if (c.argIs(j, 'auth') && more >= 2) {
      if (!authenticate(srv, cl, c, j + 1, j + 2)) {
        w.error(ERR_WRONGPASS);
        return;
      }
      j += 2;
    } else if (c.argIs(j, 'setname') && more >= 1) {
      if (!setClientName(cl, c, j + 1)) return;
      j++;
    } else {
      w.error(`ERR Syntax error in HELLO option '${c.argString(j)}'`);
      return;
    }
  }
  if (!cl.authenticated) {
    w.error('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
    return;
  }
  if (ver !== 0) cl.resp = ver as 2 | 3;
  w.resp = cl.resp;
  w.mapHeader(7);
  w.bulkString('server'); w.bulkString('redis');
  w.bulkString('version'); w.bulkString(REDIS_COMPAT_VERSION);
  w.bulkString('proto'); w.integer(cl.resp);
  w.bulkString('id'); w.integer(cl.id);
  w.bulkString('mode'); w.bulkString('standalone');
  w.bulkString('role'); w.bulkString('master');
  w.bulkString('modules'); w.arrayHeader(0);
});

def('select', (srv, cl, c) => {
  const db = int64Arg(c, 1);
  if (db === null) {
    c.w.error(ERR_NOT_INTEGER);
    return;
  }
  if (db < INT_MIN || db > INT_MAX) {
    c.w.error(`ERR value is out of range, value must between ${INT_MIN} and ${INT_MAX}`);
    return;
  }
  if (db < 0 || db >= srv.cfg.databases) {
    c.w.error(ERR_DB_INDEX);
    return;
  }
  cl.db = db;
  c.w.ok();
});

def('quit', (_s, cl, c) => {
  c.w.ok();
  cl.closeAfterReply = true;
});

/**
 * RESET (clearClientConnectionState): db 0, RESP2, default user (authenticated only
 * if it needs no password), no name, replies on. CLIENT NO-EVICT survives, as in Redis.
 */
def('reset', (srv, cl, c) => {
  cl.multi = null;
  srv.watch.unwatchAll(cl);
  if (cl.tracking !== null) srv.tracking.disable(cl);
  cl.db = 0;
  cl.resp = 2;
  cl.name = '';
  cl.replyMode = REPLY_ON;
  cl.authenticated = srv.cfg.requirepass === '';
  c.w.resp = 2;
  c.w.simple('RESET');
});

// ---- CLIENT -----------------------------------------------------------------------------

/** CLIENT LIST flags, in catClientInfoString's order, for the states Sabre has. */
function clientFlags(cl: Client): string {
  let f = '';
  if (cl.pubsub !== null) f += 'P';
  if (cl.multi !== null) f += 'x';
  if (cl.block !== null) f += 'b';
  if (cl.tracking !== null) f += trackingFlagLetters(cl);
  if (cl.watching !== null && cl.watching.dirty) f += 'd';
  if (cl.closeAfterReply) f += 'c';
  if (cl.noEvict) f += 'e';
  return f === '' ? 'N' : f;
}

/** One CLIENT LIST / CLIENT INFO line (without the newline), with Redis 7.0's fields in its order. */
export function clientInfoLine(_srv: Server, cl: Client, now: number): string {
  const qbuf = cl.qbuf ? cl.qbuf.length : cl.qbufChunkBytes;
  const qbufFree = qbuf === 0 ? 0 : Math.max(0, 20474 - qbuf);
  const events = cl.outBytes > 0 ? 'rw' : 'r';
  return `id=${cl.id} addr=${cl.addr} laddr=${cl.laddr} fd=${cl.fd} name=${cl.name} ` +
    `age=${Math.floor((now - cl.created) / 1000)} idle=${Math.floor((now - cl.lastInteraction) / 1000)} ` +
    `flags=${clientFlags(cl)} db=${cl.db} sub=${clientChannelCount(cl)} psub=${clientPatternCount(cl)} ssub=${clientShardChannelCount(cl)} multi=${cl.multi !== null ? cl.multi.commands.length : -1} qbuf=${qbuf} qbuf-free=${qbufFree} ` +
    `argv-mem=0 multi-mem=0 rbs=${cl.out ? cl.out.length : 0} rbp=${cl.outBytes} obl=0 oll=0 omem=0 ` +
    `tot-mem=${1024 + qbuf + cl.outBytes} events=${events} cmd=${cl.lastCmd} user=default redir=${trackingRedirect(cl)} resp=${cl.resp}`;
}

/** Redis's getClientTypeByName: 0 normal, 1 replica, 2 pubsub, 3 master, -1 unknown. */
function clientTypeByName(c: ExecContext, i: number): number {
  if (c.argIs(i, 'normal')) return 0;
  if (c.argIs(i, 'slave') || c.argIs(i, 'replica')) return 1;
  if (c.argIs(i, 'pubsub')) return 2;
  if (c.argIs(i, 'master')) return 3;
  return -1;
}

/** Every Sabre connection is a normal client for now (no pub/sub or replication yet). */
function clientType(cl: Client): number {
  return cl.pubsub !== null ? 2 : 0;
}

const CLIENT_HELP = [
  'CACHING (YES|NO)',
  '    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.',
  'GETREDIR',
  '    Return the client ID we are redirecting to when tracking is enabled.',
  'GETNAME',
  '    Return the name of the current connection.',
  'ID',
  '    Return the ID of the current connection.',
  'INFO',
  '    Return information about the current client connection.',
  'KILL <ip:port>',
  '    Kill connection made from <ip:port>.',
  'KILL <option> <value> [<option> <value> [...]]',
  '    Kill connections. Options are:',
  '    * ADDR (<ip:port>|<unixsocket>:0)',
  '      Kill connections made from the specified address',
  '    * LADDR (<ip:port>|<unixsocket>:0)',
  '      Kill connections made to specified local address',
  '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
  '      Kill connections by type.',
  '    * USER <username>',
  '      Kill connections authenticated by <username>.',
  '    * SKIPME (YES|NO)',
  '      Skip killing current connection (default: yes).',
  'LIST [options ...]',
  '    Return information about client connections. Options:',
  '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
  '      Return clients of specified type.',
  'UNPAUSE',
  '    Stop the current client pause, resuming traffic.',
  'PAUSE <timeout> [WRITE|ALL]',
  '    Suspend all, or just write, clients for <timeout> milliseconds.',
  'REPLY (ON|OFF|SKIP)',
  '    Control the replies sent to the current connection.',
  'SETNAME <name>',
  '    Assign the name <name> to the current connection.',
  'UNBLOCK <clientid> [TIMEOUT|ERROR]',
  '    Unblock the specified blocked client.',
  'TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]',
  '         [OPTIN] [OPTOUT] [NOLOOP]',
  '    Control server assisted client side caching.',
  'TRACKINGINFO',
  '    Report tracking status for the current connection.',
  'NO-EVICT (ON|OFF)',
  '    Protect current client connection from eviction.',
];

def('client', (srv, cl, c, spec) => {
  const w = c.w;
  switch (spec.name) {
    case 'client|id':
      w.integer(cl.id);
      return;
    case 'client|getname':
      if (cl.name === '') w.nullBulk();
      else w.bulkString(cl.name);
      return;
    case 'client|setname':
      if (setClientName(cl, c, 2)) w.ok();
      return;
    case 'client|setinfo': {
      // Redis 7.2's CLIENT SETINFO LIB-NAME|LIB-VER <value>; an empty value clears it.
      const attr = c.argString(2);
      const isName = c.argIs(2, 'lib-name');
      if (!isName && !c.argIs(2, 'lib-ver')) {
        w.error(`ERR Unrecognized option '${attr}'`);
        return;
      }
      for (let k = c.argStart[3]; k < c.argEnd[3]; k++) {
        const b = c.buf[k];
        if (b < 0x21 || b > 0x7e) {
          w.error(`ERR ${attr} cannot contain spaces, newlines or special characters.`);
          return;
        }
      }
      if (isName) cl.libName = c.argString(3); else cl.libVer = c.argString(3);
      w.ok();
      return;
    }
    case 'client|info':
      w.verbatim(clientInfoLine(srv, cl, Date.now()) + '\n');
      return;
    case 'client|list':
      clientList(srv, c);
      return;
    case 'client|kill':
      clientKill(srv, cl, c);
      return;
    case 'client|reply':
      // A silenced reply is dropped by the dispatcher (it looks at replyMode after the handler).
      if (c.argIs(2, 'on')) {
        cl.replyMode = REPLY_ON;
        w.ok();
      } else if (c.argIs(2, 'off')) {
        cl.replyMode = REPLY_OFF;
      } else if (c.argIs(2, 'skip')) {
        if (cl.replyMode !== REPLY_OFF) cl.replyMode = REPLY_SKIP_NEXT;
      } else {
        w.error(ERR_SYNTAX);
      }
      return;
    case 'client|no-evict':
      if (c.argIs(2, 'on')) {
        cl.noEvict = true;
        w.ok();
      } else if (c.argIs(2, 'off')) {
        cl.noEvict = false;
        w.ok();
      } else {
        w.error(ERR_SYNTAX);
      }
      return;
    case 'client|pause':
      clientPause(srv, c);
      return;
    case 'client|unpause':
      srv.pauseUntil = 0;
      w.ok();
      return;
    case 'client|unblock': {
      if (c.argc > 4) {
        subcommandSyntaxError(c);
        return;
      }
      if (c.argc === 4 && !c.argIs(3, 'timeout') && !c.argIs(3, 'error')) {
        w.error('ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR');
        return;
      }
      const id = int64Arg(c, 2);
      if (id === null) {
        w.error(ERR_NOT_INTEGER);
        return;
      }
      w.integer(srv.blocking.unblock(id, c.argc === 4 && c.argIs(3, 'error')));
      return;
    }
    case 'client|help':
      replyHelp(c, CLIENT_HELP);
      return;
    // Client-side caching (src/server/tracking.ts).
    case 'client|tracking':
      srv.tracking.trackingCommand(cl, c);
      return;
    case 'client|caching':
      srv.tracking.cachingCommand(cl, c);
      return;
    case 'client|getredir':
      srv.tracking.getredirCommand(cl, c);
      return;
    case 'client|trackinginfo':
      srv.tracking.trackinginfoCommand(cl, c);
      return;
  }
});

/** CLIENT LIST [TYPE type | ID id [id ...]]: IDs are listed in argument order, repeats included. */
function clientList(srv: Server, c: ExecContext): void {
  const w = c.w;
  const now = Date.now();
  let out = '';
  if (c.argc === 4 && c.argIs(2, 'type')) {
    const type = clientTypeByName(c, 3);
    if (type === -1) {
      w.error(`ERR Unknown client type '${c.argString(3)}'`);
      return;
    }
    for (const x of srv.clients.values()) if (clientType(x) === type) out += clientInfoLine(srv, x, now) + '\n';
  } else if (c.argc > 3 && c.argIs(2, 'id')) {
    for (let j = 3; j < c.argc; j++) {
      const id = int64Arg(c, j);
      if (id === null) {
        w.error('ERR Invalid client ID');
        return;
      }
      const x = srv.clients.get(id);
      if (x !== undefined) out += clientInfoLine(srv, x, now) + '\n';
    }
  } else if (c.argc !== 2) {
    w.error(ERR_SYNTAX);
    return;
  } else {
    for (const x of srv.clients.values()) out += clientInfoLine(srv, x, now) + '\n';
  }
  w.verbatim(out);
}

/** CLIENT PAUSE timeout [WRITE|ALL]: the mode is checked before the timeout, as in Redis. */
function clientPause(srv: Server, c: ExecContext): void {
  const w = c.w;
  if (c.argc > 4) {
    subcommandSyntaxError(c);
    return;
  }
  let writesOnly = false;
  if (c.argc === 4) {
    if (c.argIs(3, 'write')) writesOnly = true;
    else if (!c.argIs(3, 'all')) {
      w.error('ERR CLIENT PAUSE mode must be WRITE or ALL');
      return;
    }
  }
  const ms = int64Arg(c, 2);
  if (ms === null) {
    w.error('ERR timeout is not an integer or out of range');
    return;
  }
  if (ms < 0) {
    w.error('ERR timeout is negative');
    return;
  }
  const now = Date.now();
  // Redis 7.0 adds the timeout to mstime() unchecked: past LLONG_MAX the end wraps
  // negative, i.e. already over. Such a pause is accepted and has no effect.
  if (ms > 0 && ms <= LLONG_MAX_APPROX - now) {
    // pauseClients keeps the more restrictive mode (ALL over WRITE) and the later end.
    const active = srv.pauseUntil !== 0;
    srv.pauseWritesOnly = writesOnly && (!active || srv.pauseWritesOnly);
    if (now + ms > srv.pauseUntil) srv.pauseUntil = now + ms;
  }
  w.ok();
}

/**
 * CLIENT KILL addr:port (old form: may kill the caller, "No such client" when none)
 * or CLIENT KILL <filter> <value> ... (new form: skips the caller unless SKIPME no,
 * replies with the number killed). Options are checked one pair at a time, so the
 * first bad one decides the error, as in Redis.
 */
function clientKill(srv: Server, cl: Client, c: ExecContext): void {
  const w = c.w;
  let addr: string | null = null;
  let laddr: string | null = null;
  let type = -1;
  let id = 0;
  let skipme = true;
  if (c.argc === 3) {
    addr = c.argString(2);
    skipme = false;
  } else {
    for (let i = 2; i < c.argc; i += 2) {
      const more = c.argc > i + 1;
      if (c.argIs(i, 'id') && more) {
        const n = int64Arg(c, i + 1);
        if (n === null || n < 1) {
          w.error('ERR client-id should be greater than 0');
          return;
        }
        id = n;
      } else if (c.argIs(i, 'type') && more) {
        type = clientTypeByName(c, i + 1);
        if (type === -1) {
          w.error(`ERR Unknown client type '${c.argString(i + 1)}'`);
          return;
        }
      } else if (c.argIs(i, 'addr') && more) {
        addr = c.argString(i + 1);
      } else if (c.argIs(i, 'laddr') && more) {
        laddr = c.argString(i + 1);
      } else if (c.argIs(i, 'user') && more) {
        if (c.argString(i + 1) !== 'default') {
          w.error(`ERR No such user '${c.argString(i + 1)}'`);
          return;
        }
      } else if (c.argIs(i, 'skipme') && more) {
        if (c.argIs(i + 1, 'yes')) skipme = true;
        else if (c.argIs(i + 1, 'no')) skipme = false;
        else {
          w.error(ERR_SYNTAX);
          return;
        }
      } else {
        w.error(ERR_SYNTAX);
        return;
      }
    }
  }
  let killed = 0;
  let closeSelf = false;
  for (const x of [...srv.clients.values()]) {
    if (addr !== null && x.addr !== addr) continue;
    if (laddr !== null && x.laddr !== laddr) continue;
    if (type !== -1 && clientType(x) !== type) continue;
    if (id !== 0 && x.id !== id) continue;
    if (x === cl && skipme) continue;
    if (x === cl) closeSelf = true;
    else srv.freeClient(x);
    killed++;
  }
  if (c.argc === 3) {
    if (killed === 0) w.error('ERR No such client');
    else w.ok();
  } else {
    w.integer(killed);
  }
  // Flagged after the reply is queued, as Redis's CLIENT_CLOSE_AFTER_REPLY.
  if (closeSelf) cl.closeAfterReply = true;
}

// ---- server -----------------------------------------------------------------------------

def('info', (srv, cl, c) => infoCommand(srv, cl, c));
def('command', (_s, _cl, c) => commandCommand(c.argc, c.buf, c.argStart, c.argEnd, c.w));
def('slowlog', (srv, _cl, c, spec) => slowlogCommand(srv, c, spec));

const CONFIG_HELP = [
  'GET <pattern>',
  '    Return parameters matching the glob-like <pattern> and their values.',
  'SET <directive> <value>',
  '    Set the configuration <directive> to <value>.',
  'RESETSTAT',
  '    Reset statistics reported by the INFO command.',
  'REWRITE',
  '    Rewrite the configuration file.',
];

def('config', (srv, _cl, c, spec) => {
  const w = c.w;
  switch (spec.name) {
    case 'config|get': {
      const pats: string[] = [];
      for (let j = 2; j < c.argc; j++) pats.push(c.argString(j));
      const pairs = srv.cfg.get(pats);
      w.mapHeader(pairs.length);
      for (const [k, v] of pairs) {
        w.bulkString(k);
        w.bulkString(v);
      }
      return;
    }
    case 'config|set': {
      const args: string[] = [];
      for (let j = 2; j < c.argc; j++) args.push(c.argString(j));
      const err = srv.cfg.set(args);
      if (err !== null) w.error(err);
      else w.ok();
      return;
    }
    case 'config|resetstat':
      srv.resetStats();
      w.ok();
      return;
    case 'config|rewrite': {
      const err = srv.cfg.rewrite();
      if (err !== null) w.error(err);
      else w.ok();
      return;
    }
    case 'config|help':
      replyHelp(c, CONFIG_HELP);
      return;
  }
});

/**
 * SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. Nothing is ever in progress to abort
 * (shutdown here is immediate). On success there is no reply: the process exits and
 * the connection closes, as with Redis.
 */
def('shutdown', (srv, cl, c) => {
  let nosave = false, save = false, other = false, abort = false, force = false;
  for (let j = 1; j < c.argc; j++) {
    if (c.argIs(j, 'nosave')) nosave = true;
    else if (c.argIs(j, 'save')) save = true;
    else if (c.argIs(j, 'force')) other = force = true;
    else if (c.argIs(j, 'now')) other = true;
    else if (c.argIs(j, 'abort')) abort = true;
    else {
      c.w.error(ERR_SYNTAX);
      return;
    }
  }
  if ((abort && (nosave || save || other)) || (nosave && save)) {
    c.w.error(ERR_SYNTAX);
    return;
  }
  if (abort) {
    c.w.error('ERR No shutdown in progress.');
    return;
  }
  // Answered only if the shutdown fails (a save error without FORCE); otherwise the server exits.
  const reply = srv.deferReply(cl);
  void srv.shutdown(0, nosave ? false : save ? true : null, force).then((err) => {
    if (err !== null) reply((w) => w.error(err));
  });
});
registerPubsubCommands(localHandlers);
registerDurabilityCommands(localHandlers);
