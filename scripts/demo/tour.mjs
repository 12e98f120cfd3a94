// What `npm run demo` shows, against a broker at `bootstrap`: a producer streaming orders into a
// two-member consumer group (health$ as a live dashboard), one member leaving mid-way, then an
// exactly-once consume-transform-produce step read back read_committed; a summary with the checks.
//
// Imported by scripts/demo.mjs once dist/ is built: `rivven-rx` resolves to this package's own
// build (package self-reference), exactly as an application's import would.
import { combineLatest, concatMap, defer, filter, firstValueFrom, lastValueFrom, map, mergeMap, range, retry, takeWhile, tap, timeout } from 'rxjs';
import { Rivven, TransactionAbortedError, commitOffsets, transactional } from 'rivven-rx';
import { Screen, count, duration, percentile } from './screen.mjs';

const PARTITIONS = 6;
/** How many records the producer keeps in flight (send$ in mergeMap: backpressure by acknowledgement). */
const IN_FLIGHT = 64;
/** Exactly-once workers (two partitions each). */
const EOS_WORKERS = 3;

/** Records per second over the last second or so of samples. */
class Rate {
  samples = [];
  of(value) {
    const now = performance.now();
    this.samples.push({ now, value });
    while (this.samples.length > 2 && now - this.samples[1].now >= 1_000) this.samples.shift();
    const first = this.samples[0];
    return now - first.now < 100 ? 0 : ((value - first.value) * 1_000) / (now - first.now);
  }
}

