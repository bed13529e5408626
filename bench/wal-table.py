#!/usr/bin/env python3
"""Prints the Markdown table of docs/benchmarks.md from a WalAppendBenchmark JMH JSON result.

usage: python3 bench/wal-table.py bench/results/wal-append.json

Scores are the mean of the measurement iterations, with their min-max in brackets (with 3
iterations, JMH's 99.9% error bar is too wide to be useful on a shared machine). Records per fsync
is syncedRecords / fsyncs, the target's own counters over the same iterations.
"""
import json
import sys


def load(path):
    rows = {}
    for r in json.load(open(path)):
        target = r["params"]["target"]
        threads = r["threads"]
        prim = r["primaryMetric"]
        iters = [x for fork in prim["rawData"] for x in fork]
        sec = r.get("secondaryMetrics", {})
        f = sec.get("fsyncs", {}).get("score", 0)
        s = sec.get("syncedRecords", {}).get("score", 0)
        rows[(threads, target)] = {
            "score": prim["score"],
            "min": min(iters),
            "max": max(iters),
            "per_fsync": s / f if f else float("nan"),
        }
    return rows


def cell(row):
    if row is None:
        return "n/a"
    return f"{row['score']:,.0f} [{row['min']:,.0f}–{row['max']:,.0f}]"


def main():
    rows = load(sys.argv[1])
    threads = sorted({t for t, _ in rows})
    print("| appenders | Strata WAL SYNC records/s | Strata records/fsync | raw write+force records/s"
          " | raw, preallocated file records/s | RocksDB sync put records/s | RocksDB records/fsync"
          " | Strata / RocksDB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in threads:
        s = rows.get((t, "strata"))
        raw = rows.get((t, "raw"))
        pre = rows.get((t, "rawPrealloc"))
        rdb = rows.get((t, "rocksdb"))
        ratio = f"{s['score'] / rdb['score']:.2f}" if s and rdb else "n/a"
        print(f"| {t} | {cell(s)} | {s['per_fsync']:.1f} | {cell(raw)} | {cell(pre)} | {cell(rdb)}"
              f" | {rdb['per_fsync']:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
