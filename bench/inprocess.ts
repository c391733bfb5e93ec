/**
 * Per-command cost without sockets: parse one command and run it against an inline store,
 * in a loop. Shows what the data path costs, apart from the io thread's socket work.
 *
 *   npm run build && node dist/bench/inprocess.js [--n 2000000]
 */
import { Arena } from '../src/store/arena';
import { Keyspace } from '../src/store/keyspace';
import { Store, makeSlotTable } from '../src/store/store';
import { ExecContext } from '../src/commands/context';
import { ReplyWriter } from '../src/protocol/resp-writer';
import { Executor } from '../src/shard/executor';
import { lookupCommand } from '../src/commands/table';
import { RequestParser } from '../src/protocol/resp-parser';

const i = process.argv.indexOf('--n');
const N = i >= 0 ? Number(process.argv[i + 1]) : 2_000_000;

const ks = Keyspace.create(Arena.create(), 16);
const w = new ReplyWriter(1 << 16);
const ctx = new ExecContext(new Store([ks], makeSlotTable(1), ks), w);
const ex = new Executor(ctx);
const p = new RequestParser();

function bench(args: string[]): number {
  const buf = Buffer.from(`*${args.length}\r\n` + args.map((a) => `$${a.length}\r\n${a}\r\n`).join(''));
  const spec = lookupCommand(Buffer.from(args[0]), 0, args[0].length)!;
  let ns = 0;
  for (let round = 0; round < 3; round++) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < N; k++) {
      p.parse(buf, 0, buf.length);
      ctx.buf = p.buf;
      ctx.argStart = p.argStart;
      ctx.argEnd = p.argEnd;
      ctx.argc = p.argc;
      ctx.now = 1;
      w.reset();
      ex.run(spec.id);
    }
    ns = Number(process.hrtime.bigint() - t0) / N; // the last round, after warm-up
  }
  return ns;
}

console.log(`Command: node dist/bench/inprocess.js --n ${N}\n`);
console.log('| command | ns per command (parse + execute + reply) |');
console.log('|---|---:|');
for (const args of [
  ['SET', 'key:__rand_int__', 'xxx'], ['GET', 'key:__rand_int__'], ['INCR', 'counter:__rand_int__'],
  ['LPUSH', 'mylist', 'xxx'], ['LPOP', 'mylist'], ['SADD', 'myset', 'element:1'], ['HSET', 'myhash', 'f', 'v'],
  ['ZADD', 'myzset', '1', 'member'],
]) {
  console.log(`| ${args.join(' ')} | ${bench(args).toFixed(0)} |`);
}
