/**
 * Pinned lanes: named connections, each kept for one kind of work, over the bootstrap list — the
 * connection layer of the producer (a lane per group of partitions: producer/partition-lanes.ts),
 * the consumer (the coordinator and each fetch lane) and the transactional producer (one lane,
 * `singleLane`).
 *
 * How it differs from its neighbours: a lane is *one* connection that its work always uses (never
 * shared by the pool's least-loaded rule), so work that must stay in order stays on one
 * connection and work that must not wait behind other work gets its own — rivvend answers one
 * connection's requests strictly in order. connection-pool.ts is the ResilientClient's opposite:
 * interchangeable connections per server, any request on any of them. Which server a lane's
 * connection goes to is server-rotation.ts's rule.
 *
 * - A lane opens on first use, with failover along the list (server-rotation.ts: from the server
 *   that answered last; those whose breaker is open last).
 * - A connection that failed or closed is never handed out again: it is forgotten the moment its
 *   state leaves `ready` (and checked again on every use), so the next use opens a fresh one; the
 *   server it was on counts a breaker failure and the next connection starts at the next server.
 * - Callers back off between rounds with their retry policy (connection-settings.ts).
 * - `connect` is where connections come from: the fake seam of unit tests.
 */
import { firstValueFrom, type Observable, type Subscription } from 'rxjs';
import { AllServersUnavailableError, ConnectionError } from '../errors.js';
import { Client, type ClientConnectionOptions } from './client.js';
import { ServerRotation, connectToAny } from './server-rotation.js';

/** Opens one ready Client to `server` (emits once) or errors. */
export type LaneConnector = (server: string, options: ClientConnectionOptions) => Observable<Client>;

export interface PinnedLanesOptions<K> {
  bootstrapServers: readonly string[];
  /** Options of every lane's connection (the address comes from the rotation; its `retry` is not used: callers back off between rounds). */
  client: ClientConnectionOptions;
  /** The clientId of a lane's connection (shown in broker logs). Default: `client.clientId`. */
  clientIdOf?: (lane: K) => string | undefined;
  /** What refuses use after `closeAll()`: "the consumer is closed". */
  closedMessage: string;
  /** Where connections come from. Default `Client.connect$`. */
  connect?: LaneConnector;
  /** Every server was tried and none answered. */
  onUnreachable?(error: unknown, servers: readonly string[]): void;
  /** A connection was opened (clears an "unreachable" warning). */
  onConnected?(server: string): void;
}

/**
 * What tests may swap under a component (the second argument of `Producer.create` and
 * `Consumer.create`; not part of the settings): where its lane connections come from.
 */
export interface ConnectionSeam {
  connect?: LaneConnector;
}

/** One lane of a PinnedLanes, as the code that uses it sees it. */
export interface LaneHandle {
  /** A ready connection, opening one (with failover) if there is none or the last one failed. */
  client(): Promise<Client>;
  /** The ready connection right now, if any (for health figures; never connects). */
  connected(): Client | undefined;
  /** Drop the connection (it failed, or a timeout left it in doubt): the next use reconnects. */
  reset(): void;
}

interface Lane {
  pending: Promise<Client>;
  /** Set once connected. */
  client?: Client;
  /** The server of bootstrapServers it connected to (as the rotation counted it). */
  serverIndex?: number;
  watch?: Subscription;
}

/**
 * One attempt at one server, failing with that server's own error: the rotation here names each
 * server's error once, and the caller's backoff does the rest. (The options form would wrap each
 * error in an AllServersUnavailableError of its own one-server round.)
 */
const defaultConnect: LaneConnector = (server, options) => Client.connect$(server, options);

export class PinnedLanes<K extends string | number> {
  private readonly lanes = new Map<K, Lane>();
  private readonly rotation: ServerRotation;
  private readonly connect: LaneConnector;
  private closed = false;

  constructor(private readonly options: PinnedLanesOptions<K>) {
    this.rotation = new ServerRotation(options.bootstrapServers);
    this.connect = options.connect ?? defaultConnect;
  }

