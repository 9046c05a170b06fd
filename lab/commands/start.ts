// `npm start [-- --broker NAME] [--app ID] [--fanout] [--declarative | --streaming | --bulk] [--prod] [--instances N] [--tracing]`:
// the lab. Works out the run's plan, finds or builds the Dapr runtime, runs the doctor's
// checks, uses or starts the servers the run needs, then runs the apps with their
// sidecars. Ctrl+C stops the run, waits until every process of it has exited, then stops
// the servers this command started (those another run uses too are handed over to it:
// lab/run/servers.ts); a second Ctrl+C forces what is left.
import { BROKERS } from '../brokers.ts'
import { prepareRunFiles, tryPlan, withOwnPorts } from '../plan.ts'
import { releaseServers, takeServers } from '../run/servers.ts'
import { supervise, type Supervision } from '../run/supervise.ts'
import { ensureDaprRuntime } from '../services/dapr-runtime.ts'
import { say } from '../settings.ts'
import { checkBeforeStart } from './doctor.ts'

export async function start (argv: string[]): Promise<number> {
  const planned = tryPlan(argv)
  // A plan that cannot be made: the doctor's checks say why, better (file and line...).
  if ('error' in planned) {
    await checkBeforeStart(planned)
    return 1
  }
  const plan = await withOwnPorts(planned)
  for (const note of plan.notes) say(note)
  const runtime = await ensureDaprRuntime()
  if (!await checkBeforeStart(plan)) return 1

  let run: Supervision | undefined
  let interrupted = false
  // Ctrl+C while servers are still starting: stop after the current step, then clean up.
  const onSignal = () => {
    if (run) return run.interrupt()
    if (!interrupted) say('stopping once the current step is done...')
    interrupted = true
  }
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(name, onSignal)
  try {
    const announce = (name: string) => say(name === plan.broker ? `broker: ${plan.broker} (${plan.brokerFile})` : `${name === 'redis' ? 'state store' : 'traces'}: ${name}`)
    await takeServers(plan.services, plan.name, announce, () => interrupted)
    if (!interrupted) await BROKERS[plan.broker as keyof typeof BROKERS]?.prepareTopic?.(plan.topic)
    if (interrupted) return 130
    await prepareRunFiles(plan)
    run = supervise(plan, runtime.root)
    return await run.done
  } finally {
    await releaseServers(plan.name)
    for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(name, onSignal)
  }
}
