/**
 * The revoke path of group membership: stop emitting for the owned partitions and announce it,
 * wait (bounded, heartbeating) until downstream has acknowledged what it was given, commit, give
 * the partitions up. group-coordinator.ts decides when; this is how.
 */
import { EMPTY, Subject, catchError, concatMap, exhaustMap, firstValueFrom, from, ignoreElements, merge, take, timer, type Observable } from 'rxjs';
import type { RevokeReason } from './consumer-record.js';
import type { GroupHost, GroupPartition, GroupSession } from './group-host.js';
import { drainWait$ } from './group-watch.js';

/** Who we are in the group right now (group-join.ts). */
export interface MemberIds {
  readonly memberId: string;
  /** Generation of our last JoinGroup answer: what heartbeats while revoking name. */
  readonly joinedGeneration: number;
}

export class GroupRevoke<S extends GroupSession, P extends GroupPartition> {
  /** Acknowledgements, for revokes waiting for downstream. */
  private readonly acks = new Subject<void>();
  /** The revoke being finished (drain, commit, release), if one is. */
  private finishing: Promise<void> | undefined;

  constructor(
    private readonly host: GroupHost<S, P>,
    private readonly member: MemberIds,
    /** The generation whose partitions a revoke gives up (for the 'revoked' event). */
    private readonly generationId: () => number,
  ) {}

  /** Called on every acknowledgement: a drain under way re-checks. */
  noteAck(): void {
    // After the caller has updated the partition's acknowledged offset.
    if (this.acks.observed) queueMicrotask(() => this.acks.next());
  }

  /** Revoke everything owned; see GroupCoordinator.revokeAll. */
  async all(reason: RevokeReason, session?: S): Promise<void> {
    await this.finishing?.catch(() => undefined);
    this.begin(reason);
    const { config } = this.host;
    const memberId = this.member.memberId;
    const generationId = this.member.joinedGeneration;
    const keepAlive =
      config.assign === undefined && memberId !== ''
        ? () => from(this.host.coordinator()).pipe(concatMap((c) => c.heartbeat$(config.groupId, generationId, memberId)))
        : undefined;
    await this.finish(session, keepAlive, reason !== 'maxPollIntervalExceeded');
  }

  /** Stop emitting for every owned partition and announce the revoke (once per revoke). */
  begin(reason: RevokeReason): void {
    const states = this.host.partitions().filter((s) => !s.stopped && s.emitting);
    for (const state of states) state.emitting = false;
    if (states.length > 0) {
      this.host.rebalance({
        type: 'revoked',
        partitions: states.map((s) => ({ topic: s.topic, partition: s.partition })),
        generationId: this.generationId(),
        reason,
      });
    }
  }

  /** Wait for downstream (bounded), commit, give up every owned partition. */
  finish(session: S | undefined, keepAlive: (() => Observable<unknown>) | undefined, drain = true): Promise<void> {
    const states = this.host.partitions();
    if (states.length === 0) return Promise.resolve();
    this.begin('rebalance');
    const finishing = (async () => {
      if (drain) await this.drain(states, keepAlive, session);
      const host = this.host;
      for (const state of states) {
        state.stopped = true;
        state.signal();
      }
      try {
        await firstValueFrom(host.commit$(states), { defaultValue: undefined });
      } catch {
        // The coordinator may be gone; the new owner re-reads from the last commit (at-least-once).
      }
      for (const state of states) host.release(state);
      host.assignmentsChanged([]);
      host.updateHealth({ assignedPartitions: 0 });
    })();
    const tracked: Promise<void> = finishing.finally(() => {
      if (this.finishing === tracked) this.finishing = undefined;
    });
    this.finishing = tracked;
    return finishing;
  }

  /**
   * Until downstream has acknowledged every record emitted for `states` (or is gone, or
   * maxDelayRebalanceMs passed), heartbeating meanwhile so the coordinator keeps us.
   */
  private async drain(states: P[], keepAlive: (() => Observable<unknown>) | undefined, session: S | undefined): Promise<void> {
    const { config } = this.host;
    // A subscriber that has never acknowledged anything (it forgot to) would only make us wait the full delay.
    if (config.maxDelayRebalanceMs === 0 || this.host.ackCount() === 0) return;
    const subscriber = session?.subscriber;
    // Stopped from elsewhere (kill()): nothing more will be acknowledged.
    const drained = () => (subscriber?.closed ?? false) || states.every((s) => s.stopped || isDrained(s));
    const heartbeats$ =
      keepAlive === undefined
        ? EMPTY
        : timer(config.heartbeatIntervalMs, config.heartbeatIntervalMs, config.scheduler).pipe(
            exhaustMap(() => keepAlive().pipe(catchError(() => EMPTY))),
            ignoreElements(),
          );
    const outcome = await firstValueFrom(merge(drainWait$(drained, this.acks, config.maxDelayRebalanceMs, config.scheduler), heartbeats$).pipe(take(1)));
    if (outcome === 'TIMEOUT') this.host.updateHealth({ rebalanceDrainTimeouts: this.host.health().rebalanceDrainTimeouts + 1 });
  }
}

/** Downstream acknowledged every record it was given of this partition in the current epoch. */
function isDrained(state: GroupPartition): boolean {
  return state.delivered === undefined || (state.acked !== undefined && state.acked >= state.delivered);
}