  /** The lane's connection, opening one if there is none or the last one failed or closed. */
  get(lane: K): Promise<Client> {
    const current = this.lanes.get(lane);
    if (current !== undefined && (current.client === undefined || current.client.state === 'ready')) return current.pending;
    if (current !== undefined) this.forget(lane, current);
    const opening = this.open(lane);
    const fresh: Lane = { pending: opening.then(({ client }) => client) };
    this.lanes.set(lane, fresh);
    opening.then(
      ({ client, index }) => {
        if (this.lanes.get(lane) !== fresh) {
          void client.close().catch(() => undefined);
          return;
        }
        fresh.client = client;
        fresh.serverIndex = index;
        // Forget it as soon as it fails: the next use reconnects instead of meeting "is failed".
        fresh.watch = client.state$.subscribe((state) => {
          if (state === 'failed' || state === 'closed' || state === 'closing') this.forget(lane, fresh);
        });
      },
      () => {
        if (this.lanes.get(lane) === fresh) this.lanes.delete(lane);
      },
    );
    return fresh.pending;
  }

  /** A handle on one lane (see LaneHandle). */
  handle(lane: K): LaneHandle {
    return { client: () => this.get(lane), connected: () => this.connected(lane), reset: () => this.drop(lane) };
  }

  /** The lane's ready connection right now, if any (for health figures; never connects). */
  connected(lane: K): Client | undefined {
    const client = this.lanes.get(lane)?.client;
    return client?.state === 'ready' ? client : undefined;
  }

  /** Every ready connection (for health figures). */
  connectedAll(): Client[] {
    return [...this.lanes.values()].flatMap((l) => (l.client?.state === 'ready' ? [l.client] : []));
  }

  /** Close the lane's connection (a protocol violation or a timeout left it in doubt); the next use reconnects. */
  drop(lane: K): void {
    const current = this.lanes.get(lane);
    if (current !== undefined) this.forget(lane, current);
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    const lanes = [...this.lanes.values()];
    this.lanes.clear();
    this.rotation.dispose();
    await Promise.all(
      lanes.map(async (lane) => {
        lane.watch?.unsubscribe();
        try {
          await (await lane.pending).close();
        } catch {
          // Failed to connect, or already failed: nothing to close.
        }
      }),
    );
  }

  private forget(lane: K, entry: Lane): void {
    if (this.lanes.get(lane) === entry) this.lanes.delete(lane);
    entry.watch?.unsubscribe();
    entry.watch = undefined;
    // The server whose connection broke is not where the next connection starts.
    if (entry.serverIndex !== undefined && entry.client?.state === 'failed') this.rotation.broke(entry.serverIndex);
    entry.pending.then((c) => c.close()).catch(() => undefined);
  }

  private async open(lane: K): Promise<{ client: Client; index: number }> {
    if (this.closed) throw new ConnectionError(this.options.closedMessage);
    const clientId = this.options.clientIdOf?.(lane) ?? this.options.client.clientId;
    const options: ClientConnectionOptions = { ...this.options.client, ...(clientId === undefined ? {} : { clientId }) };
    try {
      const { value: client, index } = await connectToAny(this.rotation, (server) => firstValueFrom(this.connect(server, options)));
      if (this.closed) {
        await client.close();
        throw new ConnectionError(this.options.closedMessage);
      }
      this.options.onConnected?.(this.options.bootstrapServers[index]!);
      return { client, index };
    } catch (error) {
      if (!this.closed && error instanceof AllServersUnavailableError) this.options.onUnreachable?.(error, this.options.bootstrapServers);
      throw error;
    }
  }
}

/** A lane that closes with its connection layer: the transactional producer's one connection. */
export type SingleLane = LaneHandle & { close(): Promise<void> };

/** A connection layer of one lane, closed with it (the transactional producer's one connection). */
export function singleLane(options: PinnedLanesOptions<'main'>): SingleLane {
  const layer = new PinnedLanes<'main'>(options);
  return { ...layer.handle('main'), close: () => layer.closeAll() };
}
