/**
 * MEMORY (Redis 7.0 object.c): USAGE runs where its key lives (src/commands/memory.ts);
 * STATS, DOCTOR, MALLOC-STATS, PURGE and HELP on the io thread (src/server/memory.ts).
 */
export const MEMORY_COMMANDS: readonly string[] = [
  'memory|doctor', 'memory|help', 'memory|malloc-stats', 'memory|purge', 'memory|stats', 'memory|usage',
];
