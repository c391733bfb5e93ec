/**
 * Blocking commands Sabre enables (handlers in src/commands/blocking.ts, server side in
 * src/server/blocking.ts). Their getkeys procs, where Redis has one, come with their type.
 */
export const BLOCKING_COMMANDS: readonly string[] = [
  'blpop', 'brpop', 'blmpop', 'blmove', 'brpoplpush', 'bzpopmin', 'bzpopmax', 'bzmpop',
];
