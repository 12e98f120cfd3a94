/**
 * Jest global setup: one real rivvend 0.0.22 broker for the integration suites, on a free loopback
 * port with a temporary data dir — unless RIVVEN_BOOTSTRAP=host:port names one to use instead.
 */
import { startBroker, type BrokerProcess } from './broker-process';

declare global {
  var __RIVVEN_TEST_BROKER__: BrokerProcess | undefined;
}

export default async function globalSetup(): Promise<void> {
  if (process.env.RIVVEN_BOOTSTRAP) {
    process.env.RIVVEN_TEST_BROKER = process.env.RIVVEN_BOOTSTRAP;
    return;
  }
  const broker = await startBroker();
  globalThis.__RIVVEN_TEST_BROKER__ = broker;
  // Workers are spawned after global setup and inherit this environment.
  process.env.RIVVEN_TEST_BROKER = broker.address;
}
