/**
 * Pub/sub on the io thread: Redis 7.0's pubsub.c. SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE
 * PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE PUBLISH SPUBLISH PUBSUB, the RESP2 subscribed-mode
 * rules, and client-output-buffer-limit for the pubsub class.
 *
 * State: channel -> subscribers, pattern -> subscribers, shard channel -> subscribers,
 * keyed by the name's bytes as a latin1 string (one char per byte). Subscriber sets are
 * JS Sets: insertion-ordered like Redis 7.0's client lists, with O(1) removal. A client
 * has its own sets only while it is subscribed to something (Client.pubsub).
 *
 * Delivery: a publish encodes its frame once (RESP2 "*3"; RESP3 differs only in its first
 * byte, ">3") and appends the same bytes to every subscriber's output; subscribers with
 * new output are written once at the end of the event-loop turn. A push to a client whose
 * earlier replies are still in flight takes a reply sequence number of its own, so it is
 * written after them (Redis runs commands one at a time: a push never overtakes a reply
 * to an earlier command).
 */
import type { Server } from './server';
import type { Client } from './client';
import { REPLY_ON } from './client';
import type { ExecContext } from '../commands/context';
import type { CommandSpec } from '../commands/table';
import { ReplyWriter } from '../protocol/resp-writer';
import { stringMatch } from '../util/glob';
import { log } from './logger';
import type { LocalHandler } from './local-commands';
// Used only inside functions: this module and local-commands.ts import each other.
import { clientInfoLine } from './local-commands';
import { replyHelp, subcommandSyntaxError } from '../commands/context';

/** A channel, pattern or shard channel with its subscribers. */
interface Subscribers {
  /** The name's bytes (a copy), for frames and PUBSUB CHANNELS. */
  readonly name: Buffer;
  readonly clients: Set<Client>;
}

/** A client's subscriptions (keys as in the server maps). Counts are the sets' sizes. */
export class ClientPubsub {
  readonly channels = new Set<string>();
  /** Subscription order, as Redis 7.0's c->pubsub_patterns list (PUNSUBSCRIBE with no args). */
  readonly patterns = new Set<string>();
  readonly shardChannels = new Set<string>();
  /** Cleanup on disconnect is registered once per client. */
  closeHooked = false;
}

const channels = new Map<string, Subscribers>();
const patterns = new Map<string, Subscribers>();
const shardChannels = new Map<string, Subscribers>();

/** The two kinds of channel: global (patterns apply) and shard (no patterns, own count). */
const GLOBAL = 0;
const SHARD = 1;

function mapOf(kind: number): Map<string, Subscribers> {
  return kind === SHARD ? shardChannels : channels;
}

function clientSetOf(st: ClientPubsub, kind: number): Set<string> {
  return kind === SHARD ? st.shardChannels : st.channels;
}

const bulk = (s: string): Buffer => Buffer.from(`$${s.length}\r\n${s}\r\n`, 'latin1');
// shared.*bulk of server.c: the frame kinds, preencoded.
const SUBSCRIBE = [bulk('subscribe'), bulk('ssubscribe')];
const UNSUBSCRIBE = [bulk('unsubscribe'), bulk('sunsubscribe')];
const MESSAGE = [bulk('message'), bulk('smessage')];
const PSUBSCRIBE = bulk('psubscribe');
const PUNSUBSCRIBE = bulk('punsubscribe');
const PMESSAGE = bulk('pmessage');
const PONG_LOWER = bulk('pong');

// ---- public API ---------------------------------------------------------------------------

/** Redis's CLIENT_PUBSUB flag: subscribed to at least one channel, pattern or shard channel. */
export function isSubscribed(cl: Client): boolean {
  return cl.pubsub !== null;
}

/** CLIENT LIST sub=: channels the client is subscribed to. */
export function clientChannelCount(cl: Client): number {
  return cl.pubsub === null ? 0 : cl.pubsub.channels.size;
}

/** CLIENT LIST psub=: patterns the client is subscribed to. */
export function clientPatternCount(cl: Client): number {
  return cl.pubsub === null ? 0 : cl.pubsub.patterns.size;
}

