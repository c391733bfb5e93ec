/**
 * Persistence commands Sabre enables: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE (src/server/durability.ts),
 * DUMP and RESTORE (handlers in src/commands/dump.ts,
 * value codec in src/persistence/rdb.ts). Neither has a getkeys proc in Redis 7.0.
 */
export const PERSISTENCE_COMMANDS: readonly string[] = ['dump', 'restore', 'save', 'bgsave', 'bgrewriteaof', 'lastsave'];
