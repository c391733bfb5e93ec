import { defineConfig } from 'vitest/config';

// Tests start real servers (Sabre, redis-server) on free loopback ports. The
// machine has 2 cores, so at most two test files run at once.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    // forks: each file in its own process, so servers it spawned die with it
    // (parent-death signal, see test/helpers/servers.ts).
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
    watch: false,
  },
});