/** CLIENT LIST ssub=: shard channels the client is subscribed to. */
export function clientShardChannelCount(cl: Client): number {
  return cl.pubsub === null ? 0 : cl.pubsub.shardChannels.size;
}

/** INFO stats pubsub_channels. */
export function pubsubChannelCount(): number {
  return channels.size;
}

/** INFO stats pubsub_patterns (distinct patterns, as Redis 7.0 counts them). */
export function pubsubPatternCount(): number {
  return patterns.size;
}

/** INFO stats pubsubshard_channels. */
export function pubsubShardChannelCount(): number {
  return shardChannels.size;
}

const ALLOWED_WHEN_SUBSCRIBED = new Set([
  'subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'ping', 'quit', 'reset',
]);

/**
 * processCommand's pub/sub context check: a RESP2 client in subscribed mode may only run
 * (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT and RESET. Returns the error to reject the
 * command with, or null. Redis runs it after the auth check and before the pause check.
 */
export function subscribedModeError(cl: Client, spec: CommandSpec): string | null {
  if (cl.pubsub === null || cl.resp !== 2) return null;
  if (ALLOWED_WHEN_SUBSCRIBED.has(spec.parent !== null ? spec.parent.name : spec.name)) return null;
  return `ERR Can't execute '${spec.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`;
}

/**
 * The (un)subscribe commands answer with pushes, which Redis sends even under CLIENT REPLY
 * OFF/SKIP (CLIENT_PUSHING). The dispatcher must not drop these replies when silent.
 */
export function repliesWithPushes(spec: CommandSpec): boolean {
  const n = spec.name;
  return n === 'subscribe' || n === 'unsubscribe' || n === 'psubscribe' || n === 'punsubscribe' ||
    n === 'ssubscribe' || n === 'sunsubscribe';
}

/**
 * PING of a RESP2 client in subscribed mode: ["pong", argument or ""]. Returns false
 * when the plain PING reply applies.
 */
export function pubsubPing(cl: Client, c: ExecContext): boolean {
  if (cl.pubsub === null || cl.resp !== 2 || c.argc > 2) return false;
  const w = c.w;
  w.arrayHeader(2);
  w.raw(PONG_LOWER, 0, PONG_LOWER.length);
  if (c.argc === 1) w.bulk(PONG_LOWER, 0, 0);
  else w.bulk(c.buf, c.argStart[1], c.argEnd[1]);
  return true;
}

/**
 * Drop every subscription of a client, without notifying it (RESET, disconnect). Safe to
 * call more than once.
 */
export function pubsubUnsubscribeAll(_srv: Server, cl: Client): void {
  const st = cl.pubsub;
  if (st === null) return;
  for (const k of st.channels) removeSubscriber(channels, k, cl);
  for (const k of st.patterns) removeSubscriber(patterns, k, cl);
  for (const k of st.shardChannels) removeSubscriber(shardChannels, k, cl);
  cl.pubsub = null;
}

/**
 * Publish a message: to the channel's subscribers, then (global channels only) to the
 * subscribers of every matching pattern. Returns the number of deliveries (a client that
 * matches twice counts twice), as PUBLISH replies. `self` is the client whose in-order
 * reply bytes are in the io writer (srv.w) right now, e.g. the publisher running PUBLISH:
 * its own pushes go into that writer, where they happen, ahead of the command's reply.
 * Pass null when no client's batch is in the io writer (work arriving from shards, timers).
 */
export function publish(srv: Server, chan: Buffer, cs: number, ce: number, msg: Buffer, ms: number, me: number,
  self: Client | null = null, shard = false): number {
  const kind = shard ? SHARD : GLOBAL;
  let receivers = 0;
  const subs = mapOf(kind).get(chan.toString('latin1', cs, ce));
  if (subs !== undefined) {
    const fw = frameWriter;
    fw.reset();
    fw.arrayHeader(3);
    fw.raw(MESSAGE[kind], 0, MESSAGE[kind].length);
    fw.bulk(chan, cs, ce);
    fw.bulk(msg, ms, me);
    receivers += pushToAll(srv, subs.clients, self);
  }
  if (kind === GLOBAL && patterns.size > 0) {
    for (const p of patterns.values()) {
      if (!stringMatch(p.name, 0, p.name.length, chan, cs, ce, false)) continue;
      const fw = frameWriter;
      fw.reset();
      fw.arrayHeader(4);
      fw.raw(PMESSAGE, 0, PMESSAGE.length);
      fw.bulk(p.name, 0, p.name.length);
      fw.bulk(chan, cs, ce);
      fw.bulk(msg, ms, me);
      receivers += pushToAll(srv, p.clients, self);
    }
  }
  // Don't keep a huge message's worth of buffer for the next publish.
  if (frameWriter.buf.length > FRAME_KEEP) frameWriter = new ReplyWriter(FRAME_INITIAL);
  return receivers;
}

