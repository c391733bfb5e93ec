// Static proof that an EVAL script, or a FUNCTION LOAD library, touches only its declared keys.
//
// Each shard runs its own Lua VM. A script may run inside one shard's VM, without
// parking the others, only if every key it hands to redis.call/redis.pcall is an
// element of KEYS (the io thread has checked that all declared keys live on that
// shard). This module proves that from the script text, conservatively: "true" for a
// script that could reach an undeclared key is a bug; "false" for a safe script only
// costs the slow path (all shards parked). A runtime check on the shard backs it up
// against pathological Lua (multiple assignment to KEYS[i] and the like).
//
// The approach: tokenize with Lua 5.4's lexical rules (a script that fails to compile
// never runs, so only valid Lua needs an exact reading), then check token patterns:
// `redis` is only ever used as `redis.name` and `redis.call`/`redis.pcall` only as direct
// calls; nothing reaches the globals table or a loader; the KEYS table never escapes or
// is assigned; and for each call, the command's key positions (index/range key specs
// only, so they depend on argc alone) all hold `KEYS[...]` expressions.
//
// A library (Redis 7 functions) gets the same check with each callback's first parameter
// in the role of KEYS. That parameter is a local, so on top of the EVAL rules: callbacks
// must be inline function literals given straight to redis.register_function (nothing
// else can call them with another table), every callback names it alike, and it is only
// read in the callback's own body, never in a nested closure (which could outlive the
// call, kept in a library-level upvalue, and run under a later FCALL with other keys).
import {
  lookupCommand, lookupSubcommand, getKeyPositions, commandHasKeys, type CommandSpec,
  BS_INDEX, FK_RANGE, CMD_MOVABLE_KEYS, CMD_KEY_INCOMPLETE,
} from '../commands/table';

const NAME = 0;
const STRING = 1;
const NUMBER = 2;
const PUNCT = 3;

interface Token {
  kind: number;
  text: string; // names and punctuation; '' for strings and numbers
  value: Uint8Array | null; // decoded bytes of a string
}

// ---------------------------------------------------------------- tokenizer

const PUNCT3 = ['...'];
const PUNCT2 = ['==', '~=', '<=', '>=', '..', '::', '//', '<<', '>>'];
const PUNCT1 = '+-*/%^#&~|<>=(){}[];:,.';

const ascii = new TextDecoder('latin1');
const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
const isAlpha = (c: number) => ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x5f;
const isAlnum = (c: number) => isAlpha(c) || isDigit(c);

/** Level of a long bracket `[==[` at i; -1 if it is not one, -2 if malformed (`[=` alone). */
function longBracketLevel(src: Uint8Array, i: number): number {
  if (src[i] !== 0x5b) return -1;
  let j = i + 1;
  while (j < src.length && src[j] === 0x3d) j++;
  if (src[j] === 0x5b) return j - i - 1;
  return j > i + 1 ? -2 : -1;
}

/** End (exclusive) of the closing `]==]` of a long bracket whose content starts at i, or -1. */
function longBracketEnd(src: Uint8Array, i: number, level: number): number {
  for (let j = i; j < src.length; j++) {
    if (src[j] !== 0x5d) continue;
    let k = j + 1;
    while (k < src.length && src[k] === 0x3d && k - j - 1 < level) k++;
    if (k - j - 1 === level && src[k] === 0x5d) return k + 1;
  }
  return -1;
}

