import { DaprClient, CommunicationProtocolEnum, LogLevel } from '@dapr/dapr'
import type { Config } from './config.ts'

/**
 * A client for the app's own sidecar, over HTTP. With DAPR_API_TOKEN set the sidecar
 * demands it on every call, so it is passed on explicitly.
 */
export function createClient (config: Pick<Config, 'daprHost' | 'daprHttpPort' | 'daprApiToken'>): DaprClient {
  return new DaprClient({
    daprHost: config.daprHost,
    daprPort: String(config.daprHttpPort),
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    daprApiToken: config.daprApiToken,
    logger: { level: LogLevel.Warn }
  })
}