// ---- delivery -------------------------------------------------------------------------------

/** Encodes one frame per publish (per matching pattern): the RESP2 form, then the RESP3 copy. */
const FRAME_INITIAL = 16 * 1024;
const FRAME_KEEP = 1024 * 1024;
let frameWriter = new ReplyWriter(FRAME_INITIAL);
const GT = 0x3e; // '>': a RESP3 push header

/** Append the frame in frameWriter to every subscriber in the set; returns how many got it. */
function pushToAll(srv: Server, clients: Set<Client>, self: Client | null): number {
  const fw = frameWriter;
  const n = fw.len; // the RESP2 frame is fw.buf[0, n)
  let resp3Made = false;
  let count = 0;
  for (const cl of clients) {
    if (cl.closed) {
      // Gone without its cleanup having run yet: it is no subscriber any more.
      pubsubUnsubscribeAll(srv, cl);
      continue;
    }
    count++;
    if (cl.closeAsap) continue;
    if (cl.resp === 3) {
      if (!resp3Made) {
        // RESP3 differs only in the header's type byte: one copy per publish, at [n, 2n).
        fw.raw(fw.buf, 0, n);
        fw.buf[n] = GT;
        resp3Made = true;
      }
      pushTo(srv, cl, fw.buf, n, n + n, self);
    } else {
      pushTo(srv, cl, fw.buf, 0, n, self);
    }
  }
  return count;
}

/** Deliver push bytes to one client, in order with its replies. */
function pushTo(srv: Server, cl: Client, src: Buffer, start: number, end: number, self: Client | null): void {
  if (cl === self) {
    // Our own batch: earlier replies sit in the io writer, the command's reply follows.
    srv.w.raw(src, start, end);
    return;
  }
  if (cl.writeSeq === cl.nextSeq) {
    cl.appendOut(src, start, end);
  } else {
    // Replies to earlier commands are still due: the push waits its turn after them.
    srv.deliver(cl, cl.nextSeq++, src, start, end, false);
  }
  if (!cl.pushFlushPending) {
    cl.pushFlushPending = true;
    flushList.push(cl);
    if (!flushScheduled) {
      flushScheduled = true;
      flushServer = srv;
      setImmediate(flushPushes);
    }
  }
  checkOutputBufferLimit(srv, cl);
}

const flushList: Client[] = [];
let flushScheduled = false;
let flushServer: Server | null = null;

/** End of the turn: one socket write per client that got pushes; close those over a limit. */
function flushPushes(): void {
  flushScheduled = false;
  const srv = flushServer!;
  for (let i = 0; i < flushList.length; i++) {
    const cl = flushList[i];
    cl.pushFlushPending = false;
    if (cl.closed) continue;
    if (cl.closeAsap) {
      pubsubUnsubscribeAll(srv, cl);
      srv.freeClient(cl);
    } else {
      cl.flush();
    }
  }
  flushList.length = 0;
}

const CLIENT_CLASS_NORMAL = 0;
const CLIENT_CLASS_PUBSUB = 2;

/**
 * Redis's checkClientOutputBufferLimits + closeClientOnOutputBufferLimitReached: output
 * not yet taken by the kernel (queued here plus queued in the socket) over the hard limit
 * closes the client at once; over the soft limit continuously for more than soft-seconds,
 * too. The close happens at the end of the turn; nothing more is queued meanwhile.
 */