/** Decodes a quoted string starting at its quote; [value, end] or null when invalid. */
function readQuoted(src: Uint8Array, start: number): [Uint8Array, number] | null {
  const quote = src[start];
  const out: number[] = [];
  let i = start + 1;
  for (;;) {
    if (i >= src.length) return null;
    const c = src[i++];
    if (c === quote) return [Uint8Array.from(out), i];
    if (c === 0x0a || c === 0x0d) return null;
    if (c !== 0x5c) { out.push(c); continue; }
    if (i >= src.length) return null;
    const e = src[i++];
    const simple = 'abfnrtv'.indexOf(String.fromCharCode(e));
    if (simple >= 0) out.push([7, 8, 12, 10, 13, 9, 11][simple]);
    else if (e === 0x5c || e === 0x22 || e === 0x27) out.push(e);
    else if (e === 0x0a || e === 0x0d) { // escaped line break (\r\n and \n\r count once)
      if ((src[i] === 0x0a || src[i] === 0x0d) && src[i] !== e) i++;
      out.push(10);
    } else if (e === 0x78) { // \xXX
      if (!isHex(src[i]) || !isHex(src[i + 1])) return null;
      out.push(parseInt(String.fromCharCode(src[i], src[i + 1]), 16));
      i += 2;
    } else if (e === 0x7a) { // \z skips following whitespace
      while (i < src.length && isSpace(src[i])) i++;
    } else if (isDigit(e)) { // \ddd
      let v = e - 0x30;
      for (let k = 0; k < 2 && isDigit(src[i]); k++) v = v * 10 + src[i++] - 0x30;
      if (v > 255) return null;
      out.push(v);
    } else if (e === 0x75 && src[i] === 0x7b) { // \u{XXX}: only ASCII matters for command names
      let j = i + 1;
      let v = 0;
      while (j < src.length && isHex(src[j]) && v < 0x80000000) v = v * 16 + parseInt(String.fromCharCode(src[j++]), 16);
      if (j === i + 1 || src[j] !== 0x7d || v >= 0x80000000) return null;
      out.push(v < 0x80 ? v : 0x80); // non-ASCII stands in as a byte no command name has
      i = j + 1;
    } else {
      return null;
    }
  }
}

/** Lua 5.4's lexer, minus what this analysis does not need; null on anything invalid. */
function tokenize(src: Uint8Array): Token[] | null {
  const toks: Token[] = [];
  const n = src.length;
  let i = 0;
  if (src[0] === 0x23 && src[1] === 0x21) while (i < n && src[i] !== 0x0a) i++; // #! shebang
  while (i < n) {
    const c = src[i];
    if (isSpace(c)) { i++; continue; }
    if (c === 0x2d && src[i + 1] === 0x2d) { // comment
      i += 2;
      const level = longBracketLevel(src, i);
      if (level >= 0) {
        i = longBracketEnd(src, i + level + 2, level);
        if (i < 0) return null;
      } else {
        while (i < n && src[i] !== 0x0a && src[i] !== 0x0d) i++;
      }
      continue;
    }
    if (c === 0x5b) { // long string or '['
      const level = longBracketLevel(src, i);
      if (level === -2) return null;
      if (level >= 0) {
        let s = i + level + 2;
        const end = longBracketEnd(src, s, level);
        if (end < 0) return null;
        if (src[s] === 0x0d || src[s] === 0x0a) s += (src[s + 1] === 0x0d || src[s + 1] === 0x0a) && src[s + 1] !== src[s] ? 2 : 1;
        toks.push({ kind: STRING, text: '', value: src.slice(s, end - level - 2) });
        i = end;
        continue;
      }
    }
    if (c === 0x22 || c === 0x27) {
      const r = readQuoted(src, i);
      if (r === null) return null;
      toks.push({ kind: STRING, text: '', value: r[0] });
      i = r[1];
      continue;
    }
    if (isDigit(c) || (c === 0x2e && isDigit(src[i + 1]))) { // numeral: read greedily, as llex.c
      const expo = c === 0x30 && (src[i + 1] | 0x20) === 0x78 ? 0x70 : 0x65;
      if (expo === 0x70) i += 2;
      while (i < n) {
        if ((src[i] | 0x20) === expo) { i++; if (src[i] === 0x2b || src[i] === 0x2d) i++; }
        else if (isHex(src[i]) || src[i] === 0x2e) i++;
        else break;
      }
      if (i < n && isAlpha(src[i])) return null; // "3x": malformed number
      toks.push({ kind: NUMBER, text: '', value: null });
      continue;
    }
    if (isAlpha(c)) {
      const s = i;
      while (i < n && isAlnum(src[i])) i++;
      toks.push({ kind: NAME, text: ascii.decode(src.subarray(s, i)), value: null });
      continue;
    }
    const rest = String.fromCharCode(c, src[i + 1] ?? 0, src[i + 2] ?? 0);
    const p = PUNCT3.find((x) => rest.startsWith(x)) ?? PUNCT2.find((x) => rest.startsWith(x)) ??
      (PUNCT1.includes(rest[0]) ? rest[0] : undefined);
    if (p === undefined) return null;
    toks.push({ kind: PUNCT, text: p, value: null });
    i += p.length;
  }
  return toks;
}

