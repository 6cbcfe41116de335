import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// Timing-sensitive suites, run alone after the parallel ones (see vitest.config.ts for the shared settings).
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' }, jsc: { target: 'es2023' } })],
  test: {
    include: ['test/serial/**/*.spec.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    setupFiles: ['test/support/setup.ts'],
  },
});
