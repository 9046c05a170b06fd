import { afterAll, expect, it } from 'vitest'
import { Lab, eachRunner, expectEachOnce, killHard, portIsFree, runTracked, uniqueTopic, until } from './lab.ts'
import { flagOf } from '../../lab/processes.ts'
import { allAcceptedLine, appPrefix, receivedOrderId } from '../../shared/log-lines.ts'

eachRunner('npm start (runner: %s): the lab on real sidecars and a real Redis', (runner) => {
  // A topic of its own: orders left in Redis by earlier runs cannot reach this one.
  const topic = uniqueTopic()
  let lab: Lab | undefined

  afterAll(() => lab?.dispose())

  it('delivers orderId 1..19 exactly once each, then Ctrl+C (pressed twice) leaves no process and frees the app port', async () => {
    lab = new Lab(topic, { PUBLISH_INTERVAL_MS: '50', LAB_RUNNER: runner })
    const port = await lab.appPort()

    await lab.until('19 distinct orders at the order-processor', () => new Set(lab!.received()).size === 19, 150_000)
    await lab.until('the checkout to report all orders accepted', () => lab!.output.includes(allAcceptedLine(19)), 30_000)

    // The order-processor's Prometheus counters agree with what the run sent.
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1])
    expect(value('orders_received_total'), metrics).toBe(19)
    expect(value('orders_processed_total')).toBe(19)
    expect(value('order_handler_seconds_count{status="SUCCESS"}')).toBe(19)
    for (const name of ['duplicates', 'retried', 'dropped', 'dead_lettered']) expect(value(`orders_${name}_total`), name).toBe(0)
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(0)
    // The sidecar's own metrics, on the port the runner prints: 19 orders delivered to the app.
    const sidecarMetricsPort = flagOf((await lab.find('daprd', '--app-id order-processor')).cmd, '--metrics-port')
    const sidecar = await (await fetch(`http://127.0.0.1:${sidecarMetricsPort}/metrics`)).text()
    const delivered = [...sidecar.matchAll(/^dapr_component_pubsub_ingress_count\{[^}]*process_status="success"[^}]*topic="([^"]+)"[^}]*\} (\S+)$/gm)]
    expect(delivered.filter(([, t]) => t === topic).map(([, , n]) => Number(n)), sidecar.slice(0, 2000)).toEqual([19])

    // Twice, as impatient people do: the second press must not cut the shutdown short.
    await lab.stop({ presses: 2 })
    expectEachOnce(lab.received(), lab.output)
    expect(lab.output).toMatch(/Published data: \{"orderId":1,"customerName":"Customer 1","amount":10,"status":"Pending"\}/)
    expect(lab.output).toMatch(/Subscriber received: orderId=19, customerName=Customer 19, amount=190, status=Pending/)

    expect(await lab.processes()).toEqual([])
    expect(await portIsFree(port)).toBe(true)
  })

  it('npm start -- --prod: the compiled apps on plain node, without the TypeScript loader, log JSON lines and deliver orderId 1..19 exactly once', async () => {
    const prod = new Lab(uniqueTopic(), { PUBLISH_INTERVAL_MS: '20', LAB_RUNNER: runner }, ['--prod'])
    try {
      await prod.until('19 distinct orders at the order-processor', () => new Set(prod.received()).size === 19, 150_000)
      // The checkout may have exited by now; the order-processor runs on.
      expect((await prod.find('.dapr/build/subscriber/src/server.js')).cmd).toMatch(/^node \S+\/\.dapr\/build\/subscriber\/src\/server\.js$/)
      const received = prod.lines.filter((l) => l.startsWith(appPrefix('order-processor')) && receivedOrderId(l) !== undefined)
      for (const line of received) expect(JSON.parse(line.slice(appPrefix('order-processor').length)), line).toMatchObject({ name: 'order-processor', level: 30 })
      await prod.stop()
      expectEachOnce(prod.received(), prod.output)
    } finally {
      await prod.dispose()
    }
  })

  it('npm start killed outright (SIGKILL, no clean-up of its own): LAB_RUN=<its name> npm run stop stops all it left, and no other run', async () => {
    const killed = new Lab(uniqueTopic(), { PUBLISH_INTERVAL_MS: '200', LAB_RUNNER: runner })
    // Still publishing when the killed run has been stopped (19 orders would be done by then).
    const other = new Lab(uniqueTopic(), { ORDER_COUNT: '1000', PUBLISH_INTERVAL_MS: '200', LAB_RUNNER: runner })
    try {
      await killed.until('the first orders', () => killed.received().length >= 2)
      await other.until('the first orders of the other run', () => other.received().length >= 2)
      const port = await killed.appPort()
      await killHard((await killed.find('node lab/bootstrap.mjs start')).pid)
      expect((await killed.processes()).some((p) => p.cmd.includes('daprd')), 'the sidecars outlive a killed npm start').toBe(true)
      const stop = await runTracked('npm', ['run', 'stop'], { env: { ...process.env, LAB_RUNNER: runner, LAB_RUN: killed.run } })
      expect(stop.status, stop.stdout + stop.stderr).toBe(0)
      await until('every process of the killed run to be gone', async () => (await killed.processes()).filter((p) => p.pid !== killed.child.pid).length === 0, 30_000)
      expect(await portIsFree(port)).toBe(true)
      // The other run goes on: its sidecars and apps are all there, and it still delivers.
      expect((await other.processes()).filter((p) => p.cmd.includes('daprd'))).toHaveLength(2)
      const before = other.received().length
      await other.until('the other run to deliver more orders', () => other.received().length > before, 30_000)
    } finally {
      await killed.dispose()
      await other.dispose()
    }
  })
})
