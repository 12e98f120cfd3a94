// Turns the runs of a bench into summary rows (medians per side, TS/Rust ratio, spread, target
// check) and the markdown report.
import { fmt, fmtAuto, median, relativeSpread } from './stats.mjs';

const SIDES = ['ts', 'rust', 'python'];

/** A row whose spread (the ratio's, or the one side's) is above this gets a warning marker. */
export const SPREAD_LIMIT = 0.1;
export const WARNING = '⚠';

const perMillion = (r) => (typeof r.cpuSeconds === 'number' ? (r.cpuSeconds / r.records) * 1e6 : undefined);
const recordsPerSecond = (r) => r.records / r.seconds;

/** Rows against the sink (interop/src/sink.rs): a measuring instrument, no broker cost. */
const SINK_PRODUCE = [
  { workload: 'sink produce 100 B, 1 connection', note: 'TS: sendAll$', target: { ratio: 1.0, text: '≥ 1.0× Rust' }, cpuTarget: true },
  { workload: 'sink produce 100 B, default connections', note: 'TS: sendAll$, up to 8 connections (one per partition)', cpuTarget: true },
  // TS only: read it next to the `1 connection` row (same producer settings, sendAll$ there).
  { workload: 'sink produce 100 B, 1 connection, send$ per record', note: 'TS: a loop of send$' },
];

/** Metric definitions: which runs, how to read one number from a run, and the target if any (issue 23 §2 for CPU, codec and sink). */
const METRICS = [
  ...['100 B', '1 KiB'].flatMap((size) => [
    { workload: `produce ${size}`, metric: 'records/s', better: 'higher', read: recordsPerSecond, target: { ratio: 1.0, text: '≥ 1.0× Rust' } },
    { workload: `produce ${size}`, metric: 'MB/s (values)', better: 'higher', read: (r) => (r.records * r.valueSize) / r.seconds / 1e6 },
  ]),
  { workload: 'produce 100 B, every channel subscribed', label: 'produce 100 B traced', metric: 'records/s, every diagnostics channel subscribed', better: 'higher', read: recordsPerSecond },
  { workload: 'produce latency', metric: 'p50 ms', better: 'lower', read: (r) => r.latencyMs?.p50 },
  { workload: 'produce latency', metric: 'p99 ms', better: 'lower', read: (r) => r.latencyMs?.p99, target: { ratio: 1.2, text: '≤ 1.2× Rust' } },
  { workload: 'produce latency', metric: 'p999 ms', better: 'lower', read: (r) => r.latencyMs?.p999 },
  { workload: 'consume', metric: 'records/s', better: 'higher', read: recordsPerSecond, target: { ratio: 1.0, text: '≥ 1.0× Rust' } },
  { workload: 'consume', metric: 'MB/s (values)', better: 'higher', read: (r) => r.valueBytes / r.seconds / 1e6 },
  { workload: 'end-to-end', metric: 'p50 ms', better: 'lower', read: (r) => r.latencyMs?.p50 },
  { workload: 'end-to-end', metric: 'p99 ms', better: 'lower', read: (r) => r.latencyMs?.p99, target: { ratio: 1.2, text: '≤ 1.2× Rust' } },
  { workload: 'codec', metric: 'encode PublishBatch 1,000 × 100 B, MB/s', better: 'higher', read: (r) => r.encode?.mbPerSecond, target: { ratio: 0.8, text: '≥ 0.8× Rust' } },
  { workload: 'codec', metric: 'decode Messages 1,000 × 100 B, MB/s', better: 'higher', read: (r) => r.decode?.mbPerSecond, target: { ratio: 0.6, text: '≥ 0.6× Rust' } },
  { workload: 'produce 100 B', label: 'client CPU', metric: 'CPU s per 1 M records produced', better: 'lower', read: perMillion, target: { ratio: 1.0, text: '≤ 1.0× Rust' } },
  { workload: 'consume', label: 'client CPU', metric: 'CPU s per 1 M records consumed', better: 'lower', read: perMillion, target: { ratio: 2.0, text: '≤ 2.0× Rust' } },
  ...SINK_PRODUCE.flatMap((w) => [
    { workload: w.workload, metric: `records/s, ${w.note}`, better: 'higher', read: recordsPerSecond, target: w.target },
    { workload: w.workload, metric: `client CPU s per 1 M records, ${w.note}`, better: 'lower', read: perMillion, target: w.cpuTarget ? { ratio: 1.0, text: '≤ 1.0× Rust' } : undefined },
  ]),
  { workload: 'sink consume 100 B', metric: 'records/s', better: 'higher', read: recordsPerSecond, target: { ratio: 1.0, text: '≥ 1.0× Rust' } },
  { workload: 'sink consume 100 B', metric: 'client CPU s per 1 M records', better: 'lower', read: perMillion, target: { ratio: 2.0, text: '≤ 2.0× Rust' } },
];

