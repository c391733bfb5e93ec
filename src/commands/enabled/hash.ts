/**
 * hash commands Sabre enables (Redis names, lowercase), and any getkeys procs they need.
 * A name is added here only once its handler works: until then the command answers
 * Redis's unknown-command error, as every command Sabre does not have.
 */
import type { GetKeysProc } from '../table';

export const HASH_COMMANDS: readonly string[] = [
  'hset', 'hsetnx', 'hget', 'hmget', 'hmset', 'hdel', 'hexists', 'hlen', 'hstrlen', 'hkeys', 'hvals', 'hgetall',
  'hincrby', 'hincrbyfloat', 'hrandfield', 'hscan',
];
export const HASH_GETKEYS: Record<string, GetKeysProc> = {};
