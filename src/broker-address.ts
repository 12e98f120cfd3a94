/** `host:port` parsing for broker addresses (IPv6 as `[::1]:9092`). */
import { ConfigError } from './errors.js';

/** A broker's address. */
export interface BrokerAddress {
  /** Host name or IP address (IPv6 without brackets). */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
}

export function parseAddress(address: string, option = 'address'): BrokerAddress {
  const text = address.trim();
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:\s]+):(\d+)$/.exec(text);
  if (!match) throw new ConfigError(option, `expected host:port (IPv6 as [addr]:port), got '${address}'`);
  const port = Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(option, `port must be 1-65535, got ${match[2]} in '${address}'`);
  }
  return { host: match[1]!, port };
}

export function formatAddress({ host, port }: BrokerAddress): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
