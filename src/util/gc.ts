/**
 * A full V8 collection on the calling thread, where the flag can be set at run time (Node
 * exposes gc() only with --expose-gc): MEMORY PURGE, and defrag after it released segments
 * (a SharedArrayBuffer is unmapped only once every thread's object for it is collected).
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

let gcFn: (() => void) | null | undefined;

export function fullGc(): void {
  if (gcFn === undefined) {
    gcFn = null;
    try {
      v8.setFlagsFromString('--expose-gc');
      gcFn = vm.runInNewContext('gc') as () => void;
    } catch {
      gcFn = null;
    }
  }
  if (gcFn !== null) gcFn();
}
