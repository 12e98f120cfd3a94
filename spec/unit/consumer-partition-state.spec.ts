/** PartitionState's credit and decoded-bytes accounting against the shared DecodedBudget. */
import { DecodedBudget } from '../../src/consumer/decoded-budget';
import { PartitionState, isLive } from '../../src/consumer/partition-state';

describe('PartitionState and DecodedBudget', () => {
  it('holds decoded bytes per emitted batch and gives them back as acknowledgements cover each batch', () => {
    const budget = new DecodedBudget(1_000);
    const state = new PartitionState('t', 0, 10n, undefined, budget);
    state.hold(20n, 300); // offsets 10–19
    state.hold(30n, 400); // offsets 20–29
    expect(budget.inFlightBytes).toBe(700);
    expect(budget.available()).toBe(300);
    let woken = 0;
    budget.onRelease(() => woken++);
    state.releaseUpTo(15n); // inside the first batch: nothing is freed yet
    expect(budget.inFlightBytes).toBe(700);
    state.releaseUpTo(20n);
    expect(budget.inFlightBytes).toBe(400);
    expect(woken).toBe(1);
    state.releaseUpTo(30n);
    expect(budget.inFlightBytes).toBe(0);
  });

  it('a restart (seek, rewind, truncation) starts a new epoch and releases everything it held', () => {
    const budget = new DecodedBudget(1_000);
    const a = new PartitionState('t', 0, 0n, undefined, budget);
    const b = new PartitionState('t', 1, 0n, undefined, budget);
    a.hold(10n, 500);
    b.hold(10n, 200);
    a.emittedEnd = 10n;
    a.acked = 4n;
    const epoch = a.epoch;
    a.restart(3n);
    expect(isLive(a, epoch)).toBe(false);
    expect(a).toMatchObject({ position: 3n, epochStart: 3n, emittedEnd: 3n, acked: undefined });
    expect(a.outstanding()).toBe(0n);
    expect(budget.inFlightBytes).toBe(200);
    b.releaseAll();
    expect(budget.inFlightBytes).toBe(0);
  });

  it('counts outstanding records from the last acknowledgement (or the epoch start)', () => {
    const state = new PartitionState('t', 0, 100n, 100n);
    state.emittedEnd = 150n;
    expect(state.outstanding()).toBe(50n);
    state.acked = 140n;
    expect(state.outstanding()).toBe(10n);
  });
});
