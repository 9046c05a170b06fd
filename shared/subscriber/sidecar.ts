// The order-processor's calls to its own sidecar, over plain HTTP with kept-alive
// connections: one state save per order is all the hot path needs, and the SDK's client
// (its fetch stack, and 33 MB of modules) cost more than the call itself (bench/README.md).
import { Agent, request } from 'node:http'
import type { Config } from '../config.ts'

export interface SidecarAddress extends Pick<Config, 'daprHost' | 'daprHttpPort' | 'daprApiToken'> {}

export interface SidecarResponse { status: number, body: string }

export interface Sidecar {
  /** One call to the sidecar's HTTP API; rejects only when the sidecar cannot be reached. */
  call (method: 'GET' | 'POST', path: string, body?: unknown): Promise<SidecarResponse>
}

export function sidecarClient (address: SidecarAddress): Sidecar {
  // As many sockets as the sidecar has deliveries in flight (the Redis component's
  // concurrency); each is reused, so a save costs no TCP handshake.
  const agent = new Agent({ keepAlive: true, maxSockets: 256 })
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (address.daprApiToken) headers['dapr-api-token'] = address.daprApiToken
  return {
    call (method, path, body) {
      const payload = body === undefined ? undefined : JSON.stringify(body)
      return new Promise((resolve, reject) => {
        const req = request({ host: address.daprHost, port: address.daprHttpPort, method, path, agent, headers, timeout: 10_000 }, (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => { text += chunk })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
          res.on('error', reject)
        })
        req.on('timeout', () => req.destroy(new Error(`the sidecar did not answer ${method} ${path} within 10 s`)))
        req.on('error', reject)
        req.end(payload)
      })
    }
  }
}

/** The type of a component the sidecar has loaded (GET /v1.0/metadata), e.g. pubsub.redis. */
export async function componentType (sidecar: Sidecar, name: string): Promise<string | undefined> {
  const { status, body } = await sidecar.call('GET', '/v1.0/metadata')
  if (status !== 200) return undefined
  const components = (JSON.parse(body) as { components?: Array<{ name: string, type: string }> }).components ?? []
  return components.find((c) => c.name === name)?.type
}
