/**
 * Two projects (docs/testing.md):
 * - unit: test/unit/, the small pure modules imported from src/ (vitest compiles them), no build,
 *   no server, no child process: `npm run test:unit`, the inner loop.
 * - integration: every other test/*.test.ts, with real SQLite files, HTTP servers, child processes
 *   and workers running dist/; test/support/build-check.ts first rebuilds dist/ when it is older than
 *   src/, so a test never runs a stale build.
 * `npm test` (and a plain `npx vitest run`) runs both.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**'],
          globalSetup: ['./test/support/build-check.ts'],
        },
      },
    ],
  },
});
