// Ports, for the lab's tools and tests: whether one is free, and free ones to use.
import getPort, { portNumbers } from 'get-port'
import { HOST } from './settings.ts'

/** Whether a port can be listened on (on loopback, as the apps and sidecars listen). */
export async function portIsFree (port: number, host = HOST): Promise<boolean> {
  return await getPort({ port, host }) === port
}

/**
 * A free port; from `range` [low, high] when given. get-port never hands one out twice to
 * the same process (it locks what it gave for a while), so two of a run are never the same.
 */
export function freePort (range?: [number, number]): Promise<number> {
  return getPort({ host: HOST, ...(range ? { port: portNumbers(range[0], range[1]) } : {}) })
}
