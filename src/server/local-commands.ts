/**
 * Commands that run on the io thread because they concern the connection or the
 * server rather than keys: PING ECHO HELLO AUTH SELECT QUIT RESET CLIENT INFO COMMAND
 * TIME CONFIG SHUTDOWN SLOWLOG. Replies and errors are Redis 7.0's, byte for byte.
 */
import type { Server } from './server';
import { Client, REPLY_OFF, REPLY_ON, REPLY_SKIP_NEXT } from './client';
import type { ExecContext } from '../commands/context';
import { ERR_DB_INDEX, ERR_NOT_INTEGER, ERR_SYNTAX } from '../commands/context';
import type { CommandSpec } from '../commands/table';
import { commandCommand } from '../commands/command-command';
import { parseInt64, parsed } from '../util/numbers';
import { infoCommand } from './info';
import { slowlogCommand } from './slowlog';
import { REDIS_COMPAT_VERSION } from './version';

export type LocalHandler = (srv: Server, cl: Client, c: ExecContext, spec: CommandSpec) => void;
export const localHandlers = new Map<string, LocalHandler>();

function def(name: string, fn: LocalHandler): void {
  localHandlers.set(name, fn);
}

/** Integer argument or null (Redis's getLongLongFromObject). */
function intArg(c: ExecContext, i: number): number | null {
  if (!parseInt64(c.buf, c.argStart[i], c.argEnd[i]) || parsed.isBig) return null;
  return parsed.int;
}

def('ping', (_s, cl, c) => {
  // A subscribed RESP2 client gets ["pong", msg]; pub/sub is not there yet.
  if (c.argc === 1) c.w.simple('PONG');
  else c.w.bulk(c.buf, c.argStart[1], c.argEnd[1]);
  void cl;
});

def('echo', (_s, _cl, c) => c.w.bulk(c.buf, c.argStart[1], c.argEnd[1]));

def('time', (_s, _cl, c) => {
  const us = BigInt(Date.now()) * 1000n + BigInt(Math.floor((performance.now() * 1000) % 1000));
  c.w.arrayHeader(2);
  c.w.bulkString(String(us / 1000000n));
  c.w.bulkString(String(us % 1000000n));
});

function checkPassword(srv: Server, user: string, pass: string): boolean {
  const req = srv.cfg.requirepass;
  return user === 'default' && req !== '' && pass === req;
}

