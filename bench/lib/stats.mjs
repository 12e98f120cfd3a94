// Small statistics and formatting helpers shared by the bench runners.

export function median(values) {
  const present = values.filter((v) => typeof v === 'number' && !Number.isNaN(v));
  if (present.length === 0) return null;
  const sorted = [...present].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * How far the median of `values` can be trusted, relative to it (0.05 = "±5 %"): half the width of
 * the distribution-free ~95 % confidence interval of the median — the order statistics
 * x(k)…x(n−k+1) with the largest k for which P(Binomial(n, ½) < k) ≤ 2.5 %. Up to 8 values that
 * is the whole min–max range (k = 1); it narrows as values are added (15 values: x(4)…x(12), 30:
 * x(10)…x(21)), so
 * more repetitions make a figure steadier, never wider. Null with fewer than two values or a zero
 * median.
 */
export function relativeSpread(values) {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n < 2) return null;
  const mid = median(sorted);
  if (!mid) return null;
  const k = medianIntervalRank(n);
  return (sorted[n - k] - sorted[k - 1]) / 2 / Math.abs(mid);
}

/** The rank k (1-based) of the lower end of the ~95 % interval of the median of n values. */
export function medianIntervalRank(n) {
  let k = 1;
  let below = 0; // P(Binomial(n, 1/2) <= j), summed for j = 0, 1, ...
  let term = 0.5 ** n; // C(n, j) / 2^n
  for (let j = 0; j < n; j++) {
    below += term;
    if (below > 0.025) break;
    k = j + 1; // P(X < k) = P(X <= j) <= 2.5 %
    term = (term * (n - j)) / (j + 1);
  }
  return Math.min(k, Math.ceil(n / 2));
}

/** Nearest-rank percentile; the same method as `latency_summary` in interop/src/bench.rs. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const index = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(Math.max(index, 1), sorted.length) - 1];
}

/** Latencies in milliseconds → { p50, p99, p999, mean, max, samples } (the Rust side's shape). */
export function latencySummary(millis) {
  if (millis.length === 0) return null;
  const sorted = Float64Array.from(millis).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    mean: sum / sorted.length,
    max: sorted[sorted.length - 1],
    samples: sorted.length,
  };
}

/** Linear regression slope of y over x (least squares); null with fewer than two points. */
export function slope(xs, ys) {
  const n = xs.length;
  if (n < 2) return null;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i];
    sy += ys[i];
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

export const fmt = (value, digits = 0) =>
  value === null || value === undefined || Number.isNaN(value)
    ? 'n/a'
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Two significant-ish digits for small numbers, thousands separators for big ones. */
export function fmtAuto(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return 'n/a';
  const abs = Math.abs(value);
  if (abs >= 100) return fmt(value, 0);
  if (abs >= 10) return fmt(value, 1);
  if (abs >= 1) return fmt(value, 2);
  return fmt(value, 3);
}

export function progress(message) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
