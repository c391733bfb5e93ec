/**
 * Binds command handlers to command ids so a shard (or the io thread) runs a command
 * with one array lookup. Importing the command modules registers their handlers.
 */
import '../commands/strings';
import '../commands/keys';
import '../commands/expire';
import '../commands/hash';
import '../commands/list';
import '../commands/set';
import '../commands/zset';
import '../commands/blocking';
import '../commands/sort';
import { CommandHandler, ExecContext, handlers } from '../commands/context';
import { commandById } from '../commands/table';

export class Executor {
  readonly byId: (CommandHandler | null)[];

  constructor(readonly ctx: ExecContext) {
    this.byId = commandById().map((spec) => handlers.get(spec.parent ? spec.parent.name : spec.name) ?? null);
  }

  /** Run command `id` with the arguments already laid in ctx; false if no handler exists. */
  run(id: number): boolean {
    const h = this.byId[id];
    if (h === null) return false;
    this.ctx.blocked = false;
    h(this.ctx);
    return true;
  }
}