/**
 * The samples of one side: one per run, keyed by round and repetition so that the two sides'
 * runs made back to back pair up.
 */
function samplesBySlot(sideRuns, read) {
  const slots = new Map();
  for (const r of sideRuns) {
    const value = read(r);
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    const key = `${r.round}.${r.rep ?? 0}`;
    if (!slots.has(key)) slots.set(key, []);
    slots.get(key).push(value);
  }
  return new Map([...slots].map(([key, values]) => [key, median(values)]));
}

/**
 * One row per metric: each side's median over its runs (one per round; the cheap rows one per
 * repetition) and its spread (`relativeSpread`: half the ~95 % interval of the median, which up to
 * 8 runs is half the min–max range, relative to the median: "±x %"). The TS/Rust ratio is the
 * median of the paired ratios (each pair of runs made back to back, so a load change on a shared
 * machine moves both), with its own spread; a row is unstable when that spread (or, for a
 * one-side row, the side's) is over SPREAD_LIMIT.
 */
export function summarise(runs) {
  const rows = [];
  for (const m of METRICS) {
    const mine = runs.filter((r) => r.workload === m.workload);
    if (mine.length === 0) continue;
    const values = {};
    const spreads = {};
    const slots = {};
    for (const side of SIDES) {
      const sideRuns = mine.filter((r) => r.side === side);
      slots[side] = samplesBySlot(sideRuns, m.read);
      const samples = [...slots[side].values()];
      values[side] = sideRuns.length ? median(samples) : null;
      spreads[side] = relativeSpread(samples);
    }
    const ratios = [...slots.ts].filter(([key]) => slots.rust.get(key)).map(([key, ts]) => ts / slots.rust.get(key));
    const ratio = ratios.length ? median(ratios) : null;
    const ratioSpread = relativeSpread(ratios);
    const spread = ratio !== null ? ratioSpread : (spreads.ts ?? spreads.rust ?? spreads.python);
    let met = null;
    if (m.target && ratio !== null) met = m.better === 'higher' ? ratio >= m.target.ratio : ratio <= m.target.ratio;
    rows.push({
      workload: m.label ?? m.workload,
      source: m.workload,
      metric: m.metric,
      better: m.better,
      ...values,
      spread: { ts: spreads.ts, rust: spreads.rust, python: spreads.python, ratio: ratioSpread },
      samples: Math.max(slots.ts.size, slots.rust.size, slots.python.size),
      ratio,
      target: m.target?.text ?? null,
      met,
      unstable: spread !== null && spread > SPREAD_LIMIT,
    });
  }
  return rows;
}

const fmtSpread = (spread) => (spread === null || spread === undefined ? '' : ` ±${fmt(spread * 100, spread < 0.1 ? 1 : 0)} %`);

