/**
 * The default `socketFactory` (its shape is in connection-settings.ts): plain TCP. TLS plugs in as
 * another factory (tls.ts), so the connection itself never knows which it has.
 */
import { connect } from 'node:net';
import type { SocketFactory } from '../connection-settings.js';

export const tcpSocketFactory: SocketFactory = {
  kind: 'tcp',
  open(address, onReady) {
    const socket = connect({ host: address.host, port: address.port, noDelay: true });
    socket.once('connect', onReady);
    return socket;
  },
};
