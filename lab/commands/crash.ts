// `npm run lab:crash [-- SECONDS]` (LAB.md, exercise 5): kills the running order-processor
// with SIGKILL, as a crash would, keeps it down for SECONDS (5 by default) while the
// checkout goes on publishing, then starts it again as the run started it (same command,
// folder, settings and sidecar ports), as Kubernetes would restart a crashed container.
// The restarted process prints here and to
// subscriber/.dapr/logs/order-processor-restarted_app_<time>.log (a named run's: under the
// folder its order-processor runs in, lab/run/place.ts); it stops when its sidecar does
// (Ctrl+C on npm start) or on Ctrl+C here.
import { createWriteStream, mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { portToPid } from 'pid-port'
import { crashKilledLine, crashRestartedLine } from '../../shared/log-lines.ts'
import { appEnvironment, readRunFile } from '../run-file.ts'
import { logDir, logFile } from '../run/logs.ts'
import { runState } from '../run/supervise.ts'
import { ProcessGroup } from '../run/group.ts'
import { descendantsOf, flagOf, isAlive, listProcesses } from '../processes.ts'
import { LabError } from '../settings.ts'
import { ORDER_PROCESSOR_PORT } from '../roster.ts'

const APP_ID = 'order-processor'

export async function crash (argv: string[]): Promise<number> {
  const seconds = Number(argv[0] ?? 5)
  if (!Number.isFinite(seconds) || seconds < 0) {
    console.error('usage: npm run lab:crash [-- SECONDS]   (how long the order-processor stays down; default 5)')
    return 2
  }
  const run = runState()
  if (!run || !isAlive(run.pid)) throw new LabError('No lab run is going on. Start the lab first (`npm start`), then run this while it publishes.')
  // How the run started the app: its entry of the run file, the run's settings, and the
  // variables the runner gives every app (its sidecar's ports).
  const spec = readRunFile(run.runFile)
  const app = spec.apps.find((a) => a.appID === APP_ID)
  const port = app?.appPort ?? ORDER_PROCESSOR_PORT
  const procs = descendantsOf(run.runnerPid, await listProcesses())
  const pid = await portToPid(port).catch(() => undefined)
  const sidecars = procs.filter((p) => /daprd/.test(p.name) && flagOf(p.cmd, '--app-id') === APP_ID)
  if (!app || pid === undefined || !procs.some((p) => p.pid === pid)) throw new LabError(`No order-processor of this run listens on port ${port}. Start the lab (\`npm start\`, not --instances), then run this while it publishes.`)
  if (sidecars.length !== 1) throw new LabError(`This exercise wants one order-processor; the run has ${sidecars.length} sidecars for it: \`npm run stop\`, then \`npm start\`.`)
  const sidecar = sidecars[0]!
  const appDir = resolve(dirname(run.runFile), app.appDirPath ?? '.')
  // The run's settings first (what npm start was given), then what the runner gives the app.
  const env = appEnvironment(spec, { ...app, appPort: port }, {
    http: flagOf(sidecar.cmd, '--dapr-http-port') ?? '3500',
    grpc: flagOf(sidecar.cmd, '--dapr-grpc-port') ?? '50001',
    metrics: flagOf(sidecar.cmd, '--metrics-port') ?? '9090'
  }, { ...process.env, ...run.env })

  process.kill(pid, 'SIGKILL')
  console.log(crashKilledLine(pid))
  await sleep(seconds * 1000)

  mkdirSync(logDir(appDir), { recursive: true })
  const logPath = logFile(appDir, `${APP_ID}-restarted`, 'app')
  const log = createWriteStream(logPath)
  const [command, ...args] = app.command!
  // In this command's group: Ctrl+C on it reaches the app too.
  const restarted = new ProcessGroup(command!, args, { cwd: appDir, env, group: false, keep: 0, onLine: (line) => { console.log(line); log.write(`${line}\n`) } })
  console.log(crashRestartedLine(restarted.pid, seconds, logPath))

  // Lives as long as the run: when the sidecar is gone (Ctrl+C on npm start), so is this.
  const stop = () => { if (restarted.exitCode === undefined) restarted.signal('SIGTERM') }
  for (const name of ['SIGINT', 'SIGTERM'] as const) process.on(name, stop)
  const watch = setInterval(() => { if (!isAlive(sidecar.pid)) stop() }, 500)
  const code = await restarted.exited
  clearInterval(watch)
  await restarted.settle()
  await restarted.closed
  log.end()
  return code === 0 || code === null ? 0 : code
}
