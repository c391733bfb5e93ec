/**
 * Client-side caching commands Sabre enables: the CLIENT subcommands of Redis 7.0's tracking
 * (handlers in src/server/tracking.ts, dispatched by local-commands.ts's CLIENT).
 */
export const TRACKING_COMMANDS: readonly string[] = [
  'client|tracking', 'client|caching', 'client|getredir', 'client|trackinginfo',
];
