#!/usr/bin/env python3
"""bench/replicas/measure.py: one wrk measurement as one JSON line (bench/wrk-run's format, plus GET).

    measure.py --name NAME --url URL [--method GET|POST] [--body JSON] [--header 'Name: value']...
               [--connections 1] [--threads 1] [--warmup-seconds 1] [--seconds 2]
               [--keys KEY,KEY,...] [--tree name=PID[+PID...]]... [--extra k=v]...

Runs wrk (keep-alive connections, closed loop) once to warm up and once measured, and prints the
measured run: wrk's latency percentiles (µs), requests/s, the answers with a status of 400 or more (wrk's
`status` errors), socket errors, and the CPU seconds each listed process *tree* used (the
process and all its descendants, so PostgreSQL's backends and nginx's worker count with their
parent; a descendant born during the run counts from zero), wrk's own CPU, the whole machine's busy
CPU and what of it was not ours (the machine less everything listed and wrk: other people's work
on a shared machine).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

LUA = r"""
wrk.method = os.getenv("WRK_METHOD")
local body = os.getenv("WRK_BODY")
if body ~= "" then wrk.body = body end
for line in string.gmatch(os.getenv("WRK_HEADERS"), "[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end
-- WRK_KEYS (comma-separated): X-API-Key takes the next of them on every request, so that
-- concurrent requests come from different principals; each wrk thread starts at its own place.
local keys = {}
for key in string.gmatch(os.getenv("WRK_KEYS") or "", "[^,]+") do keys[#keys + 1] = key end
local made = 0
setup = function(thread)
  thread:set("start", made * 7919)
  made = made + 1
end
init = function(args) counter = start or 0 end
if #keys > 0 then
  request = function()
    counter = counter + 1
    wrk.headers["X-API-Key"] = keys[(counter % #keys) + 1]
    return wrk.format()
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
"""

TICK = os.sysconf("SC_CLK_TCK")


def process_table():
    """pid → (parent pid, CPU seconds) for every process now."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            table[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK)
        except (OSError, IndexError, ValueError):
            pass
    return table


def tree_cpu(table, roots):
    """pid → CPU seconds of `roots` and all their descendants."""
    children = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    seen, stack = {}, [r for r in roots if r in table]
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen[pid] = table[pid][1]
        stack.extend(children.get(pid, []))
    return seen


def machine_busy_seconds():
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICK  # less idle and iowait


def run_wrk(args, script, seconds):
    command = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds}s", "--timeout", "10s",
               "-s", script, args.url]
    env = dict(os.environ, WRK_METHOD=args.method, WRK_BODY=args.body, WRK_HEADERS="\n".join(args.header), WRK_KEYS=args.keys)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        sys.exit(f"measure: wrk failed ({done.returncode}): {done.stdout.strip()} {done.stderr.strip()}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        sys.exit(f"measure: no summary from wrk: {done.stdout.strip()} {done.stderr.strip()}")
    return json.loads(lines[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="POST")
    parser.add_argument("--body", default="")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--keys", default="", help="comma-separated API keys, one per request in turn (X-API-Key)")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup-seconds", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--tree", action="append", default=[], help="name=PID[+PID…]: a process tree to account")
    parser.add_argument("--extra", action="append", default=[], help="k=v copied into the JSON line")
    args = parser.parse_args()
    trees = []
    for item in args.tree:
        name, numbers = item.split("=", 1)
        trees.append((name, [int(p) for p in numbers.split("+") if p]))

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA)
        script = f.name
    try:
        if args.warmup_seconds > 0:
            run_wrk(args, script, args.warmup_seconds)
        before_table = process_table()
        before = [tree_cpu(before_table, roots) for _, roots in trees]
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        machine = machine_busy_seconds()
        started = time.monotonic()
        w = run_wrk(args, script, args.seconds)
        window = time.monotonic() - started
        machine = machine_busy_seconds() - machine
        after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        after_table = process_table()
    finally:
        os.unlink(script)

    cpu = {}
    for (name, roots), start in zip(trees, before):
        end = tree_cpu(after_table, roots)
        cpu[name] = round(sum(seconds - start.get(pid, 0.0) for pid, seconds in end.items()), 3)
    cpu["client"] = round(after_children.ru_utime + after_children.ru_stime - children.ru_utime - children.ru_stime, 3)
    cpu["machine"] = round(machine, 3)
    cpu["others"] = round(max(0.0, machine - sum(v for k, v in cpu.items() if k != "machine")), 3)
    cpu["window_s"] = round(window, 3)

    requests = w["requests"]
    line = {
        "name": args.name, "method": args.method, "connections": args.connections, "threads": args.threads,
        "requests": requests, "status_ge_400": w["status"],
        "errors": w["connect"] + w["read"] + w["write"] + w["timeout"],
        "rps": round(requests / (w["duration_us"] / 1e6), 1),
        "p50_us": w["p50"], "p90_us": w["p90"], "p99_us": w["p99"], "max_us": w["max"], "mean_us": w["mean"],
        "cpu": cpu,
    }
    for item in args.extra:
        key, value = item.split("=", 1)
        line[key] = value
    print(json.dumps(line))
    print(f"  {args.name:<24} c{args.connections:<3} {line['rps']:>9,.0f} req/s  p50 {w['p50'] / 1000:6.2f} ms  p99 {w['p99'] / 1000:6.2f} ms"
          f"  >=400: {w['status']}  errors: {line['errors']}  not ours: {cpu['others']:.2f} of {cpu['machine']:.2f} CPU-s", file=sys.stderr)


main()