// ---------------------------------------------------------------- analysis

/** Names that reach the globals table, a loader, or metatables: any bare use is refused. */
const FORBIDDEN = new Set([
  '_G', '_ENV', 'loadstring', 'load', 'dofile', 'loadfile', 'getfenv', 'setfenv', 'rawget', 'rawset',
  'require', 'debug', 'setmetatable', 'getmetatable', 'package',
]);
/** Library names we rely on (unpack(KEYS) must be the real unpack). */
const TRUSTED_CALLEES = ['unpack', 'ipairs', 'pairs', 'table'];
/** Keyless commands that need no shard. */
const KEYLESS_OK = new Set(['ping', 'echo', 'time', 'select']);
/** Commands that reach keys or shards beyond their key specs. */
const NEVER_LOCAL = new Set(['publish', 'spublish', 'sort', 'sort_ro']);
const OPERATORS = new Set([
  '+', '-', '*', '/', '//', '%', '^', '#', '&', '~', '|', '<<', '>>', '..', '==', '~=', '<', '<=', '>', '>=',
  'and', 'or', 'not',
]);
const KEYWORDS = new Set([
  'and', 'break', 'do', 'else', 'elseif', 'end', 'false', 'for', 'function', 'goto', 'if', 'in', 'local',
  'nil', 'not', 'or', 'repeat', 'return', 'then', 'true', 'until', 'while',
]);
/** argc values tried past the last argument when it may expand to several values. */
const EXPANSION_WINDOW = 8;

class Script {
  readonly match: Int32Array; // index of the matching bracket for each ( [ { ) ] }
  readonly trusted = new Set<string>();
  /** The name holding the declared keys: the KEYS global, or a library's callback parameter ('' for none). */
  keysName = 'KEYS';

  constructor(readonly toks: Token[]) {
    this.match = new Int32Array(toks.length).fill(-1);
  }

  /** Hook run once brackets are paired; false when the text is not understood. */
  prepare(): boolean { return true; }

  /** May the keys name appear at token i (a bare use)? */
  keysOccurrenceOk(i: number): boolean { return this.keysUseOk(i); }

  /** May the redis.call/pcall whose `redis` is token i run at all where it stands? */
  callSiteOk(_i: number): boolean { return true; }

  /** Pairs brackets; false when unbalanced (such a script does not compile). */
  pairBrackets(): boolean {
    const stack: number[] = [];
    for (let i = 0; i < this.toks.length; i++) {
      const t = this.toks[i].kind === PUNCT ? this.toks[i].text : '';
      if (t === '(' || t === '[' || t === '{') stack.push(i);
      else if (t === ')' || t === ']' || t === '}') {
        const o = stack.pop();
        if (o === undefined || '([{'.indexOf(this.toks[o].text) !== ')]}'.indexOf(t)) return false;
        this.match[o] = i;
        this.match[i] = o;
      }
    }
    return stack.length === 0;
  }

