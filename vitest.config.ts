import { defineConfig } from 'vitest/config'

// Three projects: `unit` is fast and in-process (app.inject); `deploy` renders and validates
// the Kubernetes manifests offline; `e2e` runs the real apps with real Dapr sidecars and
// real brokers, one test file at a time.
export default defineConfig({
  test: {
    projects: [
      // A timeout guards against a hang, never measures speed: vitest's 5 s default failed
      // the 5,000 fuzzed deliveries on a machine busy with a build beside them.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 60_000 } },
      { test: { name: 'deploy', include: ['test/deploy/**/*.test.ts'] } },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 60_000
        }
      }
    ]
  }
})
