// `npm test [-- vitest arguments]`: sets up what the tests need (the Dapr runtime, every
// broker the end-to-end tests use, Zipkin's jar, Chromium for the live-view test),
// type-checks, then runs the unit, deploy and end-to-end tests, and last the cluster test
// (which brings up its own Kubernetes with `npm run k8s`). The servers it started
// are stopped again at the end, however it ends.
import { execa } from 'execa'
import { BROKERS, BROKER_NAMES } from '../brokers.ts'
import { whyNoCluster } from '../cluster/node.ts'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { isAlive, onPath } from '../processes.ts'
import { NAMED_RUNS, namedRunFolder, runStateFile } from '../run/place.ts'
import { releaseOrphans, releaseServers, takeServers } from '../run/servers.ts'
import { runState } from '../run/supervise.ts'
import { ensureDaprRuntime } from '../services/dapr-runtime.ts'
import { installPackage } from '../services/debian.ts'
import { installZipkin, zipkin } from '../services/zipkin.ts'
import { labRedisPid, redis } from '../services/redis.ts'
import { findDaprCli } from '../plan.ts'
import { LabError, REPO, say } from '../settings.ts'

/** The name `npm test`'s servers are written down under, as a run's are. */
const TEST_RUN = 'npm-test'

/** Runs `fn`; a LabError (it cannot be had here) becomes the reason, anything else is a bug. */
async function reasonIfNot (fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn()
    return undefined
  } catch (err) {
    if (err instanceof LabError) return err.message.split('\n')[0]
    throw err
  }
}

export async function test (argv: string[]): Promise<number> {
  const runtime = await ensureDaprRuntime()
  // What cannot be had here is skipped on a laptop (with the reason) and fails the run on
  // CI (CI=true), where everything is required (test/e2e/lab.ts, notOnThisMachine); the
  // Dapr CLI runner's tests are skipped wherever there is no CLI, CI included.
  const unavailable: string[] = []
  // Ctrl+C reaches vitest too; this process only has to live on long enough to clean up.
  const ignore = () => {}
  process.on('SIGINT', ignore)
  process.on('SIGTERM', ignore)
  try {
    // The servers of runs killed outright (or of an npm test that was).
    await releaseOrphans()
    // Taken as a run takes them (lab/run/servers.ts): one that a run going on uses when
    // this ends is handed over to it, not stopped under it.
    for (const name of BROKER_NAMES) {
      const why = await reasonIfNot(() => takeServers([BROKERS[name].service.name], TEST_RUN))
      if (why) { say(`${name} cannot start here: ${why}`); unavailable.push(`${name}: ${why}`) }
    }
    // The tracing test runs `npm start -- --tracing`, which starts a Zipkin of its own: its
    // jar is fetched now (once), so that a machine that cannot run it skips that test.
    if (!await zipkin.ping()) {
      const why = await reasonIfNot(installZipkin)
      if (why) { say(`zipkin cannot start here: ${why}`); unavailable.push(`zipkin: ${why}`) }
    } else {
      // The test of a server shared by two runs watches a Zipkin of theirs start and stop.
      unavailable.push(`zipkin-handover: a Zipkin answers on 127.0.0.1:${zipkin.port} already (dapr init starts one), so two runs cannot be seen sharing one they started`)
    }
    // The cluster test (test/cluster) brings up its own Kubernetes with `npm run k8s`.
    const noCluster = whyNoCluster()
    if (noCluster) { say(`the cluster test cannot run here: ${noCluster}`); unavailable.push(`cluster: ${noCluster}`) }
    // The live-view test drives Debian's Chromium with playwright-core, which brings no browser.
    if (!onPath('chromium')) {
      say('the live-view test needs Chromium: installing it (once, about a minute)...')
      const why = await reasonIfNot(() => installPackage('chromium', 'Chromium', "Chromium is not installed. Fix: 'sudo apt-get install chromium' (Debian/Ubuntu), then run this again."))
      if (why) { say(`chromium cannot be installed here: ${why}`); unavailable.push(`chromium: ${why}`) }
    }

    // The Redis restart test restarts only the Redis the project started.
    if (await labRedisPid() === undefined) unavailable.push(`redis-restart: the Redis on 127.0.0.1:${redis.port} was not started by the project, and restarting it is not a test's business`)
    if (!findDaprCli()) unavailable.push('cli: Dapr CLI runner: not tested (no CLI)')

    // What earlier tests left: their named runs (their logs), but for one still going on.
    for (const name of existsSync(NAMED_RUNS) ? readdirSync(NAMED_RUNS) : []) {
      const run = runState(runStateFile(name))
      if (!run || !isAlive(run.pid)) rmSync(namedRunFolder(name), { recursive: true, force: true })
    }

    say('type-checking (tsc --noEmit)...')
    const tsc = await execa('tsc', ['--noEmit'], { cwd: REPO, preferLocal: true, stdio: 'inherit', reject: false })
    if (tsc.exitCode !== 0) return tsc.exitCode ?? 1
    const vitest = await execa('vitest', ['run', ...argv], {
      cwd: REPO, preferLocal: true, stdio: 'inherit', reject: false, env: { LAB_UNAVAILABLE: unavailable.join('\n'), DAPR_RUNTIME_PATH: runtime.root }
    })
    // `cli: Dapr CLI runner: ...` reads as `Dapr CLI runner: ...`; the others keep their name.
    if (unavailable.length > 0) console.log(`Not tested on this machine:\n${unavailable.map((u) => `- ${u.replace(/^cli: /, '')}`).join('\n')}`)
    return vitest.exitCode ?? 1
  } finally {
    await releaseServers(TEST_RUN)
    process.off('SIGINT', ignore)
    process.off('SIGTERM', ignore)
  }
}