  is(i: number, kind: number, text: string): boolean {
    const t = this.toks[i];
    return t !== undefined && t.kind === kind && t.text === text;
  }
  punct(i: number, text: string): boolean { return this.is(i, PUNCT, text); }
  name(i: number, text: string): boolean { return this.is(i, NAME, text); }
  /** A variable reference, not a field (`x.name`, `x:name`). */
  bare(i: number, text: string): boolean { return this.name(i, text) && !this.punct(i - 1, '.') && !this.punct(i - 1, ':'); }
  opensBracket(i: number): boolean { return this.toks[i].kind === PUNCT && '([{'.includes(this.toks[i].text); }

  /** A library name is trusted when every bare use is a plain use (`unpack(`, `table.x`), never a binding. */
  findTrusted(): void {
    for (const lib of TRUSTED_CALLEES) {
      let ok = true;
      for (let i = 0; i < this.toks.length && ok; i++) {
        if (!this.bare(i, lib)) continue;
        if (this.name(i - 1, 'function')) ok = false;
        else if (lib === 'table') ok = this.punct(i + 1, '.') && this.toks[i + 2]?.kind === NAME && !this.punct(i + 3, '=');
        else ok = this.punct(i + 1, '(');
      }
      if (ok) this.trusted.add(lib);
    }
  }

  /** The callee ending just before the '(' at open: 'unpack', 'table.concat', ... or '' when not a trusted library function. */
  trustedCallee(open: number): string {
    const f = this.toks[open - 1];
    if (f === undefined || f.kind !== NAME) return '';
    if (this.bare(open - 1, f.text)) return this.trusted.has(f.text) ? f.text : '';
    if (this.punct(open - 2, '.') && this.bare(open - 3, 'table') && this.trusted.has('table')) return 'table.' + f.text;
    return '';
  }

  /** Rule for the keys table (KEYS): only read as KEYS[i] (never assigned), #KEYS, or handed to unpack/ipairs/pairs/getn/concat. */
  keysUseOk(i: number): boolean {
    if (this.punct(i + 1, '[')) return !this.punct(this.match[i + 1] + 1, '=');
    if (this.punct(i - 1, '#')) return true;
    if (!this.punct(i - 1, '(')) return false;
    const callee = this.trustedCallee(i - 1);
    if (callee === 'table.concat') return this.punct(i + 1, ')') || this.punct(i + 1, ',');
    if (callee === 'unpack' || callee === 'table.unpack' || callee === 'table.getn') return this.punct(i + 1, ')');
    // for _, k in ipairs(KEYS) do: pairs/ipairs results must not be bound to names (they include KEYS itself)
    if (callee === 'ipairs' || callee === 'pairs') return this.name(i - 3, 'in') && this.punct(i + 1, ')') && this.name(i + 2, 'do');
    return false;
  }

  /** Is tokens [a, b) exactly `KEYS[...]`? */
  isKeysElement(a: number, b: number): boolean {
    return b - a >= 3 && this.bare(a, this.keysName) && this.punct(a + 1, '[') && this.match[a + 1] === b - 1;
  }

  /** Is tokens [a, b) exactly `unpack(KEYS)` or `table.unpack(KEYS)`? */
  isUnpackKeys(a: number, b: number): boolean {
    const c = this.trustedCallee(b - 3);
    return this.punct(b - 3, '(') && this.bare(b - 2, this.keysName) && this.punct(b - 1, ')') &&
      ((c === 'unpack' && a === b - 4) || (c === 'table.unpack' && a === b - 6));
  }

  /** Does expression [a, b) provably yield exactly one value (not a call, not `...`)? */
  singleValued(a: number, b: number): boolean {
    const first = this.toks[a];
    if (b - a === 1) return first.kind !== PUNCT;
    if (this.punct(a, '(') && this.match[a] === b - 1) return true;
    for (let i = a; i < b; i++) { // an operator at top level: the value is the operator's result
      const t = this.toks[i];
      if (this.opensBracket(i)) i = this.match[i];
      else if ((t.kind === PUNCT || t.kind === NAME) && OPERATORS.has(t.text)) return true;
    }
    if (first.kind !== NAME || KEYWORDS.has(first.text)) return false;
    for (let i = a + 1; i < b;) { // name.field[index]... without a call
      if (this.punct(i, '.') && this.toks[i + 1]?.kind === NAME && i + 1 < b) i += 2;
      else if (this.punct(i, '[')) i = this.match[i] + 1;
      else return false;
    }
    return true;
  }

