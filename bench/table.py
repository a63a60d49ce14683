#!/usr/bin/env python3
"""Turns bench/out/results.jsonl (one JSON line per measurement, from bench/run) into the table."""
import json
import sys

path = sys.argv[1]
elapsed = sys.argv[sys.argv.index("--elapsed") + 1] if "--elapsed" in sys.argv else "?"
results = {}
with open(path) as f:
    for line in f:
        line = line.strip()
        if line:
            d = json.loads(line)
            results[d["name"]] = d


def get(name, key, default=None):
    return results.get(name, {}).get(key, default)


def problem(name):
    """Why a run has no usable figures at all (None when it has some)."""
    d = results.get(name)
    if d is None:
        return "not run"
    if d.get("failed"):
        return "load client failed"
    status = d.get("status")
    if status is not None and not status.get("200"):
        bad = {k: v for k, v in status.items() if k != "200"}
        return ("HTTP " + ",".join(f"{k}×{v}" for k, v in sorted(bad.items()))) if bad else "no responses"
    return None


def failures(name):
    """Non-200 answers, client errors and short streams of a run that has figures: '' when none."""
    d = results.get(name, {})
    notes = []
    status = d.get("status") or {}
    total = sum(status.values())
    bad = {k: v for k, v in status.items() if k != "200"}
    if bad:
        notes.append(", ".join(f"{v:,} of {total:,} HTTP {k}" for k, v in sorted(bad.items())))
    if d.get("errors"):
        notes.append(f"{d['errors']} errors")
    if d.get("short_streams"):
        notes.append(f"{d['short_streams']:,} streams cut short")
    return "; ".join(notes)


def us(v):
    return "–" if v is None else f"{v:,.0f} µs"


def ms(v):
    return "–" if v is None else f"{v / 1000:,.1f} ms"


def mib(kib):
    return "–" if kib is None else f"{kib / 1024:,.1f} MiB"


rows = []  # (measure, direct, gateway, added, target, result)


def verdict(ok):
    return "PASS" if ok else "FAIL"


def added_row(label, direct, gateway, key, limit_us, fmt=us):
    dp, gp = problem(direct), problem(gateway)
    d, g = get(direct, key), get(gateway, key)
    target = f"added ≤ {fmt(limit_us)}" if limit_us is not None else "(info)"
    if dp or gp:
        rows.append((label, dp or fmt(d), gp or fmt(g), "–", target, "MISSING" if limit_us is not None else "–"))
        return
    add = g - d
    broken = failures(gateway)
    rows.append((label, fmt(d), fmt(g) + (f" ({broken})" if broken else ""), ("+" if add >= 0 else "") + fmt(add), target,
                 verdict(add <= limit_us and not broken) if limit_us is not None else "–"))


added_row("1. Latency p50, 1 request at a time (non-streaming)", "latency_direct", "latency_gateway", "latency_p50_us", 200)
added_row("1. Latency p99, 1 request at a time", "latency_direct", "latency_gateway", "latency_p99_us", 1000)

# 2. Throughput
dp, gp = problem("throughput_direct"), problem("throughput_gateway")
d, g = get("throughput_direct", "rps"), get("throughput_gateway", "rps")
broken = "" if gp else failures("throughput_gateway")
rows.append((
    "2. Requests/s, 32 keep-alive connections",
    dp or f"{d:,.0f} /s", gp or f"{g:,.0f} /s" + (f" ({broken})" if broken else ""),
    "–" if dp or gp else f"{(g / d - 1) * 100:+.0f} %",
    "gateway ≥ 5,000 /s",
    "MISSING" if gp else verdict(g >= 5000 and not broken),
))

added_row("3. Time to first token p50 (stream)", "ttft_direct", "ttft_gateway", "ttft_p50_us", 500)
added_row("3. Time to first token p99 (stream)", "ttft_direct", "ttft_gateway", "ttft_p99_us", None)


def gap_row(label, direct, gateway, key, limit_us=None, note_failures=False):
    dp, gp = problem(direct), problem(gateway)
    d, g = get(direct, key), get(gateway, key)
    broken = "" if gp else failures(gateway)
    shown = gp or ms(g)
    if broken and note_failures:
        shown += f" ({broken})"
    rows.append((
        label, dp or ms(d), shown,
        "–" if dp or gp else ("+" if g >= d else "") + ms(g - d),
        f"gateway ≤ {ms(limit_us)}, every stream whole" if limit_us else "(info)",
        ("MISSING" if gp else verdict(g <= limit_us and not broken)) if limit_us else "–",
    ))


for n in (128, 500, 1000):
    d, g = f"streams{n}_direct", f"streams{n}_gateway"
    target = 50_000 if n == 1000 else None
    gap_row(f"4a. {n:,} steady streams (20 ms chunks): gap p99", d, g, "gap_p99_us")
    gap_row(f"4a. {n:,} steady streams: max gap", d, g, "gap_max_us", target, note_failures=True)
if "streams1000_tcprelay" in results:
    gap_row("4a. 1,000 steady streams via a bare TCP relay (the floor): gap p99", "streams1000_direct", "streams1000_tcprelay", "gap_p99_us")
    gap_row("4a. 1,000 steady streams via a bare TCP relay: max gap", "streams1000_direct", "streams1000_tcprelay", "gap_max_us", note_failures=True)