export function checkOutputBufferLimit(srv: Server, cl: Client): void {
  if (cl.closeAsap || cl.closed) return;
  const lim = srv.cfg.clientOutputBufferLimit[cl.pubsub !== null ? CLIENT_CLASS_PUBSUB : CLIENT_CLASS_NORMAL];
  if (lim.hard === 0 && lim.soft === 0) return;
  const used = cl.outBytes + cl.sock.writableLength;
  let over = lim.hard !== 0 && used >= lim.hard;
  if (lim.soft !== 0 && used >= lim.soft) {
    // Redis measures soft-limit time in whole seconds of server.unixtime.
    const now = Math.floor(Date.now() / 1000);
    if (cl.obufSoftLimitSince === 0) cl.obufSoftLimitSince = now;
    else if (now - cl.obufSoftLimitSince > lim.softSeconds) over = true;
  } else {
    cl.obufSoftLimitSince = 0;
  }
  if (!over) return;
  cl.closeAsap = true;
  log.warn(`Client ${clientInfoLine(srv, cl, Date.now())} scheduled to be closed ASAP for overcoming of output buffer limits.`);
  // Drop what is queued now: the client gets nothing more.
  cl.out = null;
  cl.outBytes = 0;
  if (!cl.pushFlushPending) {
    cl.pushFlushPending = true;
    flushList.push(cl);
    if (!flushScheduled) {
      flushScheduled = true;
      flushServer = srv;
      setImmediate(flushPushes);
    }
  }
}

// ---- subscription state ---------------------------------------------------------------------

function stateOf(cl: Client): ClientPubsub {
  let st = cl.pubsub;
  if (st === null) {
    st = cl.pubsub = new ClientPubsub();
  }
  return st;
}

/** The client's subscriptions are dropped when its socket closes, whoever closes it. */
function hookClose(srv: Server, cl: Client, st: ClientPubsub): void {
  if (st.closeHooked) return;
  st.closeHooked = true;
  cl.sock.once('close', () => pubsubUnsubscribeAll(srv, cl));
}

function removeSubscriber(map: Map<string, Subscribers>, key: string, cl: Client): void {
  const subs = map.get(key);
  if (subs === undefined) return;
  subs.clients.delete(cl);
  // No subscribers left: forget the name, so creating millions of channels costs nothing lasting.
  if (subs.clients.size === 0) map.delete(key);
}

function addSubscriber(map: Map<string, Subscribers>, key: string, c: ExecContext, j: number, cl: Client): void {
  let subs = map.get(key);
  if (subs === undefined) {
    subs = { name: Buffer.from(c.buf.subarray(c.argStart[j], c.argEnd[j])), clients: new Set() };
    map.set(key, subs);
  }
  subs.clients.add(cl);
}

/** Back to normal mode when nothing is left (Redis clears CLIENT_PUBSUB). */
function leaveIfEmpty(cl: Client): void {
  const st = cl.pubsub;
  if (st !== null && st.channels.size === 0 && st.patterns.size === 0 && st.shardChannels.size === 0) cl.pubsub = null;
}

/** Subscription count a (un)subscribe notification reports: channels + patterns, or shard channels. */
function countFor(cl: Client, kind: number): number {
  const st = cl.pubsub;
  if (st === null) return 0;
  return kind === SHARD ? st.shardChannels.size : st.channels.size + st.patterns.size;
}

function notify(c: ExecContext, kindBulk: Buffer, name: Uint8Array | null, start: number, end: number, count: number): void {
  const w = c.w;
  w.pushHeader(3);
  w.raw(kindBulk, 0, kindBulk.length);
  if (name === null) w.nullBulk();
  else w.bulk(name, start, end);
  w.integer(count);
}

function subscribeCommand(srv: Server, cl: Client, c: ExecContext, kind: number): void {
  const st = stateOf(cl);
  hookClose(srv, cl, st);
  const mine = clientSetOf(st, kind);
  for (let j = 1; j < c.argc; j++) {
    const key = c.buf.toString('latin1', c.argStart[j], c.argEnd[j]);
    if (!mine.has(key)) {
      mine.add(key);
      addSubscriber(mapOf(kind), key, c, j, cl);
    }
    notify(c, SUBSCRIBE[kind], c.buf, c.argStart[j], c.argEnd[j], countFor(cl, kind));
  }
}