  /** Checks the redis.call/pcall whose '(' is at open. */
  callIsLocal(open: number): boolean {
    const close = this.match[open];
    const starts: number[] = []; // argument k is tokens [starts[k], ends[k])
    const ends: number[] = [];
    let start = open + 1;
    for (let i = open + 1; i < close; i++) {
      if (this.opensBracket(i)) i = this.match[i];
      else if (this.name(i, 'function')) return false; // a function body's commas would confuse the split (and a function is no valid argument)
      else if (this.punct(i, ',')) { if (i === start) return false; starts.push(start); ends.push(i); start = i + 1; }
    }
    if (start === close) return false; // no arguments, or a trailing comma
    starts.push(start);
    ends.push(close);
    const argCount = starts.length;

    const single = (k: number) => ends[k] - starts[k] === 1 ? this.toks[starts[k]] : undefined;
    const nameTok = single(0);
    if (nameTok?.kind !== STRING) return false;
    let spec: CommandSpec | undefined = lookupCommand(nameTok.value!, 0, nameTok.value!.length);
    if (spec === undefined) return false;
    if (spec.subcommands !== null) {
      const subTok = argCount > 1 ? single(1) : undefined;
      if (subTok?.kind !== STRING) return false;
      spec = lookupSubcommand(spec, subTok.value!, 0, subTok.value!.length);
      if (spec === undefined) return false;
    }
    if (NEVER_LOCAL.has(spec.name)) return false;
    if (!commandHasKeys(spec)) return KEYLESS_OK.has(spec.name);
    // Key positions must follow from argc alone. SET's getkeys proc only refines key flags.
    if ((spec.flags & CMD_MOVABLE_KEYS) || (spec.getKeysProc !== null && spec.name !== 'set')) return false;
    for (const ks of spec.keySpecs) {
      if (ks.bsType !== BS_INDEX || ks.fkType !== FK_RANGE || (ks.flags & CMD_KEY_INCOMPLETE)) return false;
      // Keep the expansion window meaningful: ranges that grow with argc one key per step or two.
      if (ks.limit !== 0 || ks.keyStep > 2 || ks.lastKey < -2) return false;
    }

    const last = argCount - 1;
    const fixed = this.singleValued(starts[last], ends[last]);
    const tailIsKeys = !fixed && this.isUnpackKeys(starts[last], ends[last]);
    const lo = fixed ? argCount : last;
    const hi = fixed ? argCount : last + EXPANSION_WINDOW;
    const out = new Int32Array(hi + 1);
    const as = new Int32Array(hi + 1);
    const ae = new Int32Array(hi + 1);
    const dummy = new Uint8Array(hi + 1).fill(0x78); // argv of one-byte args "x"
    for (let j = 0; j <= hi; j++) { as[j] = j; ae[j] = j + 1; }
    let validArgc = false;
    for (let argc = lo; argc <= hi; argc++) {
      const n = getKeyPositions(spec, argc, dummy, as, ae, out);
      if (n < 0) continue; // not a valid argc for this command
      validArgc = true;
      for (let k = 0; k < n; k++) {
        const p = out[k];
        if (fixed && p >= argCount) return false;
        if (!fixed && p >= last) {
          if (tailIsKeys) continue;
          return false;
        }
        if (!this.isKeysElement(starts[p], ends[p])) return false;
      }
    }
    return validArgc;
  }