export function markdown(rows, runs, machine, meta) {
  const hasPython = rows.some((r) => r.python !== null);
  const lines = [];
  lines.push('# rivven-rx (TypeScript) vs rivven-client 0.0.22 (Rust)' + (hasPython ? ' and rivven 0.0.22 (Python)' : ''), '');
  lines.push(
    `Run ${meta.finishedAt} with \`${meta.command}\` (${Math.round(meta.wallSeconds)} s) — ${meta.plan.rounds} round(s) (codec and sink rows: ${meta.plan.reps} repetitions per round${meta.extraRounds ? `, plus ${meta.extraRounds} extra round(s) of them while a ratio was over ±10 %` : ''}), median per side, sides alternating A/B then B/A; one rivvend 0.0.22 broker (release harness, data on ${meta.dataRoot}), ${meta.plan.partitions} partitions for throughput topics.`,
    '',
  );
  lines.push(`Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.platform}; node ${machine.node}; ${machine.rustc}.`, '');
  const header = ['workload', 'metric', 'TS', 'Rust'];
  if (hasPython) header.push('Python');
  header.push('TS/Rust', 'spread', 'n', 'target', 'met');
  lines.push(`| ${header.join(' | ')} |`);
  lines.push(`|${header.map((h, i) => (i < 2 ? '---' : '---:')).join('|')}|`);
  const side = (value, spread) => (value === null || value === undefined ? 'n/a' : `${fmtAuto(value)}${fmtSpread(spread)}`);
  for (const r of rows) {
    const cells = [r.workload, `${r.metric} (${r.better} is better)`, side(r.ts, r.spread.ts), side(r.rust, r.spread.rust)];
    if (hasPython) cells.push(side(r.python, r.spread.python));
    const rowSpread = r.ratio !== null ? r.spread.ratio : (r.spread.ts ?? r.spread.rust ?? r.spread.python);
    cells.push(
      r.ratio === null ? 'n/a' : `${fmt(r.ratio, 2)}×`,
      rowSpread === null ? 'n/a' : `${fmtSpread(rowSpread).trim()}${r.unstable ? ` ${WARNING}` : ''}`,
      String(r.samples),
      r.target ?? '',
      r.met === null ? '' : r.met ? 'yes' : '**no**',
    );
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push('');
  const unstable = rows.filter((r) => r.unstable);
  lines.push(
    `Spread: half the ~95 % confidence interval of the median over the n runs (one per round; codec and sink rows one per repetition), relative to the median — with up to 8 runs that is ±half their min–max range; for TS/Rust, the same over the ratios of the runs made back to back. ${WARNING} marks a row above ±${SPREAD_LIMIT * 100} %: ${
      unstable.length ? `${unstable.length} here — rerun with more \`--rounds\` / \`--reps\` / \`--extra-rounds\` on a quieter machine before quoting them` : 'none here'
    }.`,
    '',
  );
  if (!hasPython) lines.push(`Python column skipped: ${meta.python.reason}`, '');
  else {
    lines.push(
      `Python: ${meta.python.description}. Its binding has no producer presets or compression setting (produce: batch_size 65,536, linger_ms 10; latency: batch_size 1, linger_ms 0) and one consumer per partition (fetch 500, round-robin over the partitions); no end-to-end run.`,
      '',
    );
    const failures = runs.filter((r) => r.side === 'python' && r.error);
    if (failures.length) lines.push('Python failures:', '', ...failures.map((r) => `- round ${r.round} ${r.workload}: ${r.error}`), '');
  }
  const p = meta.plan;
  lines.push('Workloads (same values on every side, fresh topic per side per run unless said otherwise):', '');
  lines.push(
    `- **produce**: ${p.produce.map((w) => `${w.records.toLocaleString('en-US')} × ${w.name}`).join(' and ')} keyless records, high-throughput preset (64 KiB batches, linger 10 ms, 10 in flight, LZ4); first send → last acknowledgement, connect and first metadata fetch excluded.`,
  );
  lines.push(`- **produce latency**: ${p.latency.records} × ${p.latency.valueSize} B, low-latency preset (batch 1, linger 0, 1 in flight, no compression), closed loop: each send waits for the previous acknowledgement; ${p.latency.warmup} warm-up records off the clock.`);
  lines.push(
    `- **consume**: one backlog of ${p.backlog.records.toLocaleString('en-US')} × ${p.backlog.valueSize} B over ${p.partitions} partitions, seeded once (64 parallel connections), read from offset 0 by each side with a static assignment and default fetch sizes (500 records per partition per fetch), no commits; timed from creating the consumer (connect included on both sides) to the last record.`,
  );
  lines.push(`- **end-to-end**: ${p.e2e.records} × ${p.e2e.valueSize} B sent at ${p.e2e.rate}/s by a low-latency producer into a one-partition topic while a consumer in the same process reads; latency = receive − send time carried in the value.`);
  lines.push(`- **codec**: encode a PublishBatch of ${p.codec.records.toLocaleString('en-US')} × ${p.codec.valueSize} B to wire bytes (TS \`requestToWire\`, Rust \`Request::to_wire\`) and decode a Messages response of ${p.codec.records.toLocaleString('en-US')} records (TS \`parseFrameBody\` + \`decodeResponse\`, Rust \`Response::from_wire\`), ${p.codec.millis} ms each after warm-up, ${p.reps} times per round; MB/s of wire bytes.`);
  lines.push('- **client CPU**: user+system CPU of the client process over the timed interval (TS `process.cpuUsage()`, Rust the process CPU clock `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`, Python `resource.getrusage`), per million records; the broker (or sink) is not included. On 2 cores the client competes with the broker, so cheaper is faster.');
  if (p.sink) {
    lines.push(
      `- **sink rows** (a measuring instrument, not a broker: \`rivven-rx-interop sink\`, interop/src/sink.rs): the same clients against a server that speaks the rivven-protocol 0.0.22 wire but answers produce at once without a WAL (keeping only the newest records per partition, which the rivven-rx producer reads back before acknowledging) and serves Consume from a pre-generated in-memory log — so the client, not rivvend's ~1.5 ms per record, is the limit. Produce: ${p.sink.records.toLocaleString('en-US')} × ${p.sink.valueSize} B keyless records into a fresh ${p.partitions}-partition topic, high-throughput preset on both sides; \`1 connection\` is TS with \`connections: 1\` (Rust always uses one); \`default connections\` is the preset's 8 (one per partition here); \`send$ per record\` is TS only, one \`send$\` subscription per record instead of \`sendAll$\`. Consume: the whole log, ${p.sink.logRecords.toLocaleString('en-US')} × ${p.sink.valueSize} B over ${p.partitions} partitions, as the consume workload. ${p.reps} repetitions per round, sides alternating; before the first round TS runs every sink workload 4 times off the record (JIT warm-up: a TS run's CPU falls by up to half over its first three or four runs, then holds — a long-running service pays that once). These warm-ups come before the rivvend rows too. Not rivvend's figures: never quote them as broker throughput.`,
    );
  }
  lines.push(
    '- rivvend 0.0.22 appends a PublishBatch record by record with an fsync each (~1.5 ms per record per connection, even on tmpfs) but group-commits across connections: produce throughput on one connection is broker-bound near 650 records/s. rivven-client 0.0.22 and the Python binding produce over one connection; rivven-rx\'s high-throughput preset spreads partitions over up to 8 connections (3 here, one per partition), which is where its produce lead comes from. Its consumer likewise fetches over up to 4 connections.',
  );
  lines.push("- A lone request takes ~44 ms round trip on rivvend 0.0.22 (no TCP_NODELAY, replies written in two parts, so the reply tail waits for the client's delayed ACK). That is the floor of both latency workloads for the Rust and Python clients; rivven-rx's connections send a Ping to force the ACK (`quickAck`, on by default), which is where its latency lead comes from.");
  lines.push('');
  lines.push('<details><summary>Per run</summary>', '');
  lines.push('| round(.repetition) | workload | side | records | seconds | records/s | p50 ms | p99 ms | client CPU s |');
  lines.push('|---:|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    const rate = r.records && r.seconds ? r.records / r.seconds : null;
    const enc = r.encode ? `encode ${fmtAuto(r.encode.mbPerSecond)} / decode ${fmtAuto(r.decode.mbPerSecond)} MB/s` : null;
    const round = r.rep === undefined ? String(r.round) : `${r.round}.${r.rep + 1}`;
    lines.push(
      `| ${round} | ${r.workload} | ${r.side} | ${r.records ?? ''} | ${enc ?? fmtAuto(r.seconds)} | ${fmtAuto(rate)} | ${fmtAuto(r.latencyMs?.p50)} | ${fmtAuto(r.latencyMs?.p99)} | ${fmtAuto(r.cpuSeconds)} |`,
    );
  }
  lines.push('', '</details>');
  return lines.join('\n') + '\n';
}
