import { defineConfig } from 'vitest/config'

// Four projects: `unit` is fast and in-process (app.inject); `deploy` renders and validates
// the Kubernetes manifests offline; `e2e` runs the real apps with real Dapr sidecars and
// real brokers, one test file at a time; `cluster` brings up a real single-node Kubernetes
// (npm run k8s) and runs the lab in it, after the others (groupOrder), so that its load
// never shares the machine with the timing of the end-to-end tests.
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
          // After unit and deploy, before cluster: vitest would otherwise run a project
          // without file parallelism last of all.
          sequence: { groupOrder: 1 },
          testTimeout: 180_000,
          hookTimeout: 60_000
        }
      },
      {
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          sequence: { groupOrder: 2 },
          testTimeout: 600_000,
          // `up` with nothing cached builds Kubernetes, Dapr's control plane and the images.
          hookTimeout: 3_600_000
        }
      }
    ]
  }
})
