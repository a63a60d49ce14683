#!/usr/bin/env python3
"""bench/agent's table, from client.py's JSON: table.py overhead.json load.json [--elapsed S] [--max-turns N]."""
import json
import os
import random
import statistics
import sys

TARGET_US = 5000  # the gateway's added time at p50, first event and turn end


def load(path):
    try:
        with open(path) as f:
            return json.loads(f.read() or "null")
    except (OSError, ValueError):
        return None


overhead, agent_load = load(sys.argv[1]), load(sys.argv[2])
option = lambda name, default: sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default  # noqa: E731
elapsed, max_turns = option("--elapsed", "?"), option("--max-turns", "?")


def ms(us):
    return "–" if us is None else f"{us / 1000:,.1f} ms"


def mib(kib):
    return "–" if kib is None else f"{kib / 1024:,.1f} MiB"


def signed(us):
    return "–" if us is None else ("+" if us >= 0 else "−") + ms(abs(us))


def median_difference_interval(direct, gateway, rounds=2000):
    """95 % bootstrap interval of median(gateway) − median(direct), both resampled (fixed seed)."""
    if not direct or not gateway:
        return None
    rng = random.Random(1)
    estimates = sorted(
        statistics.median(rng.choices(gateway, k=len(gateway))) - statistics.median(rng.choices(direct, k=len(direct)))
        for _ in range(rounds))
    return estimates[int(0.025 * rounds)], estimates[int(0.975 * rounds)]


def per_turn(cpu, name, turns):
    value = (cpu or {}).get(name)
    return "–" if value is None or not turns else f"{value * 1000 / turns:,.1f} ms"


rows = []  # (measure, direct, gateway, added, target, result)

if overhead:
    direct, gateway = overhead["direct"], overhead["gateway"]
    for key, label, target in [
        ("first", "first event (thread.started)", True),
        ("done", "turn completed", True),
    ]:
        for p, with_target in (("p50", target), ("p99", False)):
            d, g = direct.get(f"{key}_{p}_us"), gateway.get(f"{key}_{p}_us")
            added = None if d is None or g is None else g - d
            verdict = "–"
            if with_target:
                verdict = "MISSING" if added is None else ("PASS" if added <= TARGET_US else "FAIL")
            rows.append((f"1. {label}, {p}", ms(d), ms(g), signed(added), f"added ≤ {ms(TARGET_US)}" if with_target else "(info)", verdict))
        interval = median_difference_interval(direct[f"{key}_us"], gateway[f"{key}_us"])
        if interval:
            rows.append((f"1. {label}, added p50: 95 % bootstrap interval", "", "", f"{signed(interval[0])} … {signed(interval[1])}", "(info)", "–"))
    cpu = overhead.get("cpu_seconds")
    rows.append(("1. CPU per turn: the app-server", per_turn(cpu, "direct_app_server", direct["turns"]),
                 per_turn(cpu, "gateway_app_server", gateway["turns"]), "", "(info)", "–"))
    rows.append(("1. CPU per turn: the commands it ran (bwrap, bash)", per_turn(cpu, "direct_commands", direct["turns"]),
                 per_turn(cpu, "gateway_commands", gateway["turns"]), "", "(info)", "–"))
    rows.append(("1. CPU per turn: the gateway", "", per_turn(cpu, "gateway", gateway["turns"]), "", "(info)", "–"))
    for way in ("direct", "gateway"):
        side = overhead[way]
        if side["errors"]:
            rows.append((f"1. failed turns ({way})", "", str(side["errors"]), "", "none", "FAIL"))

if agent_load:
    a = agent_load
    rows.append((f"2. turns/s, {a['clients']} conversations at once", "", f"{a['turns_per_second']:,.2f} /s ({a['turns']} turns in {a['window_seconds']:,.0f} s)", "", "(info)", "–"))
    rows.append(("2. turn latency under load, p50 / p99", "", f"{ms(a['done_p50_us'])} / {ms(a['done_p99_us'])}", "", "(info)", "–"))
    for who, key in (("gateway", "gateway_kib"), ("codex app-server", "engine_kib")):
        idle, one, started, peak, loaded = (a[f"rss_{when}"][key] for when in ("idle", "one", "started", "peak", "loaded"))
        n = a["conversations"]
        per = None if one is None or loaded is None or not n else (loaded - one) / n
        rows.append((f"2. RSS of the {who}: at start, 1 thread → {n + 1} threads loaded (peak)", f"{mib(idle)}, {mib(one)}",
                     f"{mib(loaded)} ({mib(peak)})", "", "(info)", "–"))
        rows.append((f"2. RSS of the {who} per loaded thread", "", "–" if per is None else f"{per:,.0f} KiB", "", "(info)", "–"))
    cpu, window, counted = a.get("cpu_seconds") or {}, a.get("window_seconds"), a["turns"]
    for name, label in (("gateway", "the gateway"), ("app_server", "its app-server"), ("commands", "the commands it ran"), ("upstream", "fake-openai")):
        rows.append((f"2. CPU per turn under load: {label}", "", per_turn(cpu, name, counted), "", "(info)", "–"))
    if window and cpu.get("machine") is not None:
        known = sum(cpu.get(name) or 0 for name in ("gateway", "app_server", "commands", "upstream", "client"))
        cores = os.cpu_count() or 1
        rows.append(("2. machine CPU in the window: busy of available, of it not ours", "", f"{cpu['machine']:,.1f} of {window * cores:,.1f} CPU-s",
                     f"{cpu['machine'] - known:,.1f} CPU-s", "(info)", "–"))
    if a["errors"] or a["conversations"] < a["clients"]:
        rows.append(("2. failed turns", "", f"{a['errors']} ({'; '.join(a['error_samples'])[:200]})", "", "none", "FAIL"))

header = ("Measure", "Direct (codex app-server) or at start", "Through the gateway", "Added", "Target", "Result")
widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
print(line(header))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in rows:
    print(line(r))
print()
if overhead:
    print(f"1: {overhead['direct']['turns']} + {overhead['gateway']['turns']} measured turns after {overhead['warmup']} warm-up turns each, "
          "one at a time, each in a new conversation, the two ways alternating; the gateway's path includes its own "
          "loopback /v1/responses hop (Codex → gateway → fake-openai).")
if agent_load:
    print(f"2: each conversation's first turn before the window ({agent_load['opening_seconds']:.1f} s for all); "
          f"per loaded thread = (RSS once the window's turns ended − RSS after one "
          f"turn in a conversation of its own, before the others) / {agent_load['conversations']}; "
          f"MAX_CONCURRENT_TURNS={max_turns}, RATE_LIMIT_*=0.")
print(f"Run time {elapsed} s.")