  isShardLocal(): boolean {
    if (!this.pairBrackets() || !this.prepare()) return false;
    this.findTrusted();
    const toks = this.toks;
    for (let i = 0; i < toks.length; i++) {
      const t = toks[i];
      if (t.kind !== NAME) continue;
      if (FORBIDDEN.has(t.text) && this.bare(i, t.text)) return false;
      if (t.text === this.keysName && this.bare(i, t.text) && !this.keysOccurrenceOk(i)) return false;
      if (t.text !== 'redis') continue;
      if (this.name(i - 1, 'function') || !this.punct(i + 1, '.') || toks[i + 2]?.kind !== NAME) return false;
      const member = toks[i + 2].text;
      if (member !== 'call' && member !== 'pcall') continue;
      if (!this.punct(i + 3, '(') || !this.callSiteOk(i) || !this.callIsLocal(i + 3)) return false;
    }
    return true;
  }
}

/** Library fields redis.register_function{...} accepts, each at most once. */
const REGISTER_FIELDS = new Set(['function_name', 'callback', 'flags', 'description']);

/** A FUNCTION LOAD library: the EVAL rules, with the callbacks' first parameter as the keys table. */
class Library extends Script {
  readonly blockEnd: Int32Array; // the `end` of each function/if/do keyword
  readonly owner: Int32Array; // the `function` token of the innermost function around each token, or -1
  readonly inCallback: Int32Array; // how many callback bodies enclose each token
  readonly keysCallback: Uint8Array; // 1 at the `function` token of each callback that has a keys parameter
  readonly declSites = new Set<number>(); // the callbacks' keys parameter tokens

  constructor(toks: Token[]) {
    super(toks);
    this.keysName = ''; // until a callback names it
    this.blockEnd = new Int32Array(toks.length).fill(-1);
    this.owner = new Int32Array(toks.length).fill(-1);
    this.inCallback = new Int32Array(toks.length + 1);
    this.keysCallback = new Uint8Array(toks.length);
  }

  /** Pairs function/if/do with their `end` (exact for valid Lua: repeat closes with until, while/for open with do). */
  pairBlocks(): boolean {
    const blocks: number[] = [];
    const fns: number[] = [];
    for (let i = 0; i < this.toks.length; i++) {
      const t = this.toks[i];
      if (t.kind !== NAME) { this.owner[i] = fns.length ? fns[fns.length - 1] : -1; continue; }
      if (t.text === 'function' || t.text === 'if' || t.text === 'do') blocks.push(i);
      if (t.text === 'function') fns.push(i);
      this.owner[i] = fns.length ? fns[fns.length - 1] : -1;
      if (t.text !== 'end') continue;
      const o = blocks.pop();
      if (o === undefined) return false;
      this.blockEnd[o] = i;
      if (this.toks[o].text === 'function') fns.pop();
    }
    return blocks.length === 0;
  }

  override prepare(): boolean {
    if (!this.pairBlocks()) return false;
    const toks = this.toks;
    const callbacks: number[] = [];
    for (let i = 0; i < toks.length; i++) {
      if (toks[i].kind !== NAME) continue;
      if (toks[i].text === 'KEYS') return false; // a nil global in a function: not the keys
      if (toks[i].text !== 'register_function') continue;
      if (!this.bare(i - 2, 'redis') || !this.punct(i - 1, '.')) return false;
      const fn = this.registeredCallback(i + 1);
      if (fn < 0) return false;
      callbacks.push(fn);
    }
    if (callbacks.length === 0) return false; // FUNCTION LOAD refuses such a library anyway
    const diff = this.inCallback; // difference array first, then running sums
    for (const fn of callbacks) {
      if (!this.callbackParams(fn)) return false;
      diff[fn]++;
      diff[this.blockEnd[fn] + 1]--;
    }
    for (let i = 1; i < diff.length; i++) diff[i] += diff[i - 1];
    return true;
  }

