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


# 1. Latency, one request at a time: the target on the https path (wrk, nginx), then the same
# measured other ways (information), to tell the upstream's, the client's and TLS's shares apart.
LATENCY_CASES = (  # label, direct, gateway, targets (p50, p99) or None
    ("https provider, nginx, wrk", "wlatency_https_direct", "wlatency_https_gateway", (200, 1000)),
    ("http provider, nginx, wrk", "wlatency_http_direct", "wlatency_http_gateway", None),
    ("http provider, nginx, load client", "latency_http_direct", "latency_http_gateway", None),
    ("https provider, nginx, load client (direct: nginx over http)", "latency_http_direct", "latency_https_gateway", None),
    ("http provider, fake-openai, load client", "latency_direct", "latency_gateway", None),
)
for label, direct, gateway, limits in LATENCY_CASES:
    if direct not in results and gateway not in results:
        continue
    added_row(f"1. Latency p50, 1 request at a time: {label}", direct, gateway, "latency_p50_us", limits and limits[0])
    added_row(f"1. Latency p99: {label}", direct, gateway, "latency_p99_us", limits and limits[1])

# 2. Throughput, the same cases
THROUGHPUT_CASES = (
    ("https provider, nginx, wrk", "wthroughput_https_direct", "wthroughput_https_gateway", 5000),
    ("http provider, nginx, wrk", "wthroughput_http_direct", "wthroughput_http_gateway", None),
    ("http provider, nginx, load client", "throughput_http_direct", "throughput_http_gateway", None),
    ("https provider, nginx, load client (direct: nginx over http)", "throughput_http_direct", "throughput_https_gateway", None),
    ("http provider, fake-openai, load client", "throughput_direct", "throughput_gateway", None),
)
for label, direct, gateway, limit in THROUGHPUT_CASES:
    if direct not in results and gateway not in results:
        continue
    dp, gp = problem(direct), problem(gateway)
    d, g = get(direct, "rps"), get(gateway, "rps")
    broken = "" if gp else failures(gateway)
    rows.append((
        f"2. Requests/s, 32 keep-alive connections: {label}",
        dp or f"{d:,.0f} /s", gp or f"{g:,.0f} /s" + (f" ({broken})" if broken else ""),
        "–" if dp or gp else f"{(g / d - 1) * 100:+.0f} %",
        f"gateway ≥ {limit:,} /s" if limit else "(info)",
        ("MISSING" if gp else verdict(g >= limit and not broken)) if limit else "–",
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
    target = 100_000 if n == 1000 else None
    gap_row(f"4a. {n:,} steady streams (20 ms chunks), https provider: gap p99", d, g, "gap_p99_us")
    gap_row(f"4a. {n:,} steady streams, https provider: max gap", d, g, "gap_max_us", target, note_failures=True)
for name, label in (("responses1000_gateway", "4d. 1,000 steady streams of POST /v1/responses (bridge), https"),
                    ("responses1000_gateway_http", "4d. 1,000 steady streams of POST /v1/responses (bridge), http"),
                    ("streams1000_gateway_http", "4c. 1,000 steady streams, http provider"),
                    ("streams1000_before", "4c. 1,000 steady streams, http provider, the gateway before (splice)"),
                    ("streams1000_tcprelay", "4c. 1,000 steady streams via a bare TCP relay (the floor)")):
    if name in results:
        gap_row(f"{label}: gap p99", "streams1000_direct", name, "gap_p99_us")
        gap_row(f"{label}: max gap", "streams1000_direct", name, "gap_max_us", note_failures=True)

if "relay128_responses" in results:
    gap_row("4e. 128 steady streams from fake-openai, /v1/responses relayed (baseline: chat relayed): max gap",
            "relay128_chat", "relay128_responses", "gap_max_us", note_failures=True)


def cpu_per_chunk(name):
    """The gateway's CPU µs per content event the client read in the window (None if none was read;
    streams that did not finish in the window still count their events)."""
    cpu, chunks = get(name, "cpu"), get(name, "gap_count")
    if not cpu or not chunks:
        return None
    return cpu.get("gateway", 0) / chunks * 1e6


def ratio_row(label, base_label, base, name_label, name, limit=None):
    b, v = cpu_per_chunk(base), cpu_per_chunk(name)
    if b is None and v is None:
        return
    shown = lambda x, n: "–" if x is None else f"{x:,.1f} µs ({n})"
    rows.append((label, shown(b, base_label), shown(v, name_label),
                 "–" if b is None or v is None else f"{v / b:.2f}×",
                 f"≤ {limit}× the chat relay" if limit else "(info)",
                 ("MISSING" if b is None or v is None else verdict(v <= limit * b)) if limit else "–"))


ratio_row("4c. Gateway CPU per chunk, 1,000 http streams: before → this build", "before, splice", "streams1000_before",
          "this build", "streams1000_gateway_http")
ratio_row("4c. Gateway CPU per chunk, 1,000 streams: http → https provider", "http", "streams1000_gateway_http",
          "https", "streams1000_gateway")
ratio_row("4d. Gateway CPU per chunk, 1,000 https streams: chat relay → /v1/responses bridge", "chat", "streams1000_gateway",
          "responses", "responses1000_gateway", limit=2)
ratio_row("4e. Gateway CPU per chunk, 128 streams from fake-openai: chat relay → Responses relay", "chat", "relay128_chat",
          "responses", "relay128_responses")
ratio_row("4d. Gateway CPU per chunk, 1,000 http streams: chat relay → /v1/responses bridge", "chat", "streams1000_gateway_http",
          "responses", "responses1000_gateway_http", limit=2)
gap_row("4b. Burst: 1,000 streams requested at once: gap p99", "gaps1000_direct", "gaps1000_gateway", "gap_p99_us")
gap_row("4b. Burst: max gap", "gaps1000_direct", "gaps1000_gateway", "gap_max_us", note_failures=True)
gap_row("4b. Burst: first chunk p99", "gaps1000_direct", "gaps1000_gateway", "first_content_p99_us")

# 5. RSS
for name, label, limited in (("rss_start", "5. Idle RSS after start", True),
                             ("rss_start_cached", "5. Idle RSS after start, executable already in the page cache", False),
                             ("rss_after_load", "5. Idle RSS after the load (pools still open)", False)):
    g = get(name, "rss_kib")
    anon = get(name, "anon_kib")
    shown = mib(g) + (f" (heap etc. {mib(anon)})" if anon is not None else "")
    if name == "rss_start_cached" and name not in results:
        continue
    rows.append((label, f"fake {mib(get(name, 'fake_rss_kib'))}" if get(name, "fake_rss_kib") else "–", shown, "–", "≤ 40 MiB" if limited else "(info)",
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

headers = ("Measure", "Direct (the upstream) or baseline", "Through the gateway", "Added", "Target", "Result")
widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(len(headers))]


def line(cells):
    return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"


print(line(headers))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in rows:
    print(line(r))

# Context: where the CPU went in the loaded phases (the servers and the client share 2 cores).
print()
print("CPU seconds in each measured window (gateway / upstream / load client or wrk / whole machine; "
      "'others' = machine less these, i.e. unrelated processes).\nThe upstream is nginx's worker in the rows named "
      "http/https and w* (wrk), fake-openai in latency_*, throughput_*, ttft_* and gaps_*, the lean streamer "
      "`load-client upstream` in the streams rows\n(4a, 4c, 4d; 'tls' is its nginx TLS front)"
      + (", the streamer, its TLS front and the load client SCHED_BATCH" if results.get("scheduling", {}).get("streams_batch") else "")
      + ". In streams1000_tcprelay the 'gateway' column is the bare TCP relay:")
width = max((len(n) for n in results), default=22)
for name in results:
    cpu = get(name, "cpu")
    if not cpu:
        continue
    upstream = cpu.get("upstream", cpu.get("fake", 0))  # "fake" in results from before the lean upstream
    tls = cpu.get("tls_front", 0)
    others = cpu.get("machine", 0) - cpu.get("gateway", 0) - upstream - tls - cpu.get("client", 0)
    n = get(name, "requests") or get(name, "streams") or 0
    per = ""
    if n and (name.startswith(("latency", "throughput", "ttft", "w")) and not name.startswith("websockets")):
        per = f"; per request: gateway {cpu.get('gateway', 0) / n * 1e6:,.0f} µs, upstream {upstream / n * 1e6:,.0f} µs"
    chunks = get(name, "gap_count")
    if chunks and name.startswith(("streams", "responses")):
        per = f"; per chunk: gateway {cpu.get('gateway', 0) / chunks * 1e6:,.0f} µs, upstream {upstream / chunks * 1e6:,.0f} µs"
    if get(name, "upstream_accepts") is not None:
        per += f"; nginx accepted {get(name, 'upstream_accepts'):,} connections (warm-up included)"
    print(f"  {name:{width}} window {cpu['window_s']:6.2f} s: gateway {cpu.get('gateway', 0):6.2f}, upstream {upstream:6.2f}, "
          + (f"tls {tls:5.2f}, " if "tls_front" in cpu else "")
          + f"client {cpu.get('client', 0):5.2f}, machine {cpu.get('machine', 0):6.2f}, others {max(others, 0):5.2f}{per}")
    threads = get(name, "gateway_threads")
    if threads:  # bench/threadstat around the whole run (warm-up included): CPU-s and switches by thread
        print(f"  {'':{width}}   gateway threads (whole run): "
              + ", ".join(f"{t} {v['cpu_s']:.2f} s ({v['vol'] + v['invol']:,} switches)" for t, v in list(threads.items())[:5]))
for name in ("machine", "machine_end"):
    if name in results:
        nice = results[name].get("nice")
        print(f"  load average at {'start' if name == 'machine' else 'end'}: {results[name]['loadavg']}"
              + (f" (servers and client ran at nice {nice})" if nice else ""))
print(f"\nbench/run took {elapsed} s. Raw results: bench/out/results.jsonl")