def('auth', (srv, cl, c) => {
  if (c.argc > 3) {
    c.w.error(ERR_SYNTAX);
    return;
  }
  const user = c.argc === 3 ? c.argString(1) : 'default';
  const pass = c.argString(c.argc - 1);
  if (c.argc === 2 && srv.cfg.requirepass === '') {
    c.w.error('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
    return;
  }
  if (user === 'default' && srv.cfg.requirepass === '' ) {
    // "nopass" default user: any password is accepted for AUTH default <x>.
    cl.authenticated = true;
    c.w.ok();
    return;
  }
  if (checkPassword(srv, user, pass)) {
    cl.authenticated = true;
    c.w.ok();
  } else {
    c.w.error('WRONGPASS invalid username-password pair or user is disabled.');
  }
});

/** Redis's validateClientName: printable ASCII without spaces. */
function validClientName(c: ExecContext, i: number): boolean {
  for (let k = c.argStart[i]; k < c.argEnd[i]; k++) {
    const b = c.buf[k];
    if (b < 0x21 || b > 0x7e) return false;
  }
  return true;
}
const ERR_CLIENT_NAME = 'ERR Client names cannot contain spaces, newlines or special characters.';

def('hello', (srv, cl, c) => {
  let ver = 0;
  let next = 1;
  if (c.argc >= 2) {
    const v = intArg(c, 1);
    if (v === null || v < 0 || v > 0x7fffffff) {
      c.w.error('ERR Protocol version is not an integer or out of range');
      return;
    }
    ver = v;
    next = 2;
    if (ver < 2 || ver > 3) {
      c.w.error('NOPROTO unsupported protocol version');
      return;
    }
  }
  let setName: number = -1;
  for (let j = next; j < c.argc; j++) {
    const more = c.argc - j - 1;
    if (c.argIs(j, 'auth') && more >= 2) {
      const user = c.argString(j + 1), pass = c.argString(j + 2);
      j += 2;
      const ok = srv.cfg.requirepass === '' ? user === 'default' : checkPassword(srv, user, pass);
      if (!ok) {
        c.w.error('WRONGPASS invalid username-password pair or user is disabled.');
        return;
      }
      cl.authenticated = true;
    } else if (c.argIs(j, 'setname') && more >= 1) {
      setName = j + 1;
      j++;
    } else {
      c.w.error(`ERR Syntax error in HELLO option '${c.argString(j)}'`);
      return;
    }
  }
  if (!cl.authenticated) {
    c.w.error('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
    return;
  }
  if (setName >= 0) {
    if (!validClientName(c, setName)) {
      c.w.error(ERR_CLIENT_NAME);
      return;
    }
    cl.name = c.argString(setName);
  }
  if (ver !== 0) cl.resp = ver as 2 | 3;
  const w = c.w;
  w.resp = cl.resp;
  w.mapHeader(7);
  w.bulkString('server'); w.bulkString('redis');
  w.bulkString('version'); w.bulkString(REDIS_COMPAT_VERSION);
  w.bulkString('proto'); w.integer(cl.resp);
  w.bulkString('id'); w.integer(cl.id);
  w.bulkString('mode'); w.bulkString('standalone');
  w.bulkString('role'); w.bulkString('master');
  w.bulkString('modules'); w.arrayHeader(0);
  void srv;
});

def('select', (srv, cl, c) => {
  const db = intArg(c, 1);
  if (db === null || db > 0x7fffffff || db < -0x80000000) {
    c.w.error(ERR_NOT_INTEGER);
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

def('reset', (srv, cl, c) => {
  cl.db = 0;
  cl.resp = 2;
  cl.name = '';
  cl.replyMode = REPLY_ON;
  cl.noEvict = false;
  cl.authenticated = srv.cfg.requirepass === '';
  c.w.resp = 2;
  c.w.simple('RESET');
});

// ---- CLIENT -----------------------------------------------------------------------------

/** One CLIENT LIST line, with Redis 7.0's fields. */
export function clientInfoLine(srv: Server, cl: Client, now: number): string {
  const flags = (cl.replyMode !== REPLY_ON ? '' : '') + (cl.noEvict ? 'e' : '') || 'N';
  const qbuf = cl.qbuf ? cl.qbuf.length : 0;
  return `id=${cl.id} addr=${cl.addr} laddr=${cl.laddr} fd=${cl.fd} name=${cl.name} ` +
    `age=${Math.floor((now - cl.created) / 1000)} idle=${Math.floor((now - cl.lastInteraction) / 1000)} ` +
    `flags=${flags} db=${cl.db} sub=0 psub=0 ssub=0 multi=-1 qbuf=${qbuf} qbuf-free=${qbuf === 0 ? 0 : 20474 - qbuf} ` +
    `argv-mem=0 multi-mem=0 rbs=${cl.outBytes} rbp=0 obl=0 oll=0 omem=0 tot-mem=${1024 + qbuf + cl.outBytes} ` +
    `events=r cmd=${cl.lastCmd} user=default redir=-1 resp=${cl.resp}\n`;
  void srv;
}

const CLIENT_HELP = [
  'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
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
  '    * ID <client-id>',
  '      Kill connections by client id.',
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
  'HELP',
  '    Print this help.',
];

export function replyHelp(c: ExecContext, lines: string[]): void {
  c.w.arrayHeader(lines.length);
  for (const l of lines) c.w.simple(l);
}

def('client', (srv, cl, c, spec) => {
  const w = c.w;
  const now = Date.now();
  switch (spec.name) {
    case 'client|id': w.integer(cl.id); return;
    case 'client|getname': if (cl.name === '') w.nullBulk(); else w.bulkString(cl.name); return;
    case 'client|setname':
      if (!validClientName(c, 2)) { w.error(ERR_CLIENT_NAME); return; }
      cl.name = c.argString(2);
      w.ok();
      return;
    case 'client|info': w.verbatim(clientInfoLine(srv, cl, now)); return;
    case 'client|list': {
      let onlyIds: Set<number> | null = null;
      if (c.argc === 4 && c.argIs(2, 'type')) {
        const t = c.argString(3).toLowerCase();
        if (!['normal', 'master', 'replica', 'slave', 'pubsub'].includes(t)) { w.error(`ERR Unknown client type '${c.argString(3)}'`); return; }
        if (t !== 'normal') onlyIds = new Set();
      } else if (c.argc >= 4 && c.argIs(2, 'id')) {
        onlyIds = new Set();
        for (let j = 3; j < c.argc; j++) {
          const id = intArg(c, j);
          if (id === null || id <= 0) { w.error('ERR Invalid client ID'); return; }
          onlyIds.add(id);
        }
      } else if (c.argc !== 2) { w.error(ERR_SYNTAX); return; }
      let out = '';
      for (const x of srv.clients.values()) if (onlyIds === null || onlyIds.has(x.id)) out += clientInfoLine(srv, x, now);
      w.verbatim(out);
      return;
    }
    case 'client|kill': clientKill(srv, cl, c); return;
    case 'client|reply':
      if (c.argIs(2, 'on')) { cl.replyMode = REPLY_ON; w.ok(); }
      else if (c.argIs(2, 'off')) cl.replyMode = REPLY_OFF;
      else if (c.argIs(2, 'skip')) { if (cl.replyMode === REPLY_ON) cl.replyMode = REPLY_SKIP_NEXT; }
      else w.error(ERR_SYNTAX);
      return;
    case 'client|no-evict':
      if (c.argIs(2, 'on')) { cl.noEvict = true; w.ok(); }
      else if (c.argIs(2, 'off')) { cl.noEvict = false; w.ok(); }
      else w.error(ERR_SYNTAX);
      return;
    case 'client|pause': {
      const ms = intArg(c, 2);
      if (ms === null || ms < 0) { w.error('ERR timeout is not an integer or out of range'); return; }
      let writesOnly = false;
      if (c.argc === 4) {
        if (c.argIs(3, 'write')) writesOnly = true;
        else if (!c.argIs(3, 'all')) { w.error('ERR CLIENT PAUSE mode must be WRITE or ALL'); return; }
      } else if (c.argc > 4) { w.error(ERR_SYNTAX); return; }
      srv.pauseUntil = Math.max(srv.pauseUntil, now + ms);
      srv.pauseWritesOnly = writesOnly;
      w.ok();
      return;
    }
    case 'client|unpause': srv.pauseUntil = 0; w.ok(); return;
    case 'client|unblock': {
      const id = intArg(c, 2);
      if (id === null) { w.error(ERR_NOT_INTEGER); return; }
      if (c.argc === 4 && !c.argIs(3, 'timeout') && !c.argIs(3, 'error')) {
        w.error('ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR');
        return;
      }
      // No blocking commands yet, so no client is ever blocked.
      w.integer(0);
      return;
    }
    case 'client|help': replyHelp(c, CLIENT_HELP); return;
  }
});

function clientKill(srv: Server, cl: Client, c: ExecContext): void {
  const w = c.w;
  if (c.argc === 3) {
    // Old form: CLIENT KILL addr:port
    const addr = c.argString(2);
    for (const x of srv.clients.values()) {
      if (x.addr === addr) {
        killClient(srv, x, cl);
        w.ok();
        return;
      }
    }
    w.error('ERR No such client');
    return;
  }
  if (c.argc % 2 !== 0) { w.error(ERR_SYNTAX); return; }
  let id = -1, addr: string | null = null, laddr: string | null = null, skipme = true, typeNormal = true;
  for (let j = 2; j < c.argc; j += 2) {
    const v = c.argString(j + 1);
    if (c.argIs(j, 'id')) {
      const n = intArg(c, j + 1);
      if (n === null || n <= 0) { w.error('ERR client-id should be greater than 0'); return; }
      id = n;
    } else if (c.argIs(j, 'type')) {
      const t = v.toLowerCase();
      if (!['normal', 'master', 'replica', 'slave', 'pubsub'].includes(t)) { w.error(`ERR Unknown client type '${v}'`); return; }
      typeNormal = t === 'normal';
    } else if (c.argIs(j, 'addr')) addr = v;
    else if (c.argIs(j, 'laddr')) laddr = v;
    else if (c.argIs(j, 'user')) {
      if (v !== 'default') { w.error(`ERR No such user '${v}'`); return; }
    } else if (c.argIs(j, 'skipme')) {
      if (v.toLowerCase() === 'yes') skipme = true;
      else if (v.toLowerCase() === 'no') skipme = false;
      else { w.error(ERR_SYNTAX); return; }
    } else { w.error(ERR_SYNTAX); return; }
  }
  let killed = 0;
  for (const x of [...srv.clients.values()]) {
    if (id !== -1 && x.id !== id) continue;
    if (addr !== null && x.addr !== addr) continue;
    if (laddr !== null && x.laddr !== laddr) continue;
    if (!typeNormal) continue;
    if (skipme && x === cl) continue;
    killClient(srv, x, cl);
    killed++;
  }
  w.integer(killed);
}

function killClient(srv: Server, x: Client, self: Client): void {
  // Killing ourselves: close after this reply, as Redis's CLIENT_CLOSE_AFTER_REPLY.
  if (x === self) x.closeAfterReply = true;
  else srv.freeClient(x);
}

// ---- server -----------------------------------------------------------------------------

def('info', (srv, cl, c) => infoCommand(srv, cl, c));
def('command', (_s, _cl, c) => commandCommand(c.argc, c.buf, c.argStart, c.argEnd, c.w));
def('slowlog', (srv, _cl, c, spec) => slowlogCommand(srv, c, spec));

def('config', (srv, _cl, c, spec) => {
  const w = c.w;
  switch (spec.name) {
    case 'config|get': {
      const pats: string[] = [];
      for (let j = 2; j < c.argc; j++) pats.push(c.argString(j));
      const pairs = srv.cfg.get(pats);
      w.mapHeader(pairs.length);
      for (const [k, v] of pairs) { w.bulkString(k); w.bulkString(v); }
      return;
    }
    case 'config|set': {
      const args: string[] = [];
      for (let j = 2; j < c.argc; j++) args.push(c.argString(j));
      const err = srv.cfg.set(args);
      if (err !== null) w.error(err); else w.ok();
      return;
    }
    case 'config|resetstat':
      srv.resetStats();
      w.ok();
      return;
    case 'config|rewrite': {
      const err = srv.cfg.rewrite();
      if (err !== null) w.error(err); else w.ok();
      return;
    }
    case 'config|help':
      replyHelp(c, [
        'CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
        'GET <pattern>',
        '    Return parameters matching the glob-like <pattern> and their values.',
        'SET <directive> <value>',
        '    Set the configuration <directive> to <value>.',
        'RESETSTAT',
        '    Reset statistics reported by the INFO command.',
        'REWRITE',
        '    Rewrite the configuration file.',
        'HELP',
        '    Print this help.',
      ]);
  }
});

def('shutdown', (srv, _cl, c) => {
  let abort = false;
  for (let j = 1; j < c.argc; j++) {
    if (c.argIs(j, 'nosave') || c.argIs(j, 'save') || c.argIs(j, 'now') || c.argIs(j, 'force')) continue;
    if (c.argIs(j, 'abort')) { abort = true; continue; }
    c.w.error(ERR_SYNTAX);
    return;
  }
  if (abort) {
    c.w.error('ERR No shutdown in progress.');
    return;
  }
  // Redis closes the connection without a reply when it exits.
  void srv.shutdown(0);
});
