// Kafka for the lab: the broker on 127.0.0.1:9092 if one answers, otherwise a single-node
// KRaft broker of our own (broker and controller in one JVM), bound to loopback, with its jars,
// config, data and log in the cache.
//
// The jars come from Maven Central only (the one place this machine and CI can fetch them
// from), resolved once by a generated pom.xml into $CACHE/kafka-<version>/lib.
//
// Version (settings.ts): 4.3.1, the newest release whose jars Maven Central serves in full.
// (4.4.0 is listed there, but its kafka-tools-api artifact, a runtime dependency of the
// broker, is not, so the 4.4.0 broker cannot be resolved.) Kafka 4.x brokers need Java 17+.
//
// Dapr: Kafka 4.0 removed the protocol versions older than Kafka 2.1's (KIP-896). Dapr's
// pubsub.kafka (sarama) sends requests at the level its `version` metadata claims, "2.0.0" when
// unset. The request versions of that level that Dapr uses are ones a 4.x broker still accepts
// (sarama >= 1.46, Dapr 1.18 has 1.48, also caps them at what the broker's ApiVersions answer
// allows), so the default works against this broker: checked with daprd 1.18.3 (publish,
// subscribe, consumer group, offset commit across a sidecar restart). Nothing needs setting.
// To pin it anyway, write three numbers, e.g. version: "3.9.0": sarama rejects "2.0.0.0" and
// "3.9.0.0" ("kafka error: invalid kafka version", the sidecar exits), although the
// component's metadata lists its default as "2.0.0.0"; only 0.x versions take four numbers.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CACHE, HOST, KAFKA_VERSION, LabError, PORTS, say } from '../settings.ts'
import { ownPid, requireJava17, runLogged, startDaemon, stopPidFile, talk, upSlowly } from './daemon.ts'
import type { Service } from './service.ts'

const PORT = PORTS.kafka
const CONTROLLER_PORT = PORTS.kafkaController
const HOME = join(CACHE, `kafka-${KAFKA_VERSION}`)
const LIB = join(HOME, 'lib')
const DIR = join(CACHE, 'kafka-data')
const CONFIG = join(DIR, 'server.properties')
const PID_FILE = join(DIR, 'kafka.pid')
const LOG = join(DIR, 'kafka.log')
// A fixed cluster id (base64url of "dapr-pubsub-lab1"): the data dir is formatted with it once.
export const CLUSTER_ID = 'ZGFwci1wdWJzdWItbGFiMQ'
// Java expands the wildcard itself.
const CLASSPATH = join(LIB, '*')

// ApiVersions v0: size 13, api key 18, version 0, correlation id "lab!", client id "lab".
const API_VERSIONS = Buffer.concat([Buffer.from([0, 0, 0, 0x0d, 0, 0x12, 0, 0]), Buffer.from('lab!'), Buffer.from([0, 3]), Buffer.from('lab')])
// The answer's start after its 4 bytes of size: the correlation id, then error code 0.
const ANSWERED = Buffer.concat([Buffer.from('lab!'), Buffer.from([0, 0])])

/**
 * No Kafka tools (or JVM start) needed: one ApiVersions request. A broker answers it only
 * once it serves requests (the port is bound earlier), with that correlation id and error 0.
 */
function ping (): Promise<boolean> {
  return talk(PORT, API_VERSIONS, (r) => r.length < 10 ? undefined : r.subarray(4, 10).equals(ANSWERED)).then((ok) => ok === true)
}

/** The pid of the broker this project started, if it is still running. */
const kafkaPid = () => ownPid(PID_FILE, CONFIG)

/**
 * The broker (kafka_2.13 brings the server modules at runtime scope) and an SLF4J binding
 * so that it logs: Kafka 4.x still builds against slf4j-api 1.7, and slf4j-simple is its
 * smallest binding (plain lines on stderr, no config file).
 */
const POM = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lab</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
`

async function install (): Promise<void> {
  await requireJava17(`Kafka ${KAFKA_VERSION}`, PORT, 'a Kafka broker')
  await kafkaJars()
}

/** Kafka's jars (the broker and its runtime dependencies), fetched once from Maven Central; their folder. Also what the cluster's Kafka image holds. */
export async function kafkaJars (): Promise<string> {
  // The marker says the jars are whole: an interrupted fetch is done again.
  if (existsSync(join(LIB, '.complete'))) return LIB
  mkdirSync(HOME, { recursive: true })
  writeFileSync(join(HOME, 'pom.xml'), POM)
  say(`fetching Apache Kafka ${KAFKA_VERSION}'s jars from Maven Central into ${LIB} (once; takes a while)...`)
  rmSync(LIB, { recursive: true, force: true })
  const log = join(HOME, 'mvn.log')
  const fetched = await runLogged('mvn', ['-B', '-q', '-U', '-Dstyle.color=never', 'dependency:copy-dependencies',
    '-DincludeScope=runtime', '-DoutputDirectory=lib'], { cwd: HOME, log })
  if (!fetched) throw new LabError(`Maven could not fetch Kafka ${KAFKA_VERSION}; see ${log}`)
  writeFileSync(join(LIB, '.complete'), '')
  return LIB
}

function writeConfig (): void {
  mkdirSync(DIR, { recursive: true })
  writeFileSync(CONFIG, `# Written by lab/services/kafka.ts on each start: a single-node KRaft broker for the lab.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=${HOST}:${CONTROLLER_PORT}
listeners=PLAINTEXT://${HOST}:${PORT},CONTROLLER://${HOST}:${CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://${HOST}:${PORT},CONTROLLER://${HOST}:${CONTROLLER_PORT}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=${DIR}/logs
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
`)
}

async function formatStorage (): Promise<void> {
  if (existsSync(join(DIR, 'logs', 'meta.properties'))) return
  say(`formatting Kafka's storage in ${DIR}/logs (once)`)
  const log = join(DIR, 'format.log')
  const formatted = await runLogged('java', ['-cp', CLASSPATH, 'kafka.tools.StorageTool', 'format', '--standalone',
    '--cluster-id', CLUSTER_ID, '--config', CONFIG], { log })
  if (!formatted) throw new LabError(`formatting Kafka's storage failed; see ${log}`)
}

/** Installs, configures and starts a broker of our own; its pid. */
async function start (): Promise<number> {
  await install()
  writeConfig()
  await formatStorage()
  say(`starting Kafka ${KAFKA_VERSION} on ${HOST}:${PORT} (KRaft, data in ${DIR}/logs, log in ${LOG})`)
  await startDaemon({
    command: 'java',
    args: ['-Xms256m', '-Xmx512m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true',
      '-Dorg.slf4j.simpleLogger.showDateTime=true', '-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss,SSS',
      '-cp', CLASSPATH, 'kafka.Kafka', CONFIG],
    log: LOG,
    freshLog: true,
    pidFile: PID_FILE
  }).catch(() => undefined)
  const pid = await kafkaPid()
  if (pid === undefined) throw new LabError(`Kafka did not start; see ${LOG}`)
  return pid
}

function up (): Promise<{ started: boolean }> {
  return upSlowly({ label: 'Kafka', where: `${HOST}:${PORT}`, ping, ownPid: kafkaPid, start, down, log: LOG })
}

/** Stops the broker this project started (never someone else's). A clean shutdown (it flushes its logs) takes a second or two; SIGKILL after 30. */
function down (): Promise<void> {
  return stopPidFile('Kafka broker', PID_FILE, CONFIG, 30_000)
}

export const kafka: Service = { name: 'kafka', label: 'Kafka', port: PORT, marker: CONFIG, ping, up, down }