gap_row("4b. Burst: 1,000 streams requested at once: gap p99", "gaps1000_direct", "gaps1000_gateway", "gap_p99_us")
gap_row("4b. Burst: max gap", "gaps1000_direct", "gaps1000_gateway", "gap_max_us", note_failures=True)
gap_row("4b. Burst: first chunk p99", "gaps1000_direct", "gaps1000_gateway", "first_content_p99_us")

# 5. RSS
for name, label, limited in (("rss_start", "5. Idle RSS after start", True),
                             ("rss_after_load", "5. Idle RSS after the load (pools still open)", False)):
    g = get(name, "rss_kib")
    anon = get(name, "anon_kib")
    shown = mib(g) + (f" (heap etc. {mib(anon)})" if anon is not None else "")
    rows.append((label, f"fake {mib(get(name, 'fake_rss_kib'))}", shown, "–", "≤ 40 MiB" if limited else "(info)",
                 ("MISSING" if g is None else verdict(g <= 40 * 1024)) if limited else "–"))

# 6. WebSockets
ws = results.get("websockets", {})
if ws.get("failed") or "rss_open_kib" not in ws:
    rows.append(("6. RSS with 10,000 idle WebSockets", "–", "load client failed", "–", "(info)", "–"))
else:
    opened = ws.get("opened", 0)
    per = (ws["rss_open_kib"] - ws["rss_before_kib"]) / max(opened, 1)
    rows.append((
        f"6. RSS with {opened:,} idle WebSockets open",
        "–", mib(ws["rss_open_kib"]),
        f"+{mib(ws['rss_open_kib'] - ws['rss_before_kib'])} ({per:,.1f} KiB each)",
        "(info)", "–",
    ))
    rows.append(("6. RSS after they closed", "–", mib(ws.get("rss_after_close_kib")), "–", "(info)", "–"))

# 7. Cold start
cs = results.get("coldstart", {})
if cs.get("failed") or not cs.get("runs"):
    rows.append(("7. Cold start: exec → first 200 on /health", "–", "failed", "–", "≤ 150 ms", "MISSING"))
else:
    rows.append((
        f"7. Cold start: exec → first 200 on /health (median of {cs['runs']})",
        "–", ms(cs["ready_p50_us"]), f"min {ms(cs['ready_min_us'])}, max {ms(cs['ready_max_us'])}",
        "≤ 150 ms", verdict(cs["ready_p50_us"] <= 150_000),
    ))

headers = ("Measure", "Direct (the upstream)", "Through the gateway", "Added", "Target", "Result")
widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(len(headers))]


def line(cells):
    return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"


print(line(headers))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in rows:
    print(line(r))

# Context: where the CPU went in the loaded phases (the servers and the client share 2 cores).
print()
print("CPU seconds in each measured window (gateway / upstream / load client / whole machine; "
      "'others' = machine less these three, i.e. unrelated processes). The upstream is fake-openai,\n"
      "except in the streams rows (4a): the lean streamer `load-client upstream`, with its own gateway"
      + (", the streamer and the load client SCHED_BATCH" if results.get("scheduling", {}).get("streams_batch") else "")
      + ".\nIn streams1000_tcprelay the 'gateway' column is the bare TCP relay:")
for name in ("latency_direct", "latency_gateway", "throughput_direct", "throughput_gateway", "ttft_direct",
             "ttft_gateway", "streams128_direct", "streams128_gateway", "streams500_direct", "streams500_gateway",
             "streams1000_direct", "streams1000_gateway", "streams1000_tcprelay", "gaps1000_direct", "gaps1000_gateway"):
    cpu = get(name, "cpu")
    if not cpu:
        continue
    upstream = cpu.get("upstream", cpu.get("fake", 0))  # "fake" in results from before the lean upstream
    others = cpu.get("machine", 0) - cpu.get("gateway", 0) - upstream - cpu.get("client", 0)
    n = get(name, "requests") or get(name, "streams") or 0
    per = ""
    if n and name.startswith(("latency", "throughput", "ttft")):
        per = f"; per request: gateway {cpu.get('gateway', 0) / n * 1e6:,.0f} µs, upstream {upstream / n * 1e6:,.0f} µs"
    chunks = get(name, "gap_count")
    if chunks and name.startswith("streams"):
        per = f"; per chunk: gateway {cpu.get('gateway', 0) / chunks * 1e6:,.0f} µs, upstream {upstream / chunks * 1e6:,.0f} µs"
    print(f"  {name:22} window {cpu['window_s']:6.2f} s: gateway {cpu.get('gateway', 0):6.2f}, upstream {upstream:6.2f}, "
          f"client {cpu.get('client', 0):5.2f}, machine {cpu.get('machine', 0):6.2f}, others {max(others, 0):5.2f}{per}")
for name in ("machine", "machine_end"):
    if name in results:
        nice = results[name].get("nice")
        print(f"  load average at {'start' if name == 'machine' else 'end'}: {results[name]['loadavg']}"
              + (f" (servers and client ran at nice {nice})" if nice else ""))
print(f"\nbench/run took {elapsed} s. Raw results: bench/out/results.jsonl")
