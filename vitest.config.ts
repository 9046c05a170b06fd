import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

// Five projects: `unit` is fast and in-process (app.inject); `deploy` renders and validates
// the Kubernetes manifests offline; `e2e` runs the real apps with real Dapr sidecars and
// real brokers, its files side by side; `e2e-alone` the end-to-end files that cannot share
// the machine, one at a time; `cluster` brings up a real single-node Kubernetes
// (npm run k8s) and runs the lab in it, beside the `e2e` files (the same groupOrder): it
// is mostly waiting on the cluster, and shares nothing with them (its own network
// namespace, Redis and Dapr). Within a group vitest starts the projects in name order, so
// the cluster file, the longest, starts first.
// The end-to-end files that must own something every run shares, and so run alone: the
// Redis restart (it stops the one Redis), the doctor (it lists every lab process on the
// machine, and expects none), `npm run stop` with no run named (it stops them all), and the
// test of a server shared by two runs (it watches Zipkin start and stop, which the tracing
// test and LAB.md's exercise 7 also start).
const ALONE = ['test/e2e/redis-restart.test.ts', 'test/e2e/doctor.test.ts', 'test/e2e/stop.test.ts', 'test/e2e/servers.test.ts']

// A worker per core for the end-to-end files, and one for the cluster file beside them.
const WORKERS = Math.max(1, availableParallelism()) + 1

const e2e = {
  include: ['test/e2e/**/*.test.ts'],
  globalSetup: ['test/e2e/global-setup.ts'],
  testTimeout: 180_000,
  hookTimeout: 60_000
}

export default defineConfig({
  test: {
    projects: [
      // A timeout guards against a hang, never measures speed: vitest's 5 s default failed
      // the 5,000 fuzzed deliveries on a machine busy with a build beside them.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 60_000 } },
      { test: { name: 'deploy', include: ['test/deploy/**/*.test.ts'] } },
      {
        test: {
          ...e2e,
          name: 'e2e',
          exclude: ALONE,
          // Each test's run is a named run (test/e2e/lab.ts: its own ports, folder and
          // logs), so files run side by side, as many at once as the machine has cores.
          fileParallelism: true,
          maxWorkers: WORKERS,
          sequence: { groupOrder: 1 }
        }
      },
      {
        test: {
          ...e2e,
          name: 'e2e-alone',
          include: ALONE,
          fileParallelism: false,
          sequence: { groupOrder: 2 }
        }
      },
      {
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          // vitest wants one worker count in a group.
          maxWorkers: WORKERS,
          testTimeout: 600_000,
          // `up` with nothing cached builds Kubernetes, Dapr's control plane and the images.
          hookTimeout: 3_600_000
        }
      }
    ]
  }
})
