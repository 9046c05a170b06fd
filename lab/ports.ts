// Ports, for the lab's tools and tests: whether one is free, and free ones to use.
import { createServer } from 'node:net'
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
