// A local server the lab can use or start: a broker, the state store's Redis, Zipkin.
// Each one's file says how it is found, installed, started and stopped.

export interface Service {
  /** The name `npm start -- --broker NAME` and the messages use (redis, kafka, ...). */
  name: string
  /** For people: "Redis", "Kafka", ... */
  label: string
  /** Where it listens (127.0.0.1). */
  port: number
  /** What the command line of a process of it holds (its pid file is checked by it; a test tells its processes apart by it). */
  marker: string
  /** Whether it answers on its port, speaking its own protocol (not merely an open port). */
  ping (): Promise<boolean>
  /**
   * Uses the one answering on its port, else installs it when missing (Debian, as root)
   * and starts one of the lab's own (loopback only, data and log in the cache). Resolves
   * `{ started: true }` only when it started one, which its caller must `down()` again.
   * Throws a LabError that says what to do when it cannot.
   */
  up (): Promise<{ started: boolean }>
  /** Stops the one the lab started (found by its pid file), never somebody else's. */
  down (): Promise<void>
}