function unsubscribeCommand(cl: Client, c: ExecContext, kind: number): void {
  const map = mapOf(kind);
  const st = cl.pubsub;
  if (c.argc === 1) {
    let count = 0;
    if (st !== null) {
      const mine = clientSetOf(st, kind);
      for (const key of [...mine]) {
        mine.delete(key);
        const name = map.get(key)!.name;
        removeSubscriber(map, key, cl);
        count++;
        notify(c, UNSUBSCRIBE[kind], name, 0, name.length, countFor(cl, kind));
      }
    }
    // Subscribed to nothing: still one notification, with a null channel.
    if (count === 0) notify(c, UNSUBSCRIBE[kind], null, 0, 0, countFor(cl, kind));
  } else {
    for (let j = 1; j < c.argc; j++) {
      const key = c.buf.toString('latin1', c.argStart[j], c.argEnd[j]);
      if (st !== null && clientSetOf(st, kind).delete(key)) removeSubscriber(map, key, cl);
      notify(c, UNSUBSCRIBE[kind], c.buf, c.argStart[j], c.argEnd[j], countFor(cl, kind));
    }
  }
  leaveIfEmpty(cl);
}

function psubscribeCommand(srv: Server, cl: Client, c: ExecContext): void {
  const st = stateOf(cl);
  hookClose(srv, cl, st);
  for (let j = 1; j < c.argc; j++) {
    const key = c.buf.toString('latin1', c.argStart[j], c.argEnd[j]);
    if (!st.patterns.has(key)) {
      st.patterns.add(key);
      addSubscriber(patterns, key, c, j, cl);
    }
    notify(c, PSUBSCRIBE, c.buf, c.argStart[j], c.argEnd[j], countFor(cl, GLOBAL));
  }
}

function punsubscribeCommand(cl: Client, c: ExecContext): void {
  const st = cl.pubsub;
  if (c.argc === 1) {
    let count = 0;
    if (st !== null) {
      // In subscription order, as Redis 7.0 walks its c->pubsub_patterns list.
      for (const key of [...st.patterns]) {
        st.patterns.delete(key);
        const name = patterns.get(key)!.name;
        removeSubscriber(patterns, key, cl);
        count++;
        notify(c, PUNSUBSCRIBE, name, 0, name.length, countFor(cl, GLOBAL));
      }
    }
    if (count === 0) notify(c, PUNSUBSCRIBE, null, 0, 0, countFor(cl, GLOBAL));
  } else {
    for (let j = 1; j < c.argc; j++) {
      const key = c.buf.toString('latin1', c.argStart[j], c.argEnd[j]);
      if (st !== null && st.patterns.delete(key)) removeSubscriber(patterns, key, cl);
      notify(c, PUNSUBSCRIBE, c.buf, c.argStart[j], c.argEnd[j], countFor(cl, GLOBAL));
    }
  }
  leaveIfEmpty(cl);
}

// ---- PUBSUB ---------------------------------------------------------------------------------

const PUBSUB_HELP = [
  'CHANNELS [<pattern>]',
  "    Return the currently active channels matching a <pattern> (default: '*').",
  'NUMPAT',
  '    Return number of subscriptions to patterns.',
  'NUMSUB [<channel> ...]',
  '    Return the number of subscribers for the specified channels, excluding',
  '    pattern subscriptions(default: no channels).',
  'SHARDCHANNELS [<pattern>]',
  "    Return the currently active shard level channels matching a <pattern> (default: '*').",
  'SHARDNUMSUB [<shardchannel> ...]',
  '    Return the number of subscribers for the specified shard level channel(s)',
];

/** PUBSUB CHANNELS / SHARDCHANNELS [pattern]: active names matching the pattern. */
function channelList(c: ExecContext, map: Map<string, Subscribers>): void {
  if (c.argc > 3) {
    subcommandSyntaxError(c);
    return;
  }
  const w = c.w;
  if (c.argc === 2) {
    w.arrayHeader(map.size);
    for (const s of map.values()) w.bulk(s.name, 0, s.name.length);
    return;
  }
  const ps = c.argStart[2], pe = c.argEnd[2];
  let n = 0;
  for (const s of map.values()) if (stringMatch(c.buf, ps, pe, s.name, 0, s.name.length, false)) n++;
  w.arrayHeader(n);
  for (const s of map.values()) {
    if (stringMatch(c.buf, ps, pe, s.name, 0, s.name.length, false)) w.bulk(s.name, 0, s.name.length);
  }
}

