/*
 * Micro-benchmark of the RESP codec on its own (no sockets):
 *   npx tsc -p tsconfig.json && node dist/bench/resp-codec.js
 * 1. parse a buffer of 100k pipelined "SET key:NNNN value" commands (RESP2 multibulk);
 * 2. encode 1M bulk replies, flushing (reset) every 64KB like a socket write would.
 */
import { PARSE_ERROR, PARSE_INCOMPLETE, RequestParser } from '../src/protocol/resp-parser';
import { ReplyWriter } from '../src/protocol/resp-writer';

const COMMANDS = 100_000;
const REPLIES = 1_000_000;
const ROUNDS = 5;

/* Sum over the commands of argc + key length, to check the parse loop's work. */
let expectedChecksum = 0;

function buildPipeline(): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < COMMANDS; i++) {
    const key = 'key:' + String(i).padStart(4, '0');
    expectedChecksum += 3 + key.length;
    parts.push(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$5\r\nvalue\r\n`);
  }
  return Buffer.from(parts.join(''), 'latin1');
}

function benchParse(data: Buffer): number {
  const parser = new RequestParser();
  let best = 0;
  let checksum = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = process.hrtime.bigint();
    let pos = 0;
    let count = 0;
    while (pos < data.length) {
      const next = parser.parse(data, pos, data.length);
      if (next === PARSE_INCOMPLETE || next === PARSE_ERROR) throw new Error(`parse failed at ${pos}: ${parser.error}`);
      // Touch the result like a dispatcher would: argc and the key's offsets.
      checksum += parser.argc + parser.argEnd[1] - parser.argStart[1];
      count++;
      pos = next;
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (count !== COMMANDS) throw new Error(`parsed ${count} commands`);
    best = Math.max(best, count / seconds);
  }
  if (checksum !== ROUNDS * expectedChecksum) throw new Error('bad checksum');
  return best;
}

function benchWrite(): { rate: number; bytes: number } {
  const writer = new ReplyWriter(64 * 1024);
  const value = Buffer.from('value-0123456789');
  let best = 0;
  let bytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    bytes = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < REPLIES; i++) {
      writer.bulk(value, 0, value.length);
      if (writer.len >= 64 * 1024) {
        bytes += writer.len;
        writer.reset();
      }
    }
    bytes += writer.len;
    writer.reset();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.max(best, REPLIES / seconds);
  }
  return { rate: best, bytes };
}

function main(): void {
  const data = buildPipeline();
  const parseRate = benchParse(data);
  const { rate: writeRate, bytes } = benchWrite();
  const fmt = (n: number) => (n / 1e6).toFixed(2) + 'M';
  console.log(`parse: ${COMMANDS} pipelined SET commands (${data.length} bytes), best of ${ROUNDS}: ${fmt(parseRate)} commands/s`);
  console.log(`write: ${REPLIES} bulk replies of 16 bytes (${bytes} bytes), best of ${ROUNDS}: ${fmt(writeRate)} replies/s`);
}

main();
