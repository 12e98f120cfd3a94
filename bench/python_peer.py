#!/usr/bin/env python3
"""The Python `rivven` 0.0.22 client (PyPI) side of `npm run bench`: one JSON line on stdout.

  python_peer.py produce ADDR TOPIC RECORDS VALUE_SIZE     high throughput (batch 64 KiB, linger 10 ms)
  python_peer.py latency ADDR TOPIC RECORDS VALUE_SIZE WARMUP   one record at a time (linger 0)
  python_peer.py consume ADDR TOPIC PARTITIONS RECORDS     one consumer per partition, from offset 0

The Python binding has no presets, no compression option and partition-bound consumers, so it
is configured as close to the others as its API allows (see the report notes).
Values match `benchValue` in bench/lib/values.mjs.
"""
import asyncio
import inspect
import json
import os
import resource
import sys
import time

import rivven._rivven as rivven  # the wheel ships only the extension module, no __init__.py


def bench_value(index: int, size: int) -> bytes:
    prefix = f"{index}:".encode("ascii")
    body = bytearray(prefix[:size])
    i = 0
    while len(body) < size:
        body.append(97 + ((index + i * 7) % 26))
        i += 1
    return bytes(body)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summary(millis):
    if not millis:
        return None
    s = sorted(millis)

    def rank(p):
        import math
        index = math.ceil(p / 100 * len(s))
        return s[min(max(index, 1), len(s)) - 1]

    return {"p50": rank(50), "p99": rank(99), "p999": rank(99.9), "mean": sum(s) / len(s), "max": s[-1], "samples": len(s)}


async def produce(addr, topic, records, size):
    client = await rivven.connect(addr)
    producer = await client.producer(topic, batch_size=65536, linger_ms=10)
    messages = [(bench_value(i, size), None) for i in range(records)]
    cpu = cpu_seconds()
    started = time.perf_counter()
    offsets = await producer.send_batch(messages)
    await producer.flush()
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    await close(producer)
    return {"records": records, "acked": len(offsets), "seconds": seconds, "cpuSeconds": cpu}


async def latency(addr, topic, records, size, warmup):
    client = await rivven.connect(addr)
    producer = await client.producer(topic, batch_size=1, linger_ms=0)
    for i in range(warmup):
        await producer.send(bench_value(i, size))
    values = [bench_value(i, size) for i in range(records)]
    millis = []
    cpu = cpu_seconds()
    started = time.perf_counter()
    for value in values:
        sent = time.perf_counter()
        await producer.send(value)
        millis.append((time.perf_counter() - sent) * 1000)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    await close(producer)
    return {"records": records, "seconds": seconds, "cpuSeconds": cpu, "latencyMs": summary(millis)}


async def consume(addr, topic, partitions, records):
    cpu = cpu_seconds()
    started = time.perf_counter()
    client = await rivven.connect(addr)
    consumers = [
        await client.consumer(topic, partition=p, start_offset=0, batch_size=500, auto_commit=False)
        for p in range(partitions)
    ]
    counts = [0] * partitions
    value_bytes = 0
    total = 0
    # Round-robin over the partitions until the backlog is read.
    while total < records:
        progressed = False
        for p, consumer in enumerate(consumers):
            batch = await consumer.fetch(max_messages=500)
            if batch:
                progressed = True
                counts[p] += len(batch)
                total += len(batch)
                for message in batch:
                    value_bytes += len(message.value)
        if not progressed and time.perf_counter() - started > 600:
            raise RuntimeError(f"only {total} of {records} records within 600 s")
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    for consumer in consumers:
        await close(consumer)
    return {"records": total, "valueBytes": value_bytes, "seconds": seconds, "cpuSeconds": cpu}


async def close(resource):
    """close() is a coroutine on Producer and a plain method on Consumer in 0.0.22."""
    result = resource.close()
    if inspect.isawaitable(result):
        await result


def main():
    mode, addr, topic, *rest = sys.argv[1:]
    numbers = [int(x) for x in rest]
    if mode == "produce":
        result = asyncio.run(produce(addr, topic, *numbers))
    elif mode == "latency":
        result = asyncio.run(latency(addr, topic, *numbers))
    elif mode == "consume":
        result = asyncio.run(consume(addr, topic, *numbers))
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(result), flush=True)
    # rivven 0.0.22's extension can crash (SIGSEGV) during interpreter teardown after a producer
    # was closed; the measurement is complete, so leave without running the teardown.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
