/**
 * How a connection gets its socket. Plain TCP here; TLS plugs in as another factory, so the
 * connection itself never knows which it has.
 */
import { connect, type Socket } from 'node:net';
import type { RivvenError } from '../errors.js';
import type { BrokerAddress } from './address.js';

export interface SocketFactory {
  /** A human-readable name for errors and health (`tcp`, `tls`). */
  readonly kind: string;
  /** True when bytes are encrypted on the wire (PLAIN authentication is allowed only then). */
  readonly encrypted?: boolean;
  /** Start connecting; `onReady` fires once bytes can flow (after the TLS handshake, for TLS). */
  open(address: BrokerAddress, onReady: () => void): Socket;
  /** Turn a socket error into a specific typed error (e.g. a TLS certificate problem), if it is one. */
  classifyError?(error: NodeJS.ErrnoException, socket: Socket, address: BrokerAddress): RivvenError | undefined;
}

export const tcpSocketFactory: SocketFactory = {
  kind: 'tcp',
  open(address, onReady) {
    const socket = connect({ host: address.host, port: address.port, noDelay: true });
    socket.once('connect', onReady);
    return socket;
  },
};
