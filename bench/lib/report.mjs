// Turns the runs of a bench into summary rows (medians per side, TS/Rust ratio, target check)
// and the markdown report.
import { fmt, fmtAuto, median } from './stats.mjs';

const SIDES = ['ts', 'rust', 'python'];

/** Metric definitions: which runs, how to read one number from a run, and the target if any. */
const METRICS = [
  ...['100 B', '1 KiB'].flatMap((size) => [
    { workload: `produce ${size}`, metric: 'records/s', better: 'higher', read: (r) => r.records / r.seconds, target: { ratio: 1.0, text: '≥ 1.0× Rust' } },
    { workload: `produce ${size}`, metric: 'MB/s (values)', better: 'higher', read: (r) => (r.records * r.valueSize) / r.seconds / 1e6 },
  ]),
  { workload: 'produce 100 B, every channel subscribed', label: 'produce 100 B traced', metric: 'records/s, every diagnostics channel subscribed', better: 'higher', read: (r) => r.records / r.seconds },
  { workload: 'produce latency', metric: 'p50 ms', better: 'lower', read: (r) => r.latencyMs?.p50 },
  { workload: 'produce latency', metric: 'p99 ms', better: 'lower', read: (r) => r.latencyMs?.p99, target: { ratio: 1.2, text: '≤ 1.2× Rust' } },
  { workload: 'produce latency', metric: 'p999 ms', better: 'lower', read: (r) => r.latencyMs?.p999 },
  { workload: 'consume', metric: 'records/s', better: 'higher', read: (r) => r.records / r.seconds, target: { ratio: 1.0, text: '≥ 1.0× Rust' } },
  { workload: 'consume', metric: 'MB/s (values)', better: 'higher', read: (r) => r.valueBytes / r.seconds / 1e6 },
  { workload: 'end-to-end', metric: 'p50 ms', better: 'lower', read: (r) => r.latencyMs?.p50 },
  { workload: 'end-to-end', metric: 'p99 ms', better: 'lower', read: (r) => r.latencyMs?.p99, target: { ratio: 1.2, text: '≤ 1.2× Rust' } },
  { workload: 'codec', metric: 'encode PublishBatch 1,000 × 100 B, MB/s', better: 'higher', read: (r) => r.encode?.mbPerSecond, target: { ratio: 0.5, text: 'within 2× of Rust' } },
  { workload: 'codec', metric: 'decode Messages 1,000 × 100 B, MB/s', better: 'higher', read: (r) => r.decode?.mbPerSecond, target: { ratio: 0.5, text: 'within 2× of Rust' } },
  {
    workload: 'produce 100 B',
    label: 'client CPU',
    metric: 'CPU s per 1 M records produced',
    better: 'lower',
    read: (r) => (typeof r.cpuSeconds === 'number' ? (r.cpuSeconds / r.records) * 1e6 : undefined),
  },
  {
    workload: 'consume',
    label: 'client CPU',
    metric: 'CPU s per 1 M records consumed',
    better: 'lower',
    read: (r) => (typeof r.cpuSeconds === 'number' ? (r.cpuSeconds / r.records) * 1e6 : undefined),
  },
];

export function summarise(runs) {
  const rows = [];
  for (const m of METRICS) {
    const mine = runs.filter((r) => r.workload === m.workload);
    if (mine.length === 0) continue;
    const values = {};
    for (const side of SIDES) {
      const sideRuns = mine.filter((r) => r.side === side);
      values[side] = sideRuns.length ? median(sideRuns.map((r) => m.read(r)).filter((v) => typeof v === 'number' && Number.isFinite(v))) : null;
    }
    const ratio = values.ts !== null && values.rust ? values.ts / values.rust : null;
    let met = null;
    if (m.target && ratio !== null) met = m.better === 'higher' ? ratio >= m.target.ratio : ratio <= m.target.ratio;
    rows.push({ workload: m.label ?? m.workload, metric: m.metric, better: m.better, ...values, ratio, target: m.target?.text ?? null, met });
  }
  return rows;
}

