/**
 * list commands, with values stored in the shard arena (see native-layout/).
 * Handlers register with defineCommand() and are enabled in ./enabled/list.ts.
 */
export {};
