/**
 * set commands Sabre enables (Redis names, lowercase), and any getkeys procs they need.
 * A name is added here only once its handler works: until then the command answers
 * Redis's unknown-command error, as every command Sabre does not have.
 */
import type { GetKeysProc } from '../table';

export const SET_COMMANDS: readonly string[] = [];
export const SET_GETKEYS: Record<string, GetKeysProc> = {};
