#!/usr/bin/env python3
"""bench/replicas/table.py results.jsonl [--note TEXT]...: the tables of bench/replicas/run.

Each measurement ran once per round at 1 connection and at 32; a cell is the median over the
rounds (requests/s with its range), CPU per request is the CPU of all rounds over their requests.
"""
import argparse
import json
import statistics
from collections import defaultdict

parser = argparse.ArgumentParser()
parser.add_argument("results")
parser.add_argument("--note", action="append", default=[])
args = parser.parse_args()

runs = defaultdict(list)
for line in open(args.results):
    line = line.strip()
    if line:
        r = json.loads(line)
        runs[(r["name"], r["connections"])].append(r)


def med(name, conns, key):
    values = [r[key] for r in runs.get((name, conns), [])]
    return statistics.median(values) if values else None


def ms(us):
    return "–" if us is None else f"{us / 1000:.2f}"


def rps(name, conns=32):
    values = [r["rps"] for r in runs.get((name, conns), [])]
    if not values:
        return "–"
    m = statistics.median(values)
    return f"{m:,.0f} ({min(values):,.0f}–{max(values):,.0f})" if len(values) > 1 else f"{m:,.0f}"


def cpu_per_request(name, conns, trees):
    rs = runs.get((name, conns), [])
    requests = sum(r["requests"] for r in rs)
    if not requests:
        return "–"
    return " + ".join(f"{sum(r['cpu'].get(t, 0) for r in rs) / requests * 1e6:.0f}" for t in trees)


def refused(name):
    rs = [r for c in (1, 32) for r in runs.get((name, c), [])]
    total = sum(r["requests"] for r in rs)
    bad = sum(r["status_ge_400"] + r["errors"] for r in rs)
    return "–" if not total else ("0" if not bad else f"{bad / total:.1%}")


def added(a, b, conns, key):
    x, y = med(a, conns, key), med(b, conns, key)
    return "–" if x is None or y is None else f"{(x - y) / 1000:+.2f}"


def rps_ratio(a, b):
    x, y = med(a, 32, "rps"), med(b, 32, "rps")
    return "–" if not x or not y else f"{x / y:.2f}×"


out = []
w = out.append
w("### 2. The rate limiter: one gateway, SQLite (in memory) against PostgreSQL (shared)")
w("")
w("| Request | Store | Limits | p50 / p99 at 1 conn (ms) | req/s at 32 conns (range) | p50 / p99 at 32 (ms) | ≥ 400 | CPU µs/req: gateway + postgres + fake-openai | added p50 at 1 conn vs limits off (ms) | req/s vs off |")
w("|---|---|---|---|---|---|---|---|---|---|")
for request, label in (("chat", "POST /v1/chat/completions"), ("whoami", "GET /whoami")):
    for store in ("sqlite", "pg"):
        for limits in ("off", "high", "high_keys", "high_nosync", "default"):
            name = f"{request}_{store}_{limits}"
            if (name, 1) not in runs and (name, 32) not in runs:
                continue
            base = f"{request}_{store}_off"
            base = f"{request}_{store}_off"
            w(f"| {label} | {'SQLite' if store == 'sqlite' else 'PostgreSQL'} | {dict(off='off (0)', high='10⁹ (none refused)', high_keys='10⁹, 64 keys in turn', high_nosync='10⁹, synchronous_commit off', default='100/min (refused: 429)')[limits]} "
              f"| {ms(med(name, 1, 'p50_us'))} / {ms(med(name, 1, 'p99_us'))} | {rps(name)} | {ms(med(name, 32, 'p50_us'))} / {ms(med(name, 32, 'p99_us'))} "
              f"| {refused(name)} | {cpu_per_request(name, 32, ('gateway', 'postgres', 'upstream'))} "
              f"| {'' if limits in ('off', 'high_keys') else added(name, base, 1, 'p50_us')} | {'' if limits == 'off' else rps_ratio(name, base)} |")
w("")
w("### 1. One replica against two (nginx round robin; both replicas on one PostgreSQL, limits 10⁹)")
w("")
w("| Request | Path | API keys | req/s at 32 conns (range) | p50 / p99 at 32 (ms) | ≥ 400 | CPU µs/req: A + B + nginx + postgres + fake-openai | req/s vs nginx → A |")
w("|---|---|---|---|---|---|---|---|")
for request, label in (("chat", "POST /v1/chat/completions"), ("whoami", "GET /whoami")):
    for target, path in (("lb_one", "nginx → A"), ("lb_two", "nginx → A, B"), ("lb_one_keys", "nginx → A"), ("lb_two_keys", "nginx → A, B")):
        name = f"{request}_{target}"
        if (name, 32) not in runs:
            continue
        w(f"| {label} | {path} | {'64 in turn' if target.endswith('_keys') else 'one'} | {rps(name)} | {ms(med(name, 32, 'p50_us'))} / {ms(med(name, 32, 'p99_us'))} | {refused(name)} "
          f"| {cpu_per_request(name, 32, ('replica_a', 'replica_b', 'lb', 'postgres', 'upstream'))} "
          f"| {rps_ratio(name, f'{request}_lb_one' + ('_keys' if target.endswith('_keys') else '')) if 'two' in target else ''} |")
w("")
w("### 3. A forwarded request: GET /conversations/{id} of a conversation homed on A")
w("")
w("| Through | p50 / p99 at 1 conn (ms) | req/s at 32 conns (range) | p50 / p99 at 32 (ms) | ≥ 400 | CPU µs/req: A + B + postgres | added p50 at 1 conn (ms) | req/s vs A |")
w("|---|---|---|---|---|---|---|---|")
for via, label in (("a", "A (its home)"), ("b", "B (forwarded to A)")):
    name = f"status_via_{via}"
    if (name, 1) not in runs:
        continue
    w(f"| {label} | {ms(med(name, 1, 'p50_us'))} / {ms(med(name, 1, 'p99_us'))} | {rps(name)} | {ms(med(name, 32, 'p50_us'))} / {ms(med(name, 32, 'p99_us'))} "
      f"| {refused(name)} | {cpu_per_request(name, 32, ('replica_a', 'replica_b', 'postgres'))} "
      f"| {'' if via == 'a' else added(name, 'status_via_a', 1, 'p50_us')} | {'' if via == 'a' else rps_ratio(name, 'status_via_a')} |")
w("")
machine = sum(r["cpu"]["machine"] for rs in runs.values() for r in rs)
others = sum(r["cpu"]["others"] for rs in runs.values() for r in rs)
window = sum(r["cpu"]["window_s"] for rs in runs.values() for r in rs)
w(f"Measured windows: {window:.0f} s; the machine was busy {machine:.1f} CPU-s in them, {others:.1f} of it not ours "
  f"({others / machine:.0%}: other work on the machine)." if machine else "No measured windows.")
for note in args.note:
    w(f"- {note}")
print("\n".join(out))
