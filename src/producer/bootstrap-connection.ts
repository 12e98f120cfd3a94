/**
 * One of the producer's connections (a lane, see connection-lanes.ts), opened lazily and re-opened
 * on failure against the next server of the bootstrap list.
 */
import { firstValueFrom } from 'rxjs';
import { Client, type ClientOptions } from '../client/client.js';
import { AllServersUnavailableError, ConnectionError, RivvenError } from '../errors.js';

export class BootstrapConnection {
  private current: Promise<Client> | undefined;
  private ready: Client | undefined;
  private next = 0;
  private closed = false;

  constructor(
    private readonly servers: readonly string[],
    private readonly options: ClientOptions,
  ) {}

  /** A ready client, connecting (with failover across the list) if needed. */
  client(): Promise<Client> {
    if (this.closed) return Promise.reject(new ConnectionError('the producer is closed'));
    if (this.current === undefined) {
      const attempt = this.connectAny();
      this.current = attempt;
      attempt.then(
        (client) => (this.ready = client),
        () => {
          if (this.current === attempt) this.current = undefined;
        },
      );
    }
    return this.current.then((client) => {
      if (client.state === 'ready') return client;
      this.current = undefined;
      this.ready = undefined;
      void client.close();
      return this.client();
    });
  }

  /** The connected client, if there is one right now (for health figures; never connects). */
  connected(): Client | undefined {
    return this.ready;
  }

  /** Drop the current connection (after a connection failure) so the next call reconnects. */
  reset(): void {
    const current = this.current;
    this.current = undefined;
    this.ready = undefined;
    void current?.then((c) => c.close()).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const current = this.current;
    this.current = undefined;
    this.ready = undefined;
    const client = await current?.catch(() => undefined);
    await client?.close();
  }

  private async connectAny(): Promise<Client> {
    const errors: string[] = [];
    for (let i = 0; i < this.servers.length; i++) {
      const server = this.servers[(this.next + i) % this.servers.length]!;
      try {
        const client = await firstValueFrom(Client.connect$(server, this.options));
        this.next = (this.next + i) % this.servers.length;
        if (this.closed) {
          await client.close();
          throw new ConnectionError('the producer is closed');
        }
        return client;
      } catch (error) {
        // Credentials and TLS problems are the same on every server: stop at once.
        if (error instanceof RivvenError && !error.retriable) throw error;
        errors.push(`${server}: ${(error as Error).message}`);
      }
    }
    this.next = (this.next + 1) % this.servers.length;
    throw new AllServersUnavailableError(`no bootstrap server could be reached (${errors.join('; ')})`);
  }
}
