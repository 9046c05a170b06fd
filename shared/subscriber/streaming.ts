// Streaming subscriptions (Dapr 1.14+): the order-processor opens a gRPC stream to its
// sidecar (SubscribeTopicEventsAlpha1) instead of being called on POST /orders. The sidecar
// pushes each event down the stream, and the app answers it on the same stream with the
// event's id and SUCCESS, RETRY or DROP: the same decisions, ledger and dead letters as
// the HTTP routes (delivery.ts). The JS SDK has no client for it (dapr/js-sdk#668), so
// this uses the service definition @dapr/dapr ships (its .proto files), through grpc-js.
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { credentials, loadPackageDefinition, Metadata, status as GrpcStatus, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import type { CloudEventV1 } from 'cloudevents'
import type { Config } from '../config.ts'
import { PUBSUB_NAME, deadLetterTopic } from '../pubsub.ts'
import { streamDownLine, streamOpenLine } from '../log-lines.ts'
import { readingOf, type Deliveries, type DeliveryLog, type DeliveryStatus, type Reading } from './delivery.ts'

/** An event as the sidecar pushes it (TopicEventRequest, with proto-loader's camelCase names). */
export interface StreamedEvent {
  id: string
  source: string
  type: string
  specVersion: string
  dataContentType: string
  data: Buffer
  topic: string
  pubsubName: string
  extensions?: { fields?: Record<string, { stringValue?: string, numberValue?: number, boolValue?: boolean }> }
}

interface StreamResponse { initialResponse?: object, eventMessage?: StreamedEvent }
type StreamRequest =
  | { initialRequest: { pubsubName: string, topic: string, deadLetterTopic?: string } }
  | { eventProcessed: { id: string, status: { status: DeliveryStatus } } }
type Stream = ClientDuplexStream<StreamRequest, StreamResponse>
interface DaprGrpcClient { subscribeTopicEventsAlpha1 (metadata: Metadata): Stream, close (): void }

const PROTO_ROOT = join(dirname(createRequire(import.meta.url).resolve('@dapr/dapr/package.json')), 'proto')

function daprClient (target: string): DaprGrpcClient {
  const definition = loadSync('dapr/proto/runtime/v1/dapr.proto', { includeDirs: [PROTO_ROOT], longs: String, enums: String, defaults: true })
  const services = loadPackageDefinition(definition) as unknown as { dapr: { proto: { runtime: { v1: { Dapr: new (target: string, creds: ReturnType<typeof credentials.createInsecure>) => DaprGrpcClient } } } } }
  return new services.dapr.proto.runtime.v1.Dapr(target, credentials.createInsecure())
}

/**
 * The event as a CloudEvent, and the order in it. Data that is not JSON is a reading with
 * a problem (it is dropped to the dead-letter topic), as on the HTTP route.
 */
export function readStreamedEvent (message: StreamedEvent): Reading {
  const extensions = Object.fromEntries(Object.entries(message.extensions?.fields ?? {})
    .map(([key, value]) => [key, value.stringValue ?? value.numberValue ?? value.boolValue]))
  const event: CloudEventV1<unknown> = {
    ...extensions,
    id: message.id,
    source: message.source,
    type: message.type,
    specversion: message.specVersion,
    datacontenttype: message.dataContentType
  }
  const text = message.data.toString('utf8')
  if (!/json/i.test(message.dataContentType)) return readingOf(event, text)
  try {
    return readingOf(event, JSON.parse(text))
  } catch {
    return { event, data: text, problem: `the data is not valid JSON (${message.dataContentType})` }
  }
}

export interface StreamingOptions {
  sidecar: Pick<Config, 'daprHost' | 'daprGrpcPort' | 'daprApiToken'>
  deliveries: Deliveries
  log: DeliveryLog & { info (msg: string): void, warn (msg: string): void }
}

// Reconnecting: soon at first (a sidecar that restarts is back within a second or two),
// then every few seconds, so a sidecar that is gone for good costs nothing.
const RETRY_FIRST_MS = 250
const RETRY_MOST_MS = 5000

/**
 * Opens the order-processor's two streams, the orders (with their dead-letter topic) and
 * the dead-letter topic itself, and keeps them open: when the sidecar goes away (a
 * restart), each stream is opened again until the sidecar answers. close() stops taking
 * events, lets the ones in flight be answered, then ends the streams.
 */
export function subscribeStreaming ({ sidecar, deliveries, log }: StreamingOptions): { close (): Promise<void> } {
  const client = daprClient(`${sidecar.daprHost}:${sidecar.daprGrpcPort}`)
  const { topic } = deliveries
  const streams = [
    keepSubscribed(topic, deadLetterTopic(topic), (reading) => timed(() => deliveries.order(reading, log))),
    keepSubscribed(deadLetterTopic(topic), undefined, (reading) => deliveries.deadLetter(reading, log))
  ]

  function timed (deliver: () => Promise<DeliveryStatus>): Promise<DeliveryStatus> {
    const done = deliveries.metrics.handlerSeconds.startTimer()
    return deliver().then((status) => { done({ status }); return status })
  }

  function keepSubscribed (subscribedTopic: string, deadLetters: string | undefined, deliver: (reading: Reading) => Promise<DeliveryStatus>) {
    let closing = false
    let current: Stream | undefined
    let retryMs = RETRY_FIRST_MS
    let timer: NodeJS.Timeout | undefined
    let waitingSaid = false
    const inFlight = new Set<Promise<void>>()

    const open = () => {
      const metadata = new Metadata()
      if (sidecar.daprApiToken) metadata.set('dapr-api-token', sidecar.daprApiToken)
      const stream = client.subscribeTopicEventsAlpha1(metadata)
      current = stream
      stream.on('data', (message: StreamResponse) => {
        if (message.initialResponse) {
          retryMs = RETRY_FIRST_MS
          waitingSaid = false
          log.info(streamOpenLine(subscribedTopic, sidecar.daprGrpcPort))
          return
        }
        const event = message.eventMessage
        if (!event || closing) return // after close() an event is left unanswered: the broker redelivers it
        const answered = deliver(readStreamedEvent(event)).then((status) => {
          // Answered on the stream it came on; if that stream is gone, the broker redelivers.
          if (stream === current && stream.writable) stream.write({ eventProcessed: { id: event.id, status: { status } } })
        }).catch((err: unknown) => log.error({ err, eventId: event.id }, 'A streamed event could not be handled; the broker redelivers it'))
          .finally(() => inFlight.delete(answered))
        inFlight.add(answered)
      })
      // Every failure also ends in 'status', which reconnects; this only keeps the
      // error from being thrown.
      stream.on('error', (err: ServiceError) => {
        if (closing && err.code === GrpcStatus.CANCELLED) return
        if (!waitingSaid) log.warn(streamDownLine(subscribedTopic, err.details || err.message))
        waitingSaid = true
      })
      stream.on('status', () => {
        if (closing || stream !== current) return
        current = undefined
        timer = setTimeout(open, retryMs)
        retryMs = Math.min(retryMs * 2, RETRY_MOST_MS)
      })
      stream.write({ initialRequest: { pubsubName: PUBSUB_NAME, topic: subscribedTopic, ...(deadLetters ? { deadLetterTopic: deadLetters } : {}) } })
    }
    open()

    return async () => {
      closing = true
      clearTimeout(timer)
      await Promise.allSettled([...inFlight])
      current?.end()
      current?.cancel()
    }
  }

  return {
    async close () {
      await Promise.all(streams.map((close) => close()))
      client.close()
    }
  }
}
