/**
 * A broker crash for fault tests: SIGKILL a broker, keep it down for a while, and start it again on
 * the same port and data dir (where its clients expect it), reporting when it was back.
 */
import { startBroker, type BrokerProcess, type StartBrokerOptions } from './broker-process';

export interface Restarted {
  /** The new broker process (same address and data dir). */
  broker: BrokerProcess;
  /** `Date.now()` when the old process was dead. */
  killedAt: number;
  /** `Date.now()` when the new process reported READY. */
  readyAt: number;
}

/**
 * SIGKILL `broker`, wait `downMs` (the outage under test: a duration, not a wait for an event), and
 * start it again on the same port and data dir. `options` are passed to the new process as well.
 */
export async function crashAndRestart(
  broker: BrokerProcess,
  downMs: number,
  options: Omit<StartBrokerOptions, 'port' | 'dataDir'> = {},
): Promise<Restarted> {
  await broker.kill();
  const killedAt = Date.now();
  await new Promise<void>((resolve) => setTimeout(resolve, downMs));
  const restarted = await startBroker({ ...options, port: broker.port, dataDir: broker.dataDir });
  return { broker: restarted, killedAt, readyAt: Date.now() };
}
