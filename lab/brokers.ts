// The brokers the lab provisions, by the names `npm start -- --broker NAME` knows: which Dapr
// component type each one serves, where that component keeps its address, and the service
// that finds, installs, starts and stops it (lab/services/). The one table of them.
import { PORTS } from './settings.ts'
import { kafka } from './services/kafka.ts'
import { mosquitto } from './services/mosquitto.ts'
import { ensureJetStreamStream, nats } from './services/nats.ts'
import { rabbitmq } from './services/rabbitmq.ts'
import { redis } from './services/redis.ts'
import type { Service } from './services/service.ts'
import { zipkin } from './services/zipkin.ts'

export const BROKER_NAMES = ['redis', 'kafka', 'rabbitmq', 'jetstream', 'mqtt'] as const
export type BrokerName = typeof BROKER_NAMES[number]

export type BrokerComponentType = 'pubsub.redis' | 'pubsub.kafka' | 'pubsub.rabbitmq' | 'pubsub.jetstream' | 'pubsub.mqtt3'

export interface Broker {
  service: Service
  /** The Dapr pub/sub component type it serves. */
  componentType: BrokerComponentType
  /** For people (the doctor's lines). */
  label: string
  /** The component's metadata field(s) holding the broker's address, the usual one first. */
  addressKeys: string[]
  /** Its port when the address names none (and the one the lab's own listens on). */
  defaultPort: number
  /** Its component takes batches from the broker itself (bulk subscribe); for the others Dapr batches. */
  nativeBulkSubscribe?: boolean
  /** Makes the broker ready for a topic before the apps start (after up()). */
  prepareTopic? (topic: string): Promise<void>
}

export const BROKERS: Record<BrokerName, Broker> = {
  redis: { service: redis, componentType: 'pubsub.redis', label: 'Redis', addressKeys: ['redisHost'], defaultPort: PORTS.redis },
  kafka: { service: kafka, componentType: 'pubsub.kafka', label: 'Kafka', addressKeys: ['brokers'], defaultPort: PORTS.kafka, nativeBulkSubscribe: true },
  rabbitmq: { service: rabbitmq, componentType: 'pubsub.rabbitmq', label: 'RabbitMQ', addressKeys: ['connectionString', 'host'], defaultPort: PORTS.rabbitmq },
  jetstream: {
    service: nats,
    componentType: 'pubsub.jetstream',
    label: 'NATS JetStream',
    addressKeys: ['natsURL'],
    defaultPort: PORTS.nats,
    // JetStream keeps only what a stream captures, and Dapr creates none: one for the topic,
    // one for its dead letters.
    async prepareTopic (topic) {
      await ensureJetStreamStream(topic)
      await ensureJetStreamStream(`${topic}-deadletter`)
    }
  },
  mqtt: { service: mosquitto, componentType: 'pubsub.mqtt3', label: 'MQTT (Mosquitto)', addressKeys: ['url'], defaultPort: PORTS.mqtt }
}

/** The lab's broker for a component type, if it has one (else the run's broker is someone else's to run). */
export function brokerOfType (componentType: string): BrokerName | undefined {
  return BROKER_NAMES.find((name) => BROKERS[name].componentType === componentType)
}

/** Every server the lab may start, the brokers' and Zipkin, for `npm run stop`. */
export const services: Service[] = [redis, kafka, rabbitmq, nats, mosquitto, zipkin]

/** A server of a plan by its name: a broker's (redis, kafka, jetstream, ...) or zipkin. */
export function serviceNamed (name: string): Service {
  const service = (BROKERS as Record<string, Broker | undefined>)[name]?.service ?? services.find((s) => s.name === name)
  if (!service) throw new Error(`no service named ${name}`)
  return service
}