/** PUBSUB NUMSUB / SHARDNUMSUB [name ...]: name, subscriber count pairs (patterns not counted). */
function numsub(c: ExecContext, map: Map<string, Subscribers>): void {
  const w = c.w;
  w.arrayHeader((c.argc - 2) * 2);
  for (let j = 2; j < c.argc; j++) {
    const subs = map.get(c.buf.toString('latin1', c.argStart[j], c.argEnd[j]));
    w.bulk(c.buf, c.argStart[j], c.argEnd[j]);
    w.integer(subs === undefined ? 0 : subs.clients.size);
  }
}

/** PUBSUB CHANNELS | NUMSUB | NUMPAT | SHARDCHANNELS | SHARDNUMSUB | HELP. */
function pubsubCommand(c: ExecContext, spec: CommandSpec): void {
  switch (spec.name) {
    case 'pubsub|channels':
      channelList(c, channels);
      return;
    case 'pubsub|shardchannels':
      channelList(c, shardChannels);
      return;
    case 'pubsub|numsub':
      numsub(c, channels);
      return;
    case 'pubsub|shardnumsub':
      numsub(c, shardChannels);
      return;
    case 'pubsub|numpat':
      c.w.integer(patterns.size);
      return;
    case 'pubsub|help':
      replyHelp(c, PUBSUB_HELP);
      return;
  }
}

// ---- registration ---------------------------------------------------------------------------

/**
 * Put the pub/sub handlers into the io thread's handler map. Called by local-commands.ts
 * once its own handlers exist (the two modules import each other, so nothing here runs at
 * load time): PING in RESP2 subscribed mode answers ["pong", arg], and RESET drops every
 * subscription (clearClientConnectionState, without notifications), by wrapping theirs.
 */
export function registerPubsubCommands(handlers: Map<string, LocalHandler>): void {
  const def = (name: string, fn: LocalHandler): void => {
    handlers.set(name, fn);
  };
  def('subscribe', (srv, cl, c) => subscribeCommand(srv, cl, c, GLOBAL));
  def('ssubscribe', (srv, cl, c) => subscribeCommand(srv, cl, c, SHARD));
  def('unsubscribe', (_srv, cl, c) => unsubscribeCommand(cl, c, GLOBAL));
  def('sunsubscribe', (_srv, cl, c) => unsubscribeCommand(cl, c, SHARD));
  def('psubscribe', (srv, cl, c) => psubscribeCommand(srv, cl, c));
  def('punsubscribe', (_srv, cl, c) => punsubscribeCommand(cl, c));
  // The publisher's own pushes ride in its reply bytes, unless those are dropped (CLIENT
  // REPLY OFF): then they go the way pushes to other clients go.
  def('publish', (srv, cl, c) => {
    const self = cl.replyMode === REPLY_ON ? cl : null;
    c.w.integer(publish(srv, c.buf, c.argStart[1], c.argEnd[1], c.buf, c.argStart[2], c.argEnd[2], self, false));
  });
  def('spublish', (srv, cl, c) => {
    const self = cl.replyMode === REPLY_ON ? cl : null;
    c.w.integer(publish(srv, c.buf, c.argStart[1], c.argEnd[1], c.buf, c.argStart[2], c.argEnd[2], self, true));
  });
  def('pubsub', (_srv, _cl, c, spec) => pubsubCommand(c, spec));
  const basePing = handlers.get('ping');
  if (basePing !== undefined) {
    def('ping', (srv, cl, c, spec) => {
      if (cl.pubsub === null || !pubsubPing(cl, c)) basePing(srv, cl, c, spec);
    });
  }
  const baseReset = handlers.get('reset');
  if (baseReset !== undefined) {
    def('reset', (srv, cl, c, spec) => {
      pubsubUnsubscribeAll(srv, cl);
      baseReset(srv, cl, c, spec);
    });
  }
}
