// The lab tool: one entry for the npm scripts (`npm start`, `npm test`, `npm run stop`,
// `npm run doctor`, `npm run lab:check`, `npm run lab:crash`, `npm run k8s`, ...), started by
// lab/bootstrap.mjs once the npm dependencies are there.
import { LabError, say } from './settings.ts'

const commands: Record<string, () => Promise<{ default?: unknown } & Record<string, unknown>>> = {
  start: () => import('./commands/start.ts'),
  stop: () => import('./commands/stop.ts'),
  doctor: () => import('./commands/doctor.ts'),
  test: () => import('./commands/test.ts'),
  check: () => import('./commands/check.ts'),
  crash: () => import('./commands/crash.ts'),
  kustomize: () => import('./commands/kustomize.ts'),
  k8s: () => import('./commands/k8s.ts'),
  load: () => import('./commands/bench.ts'),
  bench: () => import('./commands/bench.ts')
}

// A reader that went away (a closed pipe on the console) must not end a run half-way.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})

const [name = '', ...args] = process.argv.slice(2)
const load = commands[name]
if (!load) {
  say(`unknown command "${name}"; one of: ${Object.keys(commands).join(', ')}`)
  process.exit(2)
}
try {
  const command = (await load())[name] as (argv: string[]) => Promise<number>
  process.exitCode = await command(args)
} catch (err) {
  if (!(err instanceof LabError)) throw err
  say(err.message)
  process.exitCode = 1
}
// Whatever a library left open (a socket, a timer), the command is over.
process.exit()
