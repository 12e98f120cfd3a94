/** The address of the broker the integration suites talk to (started by global setup). */
export interface BrokerAddress {
  host: string;
  port: number;
  address: string;
}

export function testBroker(): BrokerAddress {
  const address = process.env.RIVVEN_TEST_BROKER;
  if (!address) {
    throw new Error('no test broker: run the suites through `npm test` (its global setup starts one) or set RIVVEN_BOOTSTRAP=host:port');
  }
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at);
  const port = Number(address.slice(at + 1));
  if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`RIVVEN_BOOTSTRAP/RIVVEN_TEST_BROKER must be host:port, got '${address}'`);
  }
  return { host, port, address };
}
