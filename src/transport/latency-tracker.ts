/** Recent request latencies in a fixed ring, for p50/p99 without unbounded memory. */
export class LatencyTracker {
  private readonly samples: Float64Array;
  private count = 0;
  private next = 0;

  constructor(capacity = 1024) {
    this.samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    if (this.count < this.samples.length) this.count++;
  }

  /** The q-quantile (0..1) of the recent samples, or undefined if there are none. */
  quantile(q: number): number | undefined {
    if (this.count === 0) return undefined;
    const sorted = Array.from(this.samples.subarray(0, this.count)).sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[rank];
  }
}
