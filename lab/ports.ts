// Ports, for the lab's tools and tests: whether one is free, and free ones to use.
import { createServer } from 'node:net'
import { randomInt } from 'node:crypto'
import getPort, { portNumbers } from 'get-port'
import { HOST } from './settings.ts'

/**
 * Whether a port can be listened on now (on loopback, as the apps and sidecars listen).
 * Not get-port: it keeps a port it answered with locked for a while, in this process.
 */
export function portIsFree (port: number, host = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, host, () => server.close(() => resolve(true)))
  })
}

/**
 * A free port; from `range` [low, high] when given. get-port never hands one out twice to
 * the same process (it locks what it gave for a while), so two of a run are never the same.
 */
export function freePort (range?: [number, number]): Promise<number> {
  return getPort({ host: HOST, ...(range ? { port: portNumbers(range[0], range[1]) } : {}) })
}

/**
 * Ports below every system's ephemeral range (Linux 32768 and up, macOS and Windows 49152
 * and up): the system never hands one of them out by itself, for a listen(0) or for an
 * outgoing connection, so one picked here stays free until its server binds it.
 */
export const OWN_PORTS: readonly [number, number] = [20_000, 32_000]

/**
 * A free port of OWN_PORTS for a named run's app (lab/plan.ts). Tried in a random order, so
 * that runs started side by side, each in its own process, rarely try the same one.
 */
export function freeOwnPort (): Promise<number> {
  const [low, high] = OWN_PORTS
  return getPort({ host: HOST, port: Array.from({ length: 100 }, () => randomInt(low, high)) })
}