/** Rejects after `ms` with `what` in the message; the timer never keeps the process alive. */
function deadline(promise, ms, what) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${duration(ms)}`)), ms);
    timer.unref();
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/**
 * Runs the tour; resolves with `true` when every check passed. Everything it opened is closed
 * before it resolves (or rejects).
 * @param {{ bootstrap: string, orders?: number, out?: NodeJS.WriteStream, live?: boolean }} options
 */
export async function tour({ bootstrap, orders: total = 5_000, out = process.stdout, live }) {
  const screen = new Screen(out, { live });
  // Unique names per run: a second run against the same broker starts from nothing.
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const ordersTopic = `demo-orders-${run}`;
  const enrichedTopic = `demo-orders-enriched-${run}`;
  const groupId = `demo-billing-${run}`;
  const all = Array.from({ length: PARTITIONS }, (_, p) => p);
  const rivven = new Rivven({ bootstrapServers: bootstrap, clientId: 'demo' });
  const checks = [];
  const check = (name, ok, detail) => checks.push({ name, ok, detail });

  try {
    const admin = await firstValueFrom(rivven.admin$());
    for (const topic of [ordersTopic, enrichedTopic]) await firstValueFrom(admin.createTopic$(topic, PARTITIONS));
    screen.line(`topics ${ordersTopic} and ${enrichedTopic}, ${PARTITIONS} partitions each`);

    // ---- 1. a two-member consumer group, fed by a producer ------------------------------------
    out.write(`\n1/2  a producer streams ${count(total)} orders into a two-member consumer group (group ${groupId})\n`);
    const processed = new Map(); // order id → times the group processed it
    let groupProcessed = 0;
    let resolveHalfway;
    const halfway = new Promise((r) => (resolveHalfway = r));
    let resolveAllSeen;
    const allSeen = new Promise((r) => (resolveAllSeen = r));
    const generations = new Set();
    let consumeStarted;
    let consumeEnded;

    const member = (name) => {
      const consumer = rivven.consumer({
        groupId,
        topics: [ordersTopic],
        heartbeatIntervalMs: 500,
        sessionTimeoutMs: 6_000,
        lagIntervalMs: 500,
      });
      const m = { name, consumer, health: consumer.health(), processed: 0, error: undefined };
      consumer.health$.subscribe((h) => (m.health = h));
      consumer.rebalances$.subscribe((event) => {
        const partitions = event.partitions.map((tp) => tp.partition).join(',') || '-';
        if (event.type === 'assigned') generations.add(event.generationId);
        screen.line(`${name}: ${event.type} [${partitions}] (generation ${event.generationId}${event.type === 'revoked' ? `, ${event.reason}` : ''})`);
      });
      // The work: parse the order, "bill" it (an await: processing is asynchronous, so records are
      // in flight in the pipeline when a rebalance comes), then acknowledge and commit in batches.
      m.done = new Promise((resolve) =>
        consumer.records$
          .pipe(
            concatMap(async (record) => {
              const order = JSON.parse(record.value.toString());
              await new Promise((r) => setImmediate(r));
              consumeStarted ??= performance.now();
              consumeEnded = performance.now();
              m.processed++;
              groupProcessed++;
              processed.set(order.id, (processed.get(order.id) ?? 0) + 1);
              if (groupProcessed === Math.floor(total / 2)) resolveHalfway();
              if (processed.size === total) resolveAllSeen();
              return record;
            }),
            commitOffsets({ maxBatchSize: 250, maxIntervalMs: 500 }),
          )
          .subscribe({
            error: (error) => {
              m.error = error;
              screen.line(`${name}: records$ failed: ${error?.message ?? error}`);
              resolve();
            },
            complete: resolve,
          }),
      );
      return m;
    };
    const members = [member('alice'), member('bob')];
    const [alice, bob] = members;
    const formed = performance.now();
    await deadline(
      firstValueFrom(combineLatest(members.map((m) => m.consumer.assignments$)).pipe(filter((owned) => owned.every((a) => a.length === PARTITIONS / 2)))),
      20_000,
      'the group sharing the partitions',
    );
    screen.line(`group formed: alice and bob own ${PARTITIONS / 2} partitions each (${duration(performance.now() - formed)})`);

    // The dashboard: the producer's progress and each member's health$, on one line.
    const producer = rivven.producer({ connections: PARTITIONS });
    let acked = 0;
    const latencies = new Float64Array(total);
    const produceRate = new Rate();
    const readRate = new Rate();
    const memberStatus = (m) => {
      const h = m.health;
      const lag = h.state === 'closed' || h.lag === undefined ? '' : ` lag ${count(Number(h.lag))}`;
      return `${m.name} ${h.state} ${h.assignedPartitions}p${lag} (${count(m.processed)})`;
    };
    out.write('     dashboard: records sent (acknowledged) │ processed by the group │ per member, from its health$: state, partitions, lag (records processed)\n');
    screen.status(
      () =>
        `sent ${count(acked)}/${count(total)} ${count(produceRate.of(acked))}/s │ ` +
        `read ${count(groupProcessed)} ${count(readRate.of(groupProcessed))}/s │ ` +
        members.map(memberStatus).join(' │ '),
    );

    const order = (n) => ({ id: `order-${n}`, customer: `customer-${n % 997}`, total: ((n * 7919) % 50_000) / 100 });
    const produceStarted = performance.now();
    let produceEnded = produceStarted;
    const producing = lastValueFrom(
      range(0, total).pipe(
        mergeMap(
          (n) =>
            defer(() => {
              const sent = performance.now();
              const o = order(n);
              return producer.send$({ topic: ordersTopic, key: o.customer, value: JSON.stringify(o) }).pipe(
                tap(() => {
                  produceEnded = performance.now();
                  latencies[acked++] = produceEnded - sent;
                }),
              );
            }),
          IN_FLIGHT,
        ),
      ),
      { defaultValue: undefined },
    );
    producing.catch(() => {}); // awaited below; if a step before fails, closing the producer ends it quietly

    // Mid-way, bob leaves: close() stops his fetching, waits for his pipeline to acknowledge what
    // it was given, commits, and leaves the group; alice takes his partitions over.
    await deadline(halfway, 30_000, 'half the orders processed');
    screen.line(`bob leaves mid-way (${count(groupProcessed)} of ${count(total)} processed): close() drains, commits, leaves the group`);
    const leaving = performance.now();
    await deadline(bob.consumer.close(), 20_000, "bob's close()");
    screen.line(`bob closed in ${duration(performance.now() - leaving)} after processing ${count(bob.processed)} orders`);
    await deadline(firstValueFrom(alice.consumer.assignments$.pipe(filter((a) => a.length === PARTITIONS))), 20_000, 'alice taking over');
    const takeover = performance.now() - leaving;
    screen.line(`alice owns all ${PARTITIONS} partitions, ${duration(takeover)} after bob began to leave`);

    await deadline(producing, 60_000, 'producing');
    await deadline(allSeen, 30_000, 'the group processing every order');
    // Caught up: alice's lag reading covers every partition at lag 0; then close() drains what is
    // still in her pipeline. Anything processed twice would have been counted by then.
    await deadline(
      firstValueFrom(alice.consumer.lag$.pipe(filter((lags) => lags.length === PARTITIONS && lags.every((l) => l.lag === 0n)))),
      10_000,
      'alice catching up',
    );
    screen.stop();
    await alice.consumer.close();
    await producer.close();
    await Promise.all(members.map((m) => m.done));

    const duplicates = [...processed.values()].reduce((sum, times) => sum + times - 1, 0);
    const missing = total - processed.size;
    const produceSeconds = (produceEnded - produceStarted) / 1_000;
    const p50 = percentile(latencies.subarray(0, acked), 50);
    const p99 = percentile(latencies.subarray(0, acked), 99);
    const consumeSeconds = ((consumeEnded ?? 0) - (consumeStarted ?? 0)) / 1_000;
    const drainTimeouts = members.reduce((sum, m) => sum + m.health.rebalanceDrainTimeouts, 0);
    const stats = { produceRate: acked / produceSeconds, consumeRate: groupProcessed / consumeSeconds };
    check('every order acknowledged', acked === total, `${count(acked)} of ${count(total)}`);
    check('every order processed by the group', missing === 0, `${count(missing)} missing`);
    check('no order processed twice across the handover', duplicates === 0, `${count(duplicates)} duplicates, ${drainTimeouts} drain timeouts`);
    for (const m of members) check(`${m.name}'s pipeline ended cleanly`, m.error === undefined, String(m.error?.message ?? 'ok'));

    // ---- 2. exactly-once: consume-transform-produce in transactions ---------------------------
    out.write(
      `\n2/2  exactly-once: ${EOS_WORKERS} workers price the orders into ${enrichedTopic}; each transaction commits its outputs and its inputs' offsets together\n`,
    );
    const bounds = await Promise.all(all.map((p) => firstValueFrom(admin.getOffsetBounds$(ordersTopic, p))));
    const logEnds = new Map(all.map((p) => [p, bounds[p].latest]));
    const committed = new Map(); // input partition → next offset committed with a transaction
    let transactions = 0;
    let aborted = 0;
    let failOnce = true;
    const inputsCommitted = () => all.reduce((sum, p) => sum + Number(committed.get(p) ?? 0n), 0);
    const caughtUp = (partitions) => partitions.every((p) => committed.get(p) === logEnds.get(p));
    const price = (record) => {
      const o = JSON.parse(record.value.toString());
      // One failure on purpose, mid-way: its transaction aborts, the worker's consumer is rewound,
      // and retry() starts the worker over from the committed offsets — still exactly once.
      if (failOnce && o.id === `order-${Math.floor(total * 0.6)}`) {
        failOnce = false;
        throw new Error(`could not price ${o.id} (a failure on purpose)`);
      }
      const priced = { id: o.id, customer: o.customer, cents: Math.round(o.total * 100) };
      return { topic: enrichedTopic, partition: record.partition, key: record.key, value: JSON.stringify(priced) };
    };
    // A worker: a static assignment (transactional() is exactly-once with `assign`, see
    // docs/exactly-once.md, "Rebalances") and a TransactionalProducer of its own. rivvend commits
    // records arriving on different connections together, so workers multiply the throughput.
    const worker = async (partitions, i) => {
      const txProducer = await firstValueFrom(rivven.transactionalProducer$({ transactionalId: `demo-pricer-${run}-${i}` }));
      const consumer = rivven.consumer({ groupId: `demo-pricer-${run}`, assign: { [ordersTopic]: partitions }, enableAutoCommit: false });
      try {
        await lastValueFrom(
          defer(() => consumer.records$.pipe(map(price), transactional(txProducer, { consumer, maxBatchRecords: 500, maxBatchMs: 200 }))).pipe(
            tap({
              error: (error) => {
                if (!(error instanceof TransactionAbortedError)) return;
                aborted++;
                screen.line(`worker ${i}: transaction aborted, consumer rewound to the committed offsets (${error.cause?.message ?? error.message}); retrying`);
              },
            }),
            retry({ count: 3, delay: 200 }),
            tap((txn) => {
              transactions++;
              for (const o of txn.offsets) committed.set(o.partition, o.offset);
            }),
            takeWhile(() => !caughtUp(partitions)),
            timeout({ each: 20_000 }),
          ),
          { defaultValue: undefined },
        );
      } finally {
        await consumer.close();
        await txProducer.close();
      }
    };
    const eosStarted = performance.now();
    const txnRate = new Rate();
    screen.status(
      () =>
        `exactly-once: ${count(inputsCommitted())}/${count(total)} inputs committed ${count(txnRate.of(inputsCommitted()))}/s │ ` +
        `${transactions} transactions │ ${aborted} aborted`,
    );
    const shares = Array.from({ length: EOS_WORKERS }, (_, i) => all.filter((p) => p % EOS_WORKERS === i));
    const results = await deadline(Promise.allSettled(shares.map(worker)), 90_000, 'the exactly-once step');
    const eosSeconds = (performance.now() - eosStarted) / 1_000;
    screen.stop();
    for (const [i, result] of results.entries()) {
      check(`exactly-once worker ${i} ended cleanly`, result.status === 'fulfilled', result.status === 'fulfilled' ? 'ok' : String(result.reason?.message ?? result.reason));
    }

    // Read the output back read_committed: each order exactly once, nothing else.
    const reader = rivven.consumer({ groupId: `demo-audit-${run}`, assign: { [enrichedTopic]: all }, isolationLevel: 'read_committed', ackMode: 'onEmit' });
    const seen = new Map();
    let read = 0;
    let lastRead = performance.now();
    const reading = reader.records$.subscribe((record) => {
      const { id } = JSON.parse(record.value.toString());
      seen.set(id, (seen.get(id) ?? 0) + 1);
      read++;
      lastRead = performance.now();
    });
    const readStarted = performance.now();
    // Everything was committed before the read began: read until a second passes with nothing new.
    while (!((read >= total && performance.now() - lastRead > 1_000) || performance.now() - readStarted > 20_000)) {
      await new Promise((r) => setTimeout(r, 100));
    }
    reading.unsubscribe();
    await reader.close();
    const eosDuplicates = [...seen.values()].reduce((sum, times) => sum + times - 1, 0);
    const eosMissing = [...processed.keys()].filter((id) => !seen.has(id)).length;
    const strangers = [...seen.keys()].filter((id) => !processed.has(id)).length;
    out.write(
      `${screen.stamp()}  read back read_committed: ${count(read)} records, ${count(seen.size)} distinct orders ` +
        `(${transactions} transactions committed, ${aborted} aborted and retried, ${duration(eosSeconds * 1_000)})\n`,
    );
    check('exactly-once inputs all committed', caughtUp(all), `${count(inputsCommitted())} of ${count(total)}`);
    check('exactly-once output holds each order exactly once', read === total && eosDuplicates === 0 && eosMissing === 0 && strangers === 0,
      `${count(read)} records, ${count(eosDuplicates)} duplicated, ${count(eosMissing)} missing, ${count(strangers)} unknown`);
    check('the failure on purpose aborted one transaction', aborted === 1, `${aborted} aborted`);
    stats.eos = { read, distinct: seen.size, duplicates: eosDuplicates, transactions, aborted, rate: total / eosSeconds };
    // Leave a broker of yours (RIVVEN_BOOTSTRAP) as it was: the demo's topics go (best effort).
    for (const topic of [ordersTopic, enrichedTopic]) await firstValueFrom(admin.deleteTopic$(topic), { defaultValue: undefined }).catch(() => {});
    await admin.close();

    // ---- summary ---------------------------------------------------------------------------------
    const ms = (v) => (v === undefined ? '–' : `${v.toFixed(1)} ms`);
    const rebalances = generations.size - 1;
    out.write('\nsummary\n');
    out.write(`  produce       ${count(acked)} records in ${produceSeconds.toFixed(1)} s: ${count(stats.produceRate)} records/s; send→ack p50 ${ms(p50)}, p99 ${ms(p99)} (${IN_FLIGHT} in flight)\n`);
    out.write(
      `  consume       ${count(groupProcessed)} records by the group: ${count(stats.consumeRate)} records/s; ${rebalances} rebalance${rebalances === 1 ? '' : 's'} ` +
        `(generations ${[...generations].sort((a, b) => a - b).join(' → ')}); bob's partitions taken over ${duration(takeover)} after he began to leave\n`,
    );
    out.write(`  duplicates    ${count(duplicates)} (orders the group processed more than once, by order id); ${count(missing)} missing\n`);
    out.write(
      `  exactly-once  ${count(total)} inputs → ${count(read)} outputs read back read_committed, ${count(seen.size)} distinct; ` +
        `${count(stats.eos.rate)} records/s, ${transactions} transactions, ${aborted} aborted and retried\n`,
    );
    out.write('\nchecks\n');
    for (const c of checks) out.write(`  ${c.ok ? 'ok    ' : 'FAILED'}  ${c.name} (${c.detail})\n`);
    const ok = checks.every((c) => c.ok);
    out.write(
      `\nsummary: ${count(stats.produceRate)} records/s, p99 ${ms(p99)}, rebalances ${rebalances}, duplicates ${duplicates}, ` +
        `exactly-once ${seen.size}/${total} (${eosDuplicates} duplicated) — ${ok ? 'all checks passed' : `${checks.filter((c) => !c.ok).length} checks FAILED`}\n`,
    );
    return ok;
  } finally {
    screen.stop(false);
    await rivven.close();
  }
}