export function markdown(rows, runs, machine, meta) {
  const hasPython = rows.some((r) => r.python !== null);
  const lines = [];
  lines.push('# rivven-rx (TypeScript) vs rivven-client 0.0.22 (Rust)' + (hasPython ? ' and rivven 0.0.22 (Python)' : ''), '');
  lines.push(
    `Run ${meta.finishedAt} with \`${meta.command}\` (${Math.round(meta.wallSeconds)} s) — ${meta.plan.rounds} round(s), median per side, sides alternating A/B then B/A; one rivvend 0.0.22 broker (release harness, data on ${meta.dataRoot}), ${meta.plan.partitions} partitions for throughput topics.`,
    '',
  );
  lines.push(`Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.platform}; node ${machine.node}; ${machine.rustc}.`, '');
  const header = ['workload', 'metric', 'TS', 'Rust'];
  if (hasPython) header.push('Python');
  header.push('TS/Rust', 'target', 'met');
  lines.push(`| ${header.join(' | ')} |`);
  lines.push(`|${header.map((h, i) => (i < 2 ? '---' : '---:')).join('|')}|`);
  for (const r of rows) {
    const cells = [r.workload, `${r.metric} (${r.better} is better)`, fmtAuto(r.ts), fmtAuto(r.rust)];
    if (hasPython) cells.push(fmtAuto(r.python));
    cells.push(r.ratio === null ? 'n/a' : `${fmt(r.ratio, 2)}×`, r.target ?? '', r.met === null ? '' : r.met ? 'yes' : '**no**');
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push('');
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
  lines.push(`- **codec**: encode a PublishBatch of ${p.codec.records.toLocaleString('en-US')} × ${p.codec.valueSize} B to wire bytes (TS \`requestToWire\`, Rust \`Request::to_wire\`) and decode a Messages response of ${p.codec.records.toLocaleString('en-US')} records (TS \`parseFrameBody\` + \`decodeResponse\`, Rust \`Response::from_wire\`), ${p.codec.millis} ms each after warm-up; MB/s of wire bytes.`);
  lines.push('- **client CPU**: user+system CPU of the client process over the timed interval (TS `process.cpuUsage()`, Rust /proc/self/stat in 10 ms ticks, Python `resource.getrusage`), per million records; the broker is not included. On 2 cores the client competes with the broker, so cheaper is faster.');
  lines.push(
    '- rivvend 0.0.22 appends a PublishBatch record by record with an fsync each (~1.5 ms per record per connection, even on tmpfs) but group-commits across connections: produce throughput on one connection is broker-bound near 650 records/s. rivven-client 0.0.22 and the Python binding produce over one connection; rivven-rx\'s high-throughput preset spreads partitions over up to 8 connections (3 here, one per partition), which is where its produce lead comes from. Its consumer likewise fetches over up to 4 connections.',
  );
  lines.push("- A lone request takes ~44 ms round trip on rivvend 0.0.22 (no TCP_NODELAY, replies written in two parts, so the reply tail waits for the client's delayed ACK). That is the floor of both latency workloads for the Rust and Python clients; rivven-rx's connections send a Ping to force the ACK (`quickAck`, on by default), which is where its latency lead comes from.");
  lines.push('');
  lines.push('<details><summary>Per run</summary>', '');
  lines.push('| round | workload | side | records | seconds | records/s | p50 ms | p99 ms | client CPU s |');
  lines.push('|---:|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    const rate = r.records && r.seconds ? r.records / r.seconds : null;
    const enc = r.encode ? `encode ${fmtAuto(r.encode.mbPerSecond)} / decode ${fmtAuto(r.decode.mbPerSecond)} MB/s` : null;
    lines.push(
      `| ${r.round} | ${r.workload} | ${r.side} | ${r.records ?? ''} | ${enc ?? fmtAuto(r.seconds)} | ${fmtAuto(rate)} | ${fmtAuto(r.latencyMs?.p50)} | ${fmtAuto(r.latencyMs?.p99)} | ${fmtAuto(r.cpuSeconds)} |`,
    );
  }
  lines.push('', '</details>');
  return lines.join('\n') + '\n';
}