  /** The `function` token of the callback in the registration whose `(` or `{` is at open; -1 for any other form. */
  registeredCallback(open: number): number {
    if (this.punct(open, '(')) { // redis.register_function('name', function(...) ... end)
      const fn = open + 3;
      const ok = this.toks[open + 1]?.kind === STRING && this.punct(open + 2, ',') && this.name(fn, 'function') &&
        this.blockEnd[fn] === this.match[open] - 1;
      return ok ? fn : -1;
    }
    if (!this.punct(open, '{')) return -1;
    // redis.register_function{function_name='name', callback=function(...) ... end, flags={...}, description='...'}
    const close = this.match[open];
    const seen = new Set<string>();
    let fn = -1;
    let start = open + 1;
    for (let i = start; i <= close; i++) {
      if (i < close && this.opensBracket(i)) { i = this.match[i]; continue; }
      if (i < close && this.name(i, 'function')) { i = this.blockEnd[i]; if (i < 0) return -1; continue; }
      if (i < close && !this.punct(i, ',') && !this.punct(i, ';')) continue;
      if (i === start) { // empty field: only a trailing separator
        if (i === close && i > open + 1) break;
        return -1;
      }
      const field = this.toks[start];
      if (field.kind !== NAME || !this.punct(start + 1, '=') || !REGISTER_FIELDS.has(field.text) || seen.has(field.text)) return -1;
      seen.add(field.text);
      const v = start + 2; // the value is tokens [v, i)
      if (v >= i) return -1;
      if (field.text === 'function_name' && (i - v !== 1 || this.toks[v].kind !== STRING)) return -1;
      if (field.text === 'callback') {
        if (!this.name(v, 'function') || this.blockEnd[v] !== i - 1) return -1;
        fn = v;
      }
      start = i + 1;
    }
    return seen.has('function_name') ? fn : -1;
  }

  /** Checks the callback's parameter list: (), (K) or (K, A), with one K for all callbacks. */
  callbackParams(fn: number): boolean {
    if (!this.punct(fn + 1, '(')) return false;
    const n = this.match[fn + 1] - fn - 2; // tokens between the parentheses
    if (n === 0) return true;
    const k = this.toks[fn + 2];
    if ((n !== 1 && n !== 3) || k.kind !== NAME || KEYWORDS.has(k.text)) return false;
    if (n === 3) {
      const a = this.toks[fn + 4];
      if (!this.punct(fn + 3, ',') || a.kind !== NAME || KEYWORDS.has(a.text) || a.text === k.text) return false;
    }
    if (this.keysName !== '' && this.keysName !== k.text) return false;
    this.keysName = k.text;
    this.keysCallback[fn] = 1;
    this.declSites.add(fn + 2);
    return true;
  }

  /** Only the declaration itself, and the EVAL uses of KEYS directly in a callback's own body. */
  override keysOccurrenceOk(i: number): boolean {
    if (this.declSites.has(i)) return true;
    const fn = this.owner[i];
    return fn >= 0 && this.keysCallback[fn] === 1 && this.keysUseOk(i);
  }

  /** redis.call at load time is refused by Redis, and helpers outside the callbacks are not followed. */
  override callSiteOk(i: number): boolean { return this.inCallback[i] > 0; }
}

/** True when every key argument of every redis.call/pcall in the script is provably a declared key (KEYS[..]) and every command it names is safe to run on one shard. */
export function scriptIsShardLocal(body: Uint8Array): boolean {
  try {
    const toks = tokenize(body);
    return toks !== null && new Script(toks).isShardLocal();
  } catch {
    return false; // e.g. out of memory on a pathological script: take the slow path
  }
}


/**
 * True when every function the library registers hands redis.call/pcall only elements of its
 * keys parameter, and names only commands safe on one shard (the same rules as scriptIsShardLocal,
 * with the callback's first parameter in the role of KEYS). Per library, all or nothing.
 */
export function libraryIsShardLocal(code: Uint8Array): boolean {
  try {
    if (code[0] !== 0x23 || code[1] !== 0x21) return false; // FUNCTION LOAD requires the #!lua name=... line
    const toks = tokenize(code);
    return toks !== null && new Library(toks).isShardLocal();
  } catch {
    return false;
  }
}
