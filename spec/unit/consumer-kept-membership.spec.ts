/**
 * keptMembership: a dropped coordinator connection is survived by repeating the cut request as the
 * same member id and generation over a new connection — never by rejoining (rivvend 0.0.22 rebalances on every
 * JoinGroup). Only the coordinator's answer, or sessionTimeoutMs without an accepted heartbeat,
 * ends the generation.
 */
import { type Observable, VirtualTimeScheduler, firstValueFrom, of, throwError, toArray } from 'rxjs';
import type { Client } from '../../src/client/client';
import type { HeartbeatResult } from '../../src/client/client-types';
import { Retrier } from '../../src/client/retrier';
import { driveVirtualTime } from '../support/virtual-time';
import { heartbeatLoop$ } from '../../src/consumer/group-watch';
import { keptMembership, type KeptMembershipHost } from '../../src/consumer/kept-membership';
import { AllServersUnavailableError, ConnectionError, ServerError } from '../../src/errors';

const OK: HeartbeatResult = { errorCode: 0, rebalanceInProgress: false };

/** A coordinator lane whose connections are plain tokens; `script` says what each heartbeat does. */
function harness(script: Array<'ok' | 'drop' | 'unreachable' | 'unknown-member'>, sessionTimeoutMs = 10_000) {
  const scheduler = new VirtualTimeScheduler();
  const connections: object[] = [{ id: 0 }];
  const sent: Array<{ connection: number; generation: number; member: string }> = [];
  const events: string[] = [];
  let step = 0;
  const host: KeptMembershipHost = {
    coordinator: async () => {
      if (script[step] === 'unreachable') {
        step++;
        throw new AllServersUnavailableError('no server of bootstrapServers answered');
      }
      return connections[connections.length - 1] as Client;
    },
    dropCoordinator: () => {
      connections.push({ id: connections.length });
      events.push('drop');
    },
    // Waits of exactly 100 ms.
    retrier: new Retrier({ maxAttempts: 1, initialDelayMs: 100, maxDelayMs: 100, multiplier: 1, jitter: 0 }, scheduler),
    sessionTimeoutMs,
    stopped: () => false,
    unreachable: (_error, failures) => events.push(`unreachable#${failures}`),
    reconnected: (downMs) => events.push(`reconnected after ${downMs}`),
  };
  const heartbeat$ = (client: Client): Observable<HeartbeatResult> => {
    sent.push({ connection: connections.indexOf(client), generation: 7, member: 'm-1' });
    const what = script[step++] ?? 'ok';
    if (what === 'drop') return throwError(() => new ConnectionError('broker 127.0.0.1:1 closed the connection'));
    if (what === 'unknown-member') return throwError(() => new ServerError("UNKNOWN_MEMBER_ID: 'm-1' in group 'g'"));
    return of(OK);
  };
  return { scheduler, host, heartbeat$, sent, events, connections };
}

/** Heartbeats as one member through keptMembership, joined over the harness's first connection. */
function keptBeat(h: ReturnType<typeof harness>): () => Observable<HeartbeatResult> {
  const send = keptMembership(h.host, h.connections[0] as Client);
  return () => send(h.heartbeat$);
}

describe('keptMembership (membership through a dropped coordinator connection)', () => {
  it('a dropped connection: the same member and generation heartbeat again over a new connection, reported as a kept reconnect', async () => {
    const h = harness(['drop', 'ok']);
    const beat = keptBeat(h);
    await expect(driveVirtualTime(h.scheduler, firstValueFrom(beat()))).resolves.toEqual(OK);
    expect(h.sent.map((s) => s.connection)).toEqual([0, 1]);
    expect(h.events).toEqual(['unreachable#1', 'drop', 'reconnected after 100']);
  });

  it('no broker for a while (a clean restart): keeps trying within sessionTimeoutMs, then heartbeats on', async () => {
    const h = harness(['drop', 'unreachable', 'unreachable', 'ok']);
    const beat = keptBeat(h);
    await expect(driveVirtualTime(h.scheduler, firstValueFrom(beat()))).resolves.toEqual(OK);
    expect(h.events.filter((e) => e.startsWith('unreachable'))).toEqual(['unreachable#1', 'unreachable#2', 'unreachable#3']);
    expect(h.events[h.events.length - 1]).toBe('reconnected after 300');
  });

  it('the coordinator answer decides: UNKNOWN_MEMBER_ID after a reconnect is a rejoin reason, not a retry', async () => {
    const h = harness(['drop', 'unknown-member']);
    const beat = keptBeat(h);
    const reasons = heartbeatLoop$(beat, 1_000, h.scheduler).pipe(toArray());
    await expect(driveVirtualTime(h.scheduler, firstValueFrom(reasons))).resolves.toEqual(['UNKNOWN_MEMBER_ID']);
    expect(h.sent).toHaveLength(2);
  });

  it('after sessionTimeoutMs without an accepted heartbeat it fails, saying the member has been expired', async () => {
    const h = harness(['drop', ...Array.from({ length: 100 }, () => 'unreachable' as const)], 1_000);
    const beat = keptBeat(h);
    const error = await driveVirtualTime(h.scheduler, firstValueFrom(beat()).catch((e: unknown) => e));
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as Error).message).toMatch(/no request reached the group coordinator for \d+ ms \(sessionTimeoutMs 1000\).*rejoins/);
    expect(h.scheduler.now()).toBeGreaterThanOrEqual(1_000);
    expect(h.scheduler.now()).toBeLessThan(1_200);
  });

  it('the heartbeat loop goes on through a dropped connection instead of ending the generation', async () => {
    const h = harness(['ok', 'drop', 'ok', 'ok', 'unknown-member']);
    const beat = keptBeat(h);
    const reasons = heartbeatLoop$(beat, 1_000, h.scheduler).pipe(toArray());
    await expect(driveVirtualTime(h.scheduler, firstValueFrom(reasons))).resolves.toEqual(['UNKNOWN_MEMBER_ID']);
    // Five heartbeats, the one after the drop on the new connection.
    expect(h.sent.map((s) => s.connection)).toEqual([0, 0, 1, 1, 1]);
    expect(h.events.filter((e) => e.startsWith('reconnected'))).toHaveLength(1);
  });
});
