/** MULTI/EXEC/WATCH (handlers in src/server/multi.ts, run on the io thread). */
export const TRANSACTION_COMMANDS: readonly string[] = ['multi', 'exec', 'discard', 'watch', 'unwatch'];
