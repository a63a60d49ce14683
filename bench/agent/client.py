#!/usr/bin/env python3
"""bench/agent's clients: agent turns straight to `codex app-server`, or through the gateway's /exec.

    client.py overhead --codex BIN --home DIR --upstream URL --model M --url URL --key KEY --gateway-pid PID --prompt P --turns N --warmup W
    client.py load     --url URL --key KEY --prompt P --clients C --seconds S --gateway-pid PID --upstream-pid PID

Each prints one JSON line on stdout. `overhead` runs one turn at a time, each in a new
conversation (a new Codex thread), and time from sending the request that starts the thread (the
app-server's `thread/start`, the gateway's `POST /exec`) to the first event (`thread/started`; the
first JSON line, `thread.started`) and to the end of the turn (`turn/completed`; `turn.completed`),
on the monotonic clock, in microseconds. A turn counts only when its command ran and exited 0 and
the turn completed; anything else is an error, listed in the output. The two ways alternate turn
by turn (direct first in even pairs, the gateway first in odd ones), so that whatever else the
machine does weighs on both alike; both talk to the same upstream. It also reports the CPU seconds
the direct app-server, the gateway and the gateway's app-server (and apart, the commands each
app-server ran: its waited-for children) used during the measured turns.

`load` runs one turn in a conversation of its own, then C clients at once, each its own
conversation: every client's first turn starts it (all together, before the window), then each
runs one turn after another in it, starting turns for S seconds. It reports the turns started in
that window per second from its start until the last of them ended (all at once from the
window's start, they end close together, so a count of the turns ended inside a window would
depend on where it cuts their rounds), their latencies, and the RSS of the gateway and of its `codex app-server` child (from
/proc) before the first turn, after the first one, after the C conversations were
started, at the most during the window, and once the window's last turns ended; and the CPU
seconds of the gateway, its app-server (and apart, its commands), fake-openai and the whole machine from
the window's start until its last turns ended.
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse


def percentile(samples, p):
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(first, done):
    return {
        "first_p50_us": percentile(first, 50), "first_p99_us": percentile(first, 99),
        "done_p50_us": percentile(done, 50), "done_p99_us": percentile(done, 99),
        "turns": len(done),
    }


def now_us():
    return time.monotonic_ns() / 1000


# ---------------------------------------------------------------------------------------------
# Straight to codex app-server (JSON-RPC lines on its stdin and stdout, as the gateway drives it)

class AppServer:
    def __init__(self, codex, home, stderr):
        env = {"CODEX_HOME": home, "HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self.process = subprocess.Popen([codex, "app-server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=stderr, env=env, cwd=home)
        self.next_id = 0

    def send(self, method, params):
        self.next_id += 1
        self.write({"id": self.next_id, "method": method, "params": params})
        return self.next_id

    def write(self, message):
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()

    def read(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("codex app-server closed its stdout")
        return json.loads(line)

    def call(self, method, params):
        request = self.send(method, params)
        while True:
            message = self.read()
            if message.get("id") == request and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def close(self):
        self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def direct_turn(server, args, workspace):
    """One new thread and one turn in it: (first event µs, turn completed µs) or raises."""
    os.makedirs(workspace, exist_ok=True)
    provider = {
        "model_provider": "bench",
        "model_providers.bench.name": "Bench",
        "model_providers.bench.base_url": args.upstream,
        "model_providers.bench.wire_api": "responses",
        "model_providers.bench.experimental_bearer_token": "sk-fake-bench",
    }
    start = now_us()
    thread_request = server.send("thread/start", {
        "cwd": workspace, "approvalPolicy": "on-request", "sandbox": "workspace-write", "model": args.model, "config": provider})
    first = None
    turn_request = None
    ran = False
    while True:
        message = server.read()
        method = message.get("method")
        if method == "thread/started" and first is None:
            first = now_us() - start
        elif message.get("id") == thread_request and method is None:
            if "error" in message:
                raise RuntimeError(f"thread/start: {message['error']}")
            thread = message["result"]["thread"]["id"]
            turn_request = server.send("turn/start", {
                "threadId": thread, "input": [{"type": "text", "text": args.prompt, "text_elements": []}], "cwd": workspace,
                "approvalPolicy": "on-request", "model": args.model,
                "sandboxPolicy": {"type": "workspaceWrite", "writableRoots": [], "networkAccess": False,
                                  "excludeTmpdirEnvVar": False, "excludeSlashTmp": False}})
        elif message.get("id") == turn_request and "error" in message:
            raise RuntimeError(f"turn/start: {message['error']}")
        elif method == "item/completed":
            item = message["params"]["item"]
            if item.get("type") == "commandExecution":
                ran = item.get("status") == "completed" and item.get("exitCode") == 0
        elif method == "turn/completed":
            turn = message["params"]["turn"]
            if turn.get("status") != "completed":
                raise RuntimeError(f"turn ended {turn.get('status')}: {turn.get('error')}")
            if not ran:
                raise RuntimeError("the turn completed without running its command")
            return first, now_us() - start


# ---------------------------------------------------------------------------------------------
# Through the gateway: POST /exec, JSON Lines

class Exec:
    def __init__(self, url, key):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.key = key
        self.connection = None

    def turn(self, prompt, conversation=None):
        """One /exec turn: (first line µs, turn.completed µs, thread id) or raises."""
        body = {"prompt": prompt}
        if conversation:
            body["conversation_id"] = conversation
        payload = json.dumps(body).encode()
        headers = {"X-API-Key": self.key, "Content-Type": "application/json"}
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        start = now_us()
        try:
            self.connection.request("POST", "/exec", payload, headers)
            response = self.connection.getresponse()
            if response.status != 200:
                text = response.read()[:300].decode(errors="replace")
                raise RuntimeError(f"HTTP {response.status}: {text}")
            first, completed, thread, ran = self.read_events(response, start, conversation)
        except Exception:
            # The connection may hold the rest of an answer: the next turn gets a new one.
            self.connection.close()
            self.connection = None
            raise
        if completed is None:
            raise RuntimeError("the stream ended without turn.completed")
        if not ran:
            raise RuntimeError("the turn completed without running its command")
        return first, completed, thread

    @staticmethod
    def read_events(response, start, thread):
        """Reads the JSON lines to the end: (first line µs, turn.completed µs, thread id, whether the command ran)."""
        first = completed = None
        ran = False
        while True:
            line = response.readline()
            if not line:
                return first, completed, thread, ran
            if first is None:
                first = now_us() - start
            event = json.loads(line)
            kind = event.get("type")
            if kind == "thread.started":
                thread = event.get("thread_id")
            elif kind == "item.completed" and event["item"].get("type") == "command_execution":
                ran = event["item"].get("exit_code") == 0
            elif kind == "turn.completed":
                completed = now_us() - start
            elif kind in ("turn.failed", "error"):
                raise RuntimeError(f"{kind}: {json.dumps(event)[:300]}")


def run_overhead(args):
    """Warm-up, then measured turns, alternating the two ways (each pair in turn order swapped)."""
    stderr = open(args.stderr, "ab") if args.stderr else subprocess.DEVNULL
    server = AppServer(args.codex, args.home, stderr)
    gateway = Exec(args.url, args.key)
    ways = {
        "direct": lambda n: direct_turn(server, args, os.path.join(args.home, "workspaces", f"turn-{n}")),
        "gateway": lambda n: gateway.turn(args.prompt)[:2],
    }
    samples = {way: ([], []) for way in ways}
    errors = {way: [] for way in ways}
    try:
        server.call("initialize", {"clientInfo": {"name": "agentbench", "version": "0"}, "capabilities": {"experimentalApi": True}})
        server.write({"method": "initialized", "params": {}})
        engine = app_server_pid(args.gateway_pid)
        cpu = CPUWindow({"direct_app_server": (server.process.pid, False), "direct_commands": (server.process.pid, True),
                         "gateway": (args.gateway_pid, False), "gateway_app_server": (engine, False), "gateway_commands": (engine, True),
                         "client": (os.getpid(), False)})
        for n in range(args.warmup + args.turns):
            if n == args.warmup:
                cpu.start()
            for way in (["direct", "gateway"] if n % 2 == 0 else ["gateway", "direct"]):
                try:
                    first, done = ways[way](n)
                except Exception as error:  # noqa: BLE001 - every failed turn is reported, not fatal
                    errors[way].append(str(error)[:300])
                    continue
                if n >= args.warmup:
                    samples[way][0].append(first)
                    samples[way][1].append(done)
            if sum(len(e) for e in errors.values()) > 5:
                break
        cpu_used = cpu.stop() if n >= args.warmup else {}
    finally:
        server.close()
    result = {"warmup": args.warmup, "cpu_seconds": cpu_used}
    for way in ways:
        first, done = samples[way]
        result[way] = summary(first, done)
        result[way].update({"errors": len(errors[way]), "error_samples": errors[way][:3], "first_us": first, "done_us": done})
    return result


# ---------------------------------------------------------------------------------------------
# 50 conversations at once through /exec

def children(pid):
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found


def app_server_pid(gateway):
    for child in children(gateway):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                if b"app-server" in f.read():
                    return child
        except OSError:
            pass
    return None


def rss_kib(pid):
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None


def cpu_seconds(pid, children=False):
    """User + system CPU of `pid`, or of the children it waited for, in seconds; None when gone."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = int(fields[13]) + int(fields[14]) if children else int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds():
    """CPU time the whole machine spent busy (not idle or waiting), in seconds."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


class CPUWindow:
    """CPU seconds each named process (and the machine) uses between `start` and `stop`."""

    def __init__(self, processes):
        self.processes = processes  # name → (pid, whether the children it waited for rather than itself)

    def read(self):
        values = {name: cpu_seconds(pid, children) for name, (pid, children) in self.processes.items()}
        values["machine"] = machine_cpu_seconds()
        return values

    def start(self):
        self.before = self.read()

    def stop(self):
        after = self.read()
        return {name: None if after[name] is None or self.before[name] is None else round(after[name] - self.before[name], 3)
                for name in after}


def memory(gateway):
    child = app_server_pid(gateway)
    return {"gateway_kib": rss_kib(gateway), "engine_kib": rss_kib(child), "engine_pid": child}


def run_load(args):
    idle = memory(args.gateway_pid)
    # One turn first, in a conversation of its own: what Codex and the gateway load once, on their
    # first turn, is then not counted per thread.
    Exec(args.url, args.key).turn(args.prompt)
    one = memory(args.gateway_pid)
    clients = [Exec(args.url, args.key) for _ in range(args.clients)]
    conversations = [None] * args.clients
    errors = []
    lock = threading.Lock()

    def start(i):
        try:
            conversations[i] = clients[i].turn(args.prompt)[2]
        except Exception as error:  # noqa: BLE001
            with lock:
                errors.append(f"first turn: {error}"[:300])

    opened = time.monotonic()
    threads = [threading.Thread(target=start, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    opening_seconds = time.monotonic() - opened
    started = memory(args.gateway_pid)

    cpu = CPUWindow({"gateway": (args.gateway_pid, False), "app_server": (started["engine_pid"], False),
                     "commands": (started["engine_pid"], True), "upstream": (args.upstream_pid, False),
                     "client": (os.getpid(), False)})
    cpu.start()
    window_start = time.monotonic()
    window_end = window_start + args.seconds
    done, first = [], []
    last_end = [window_start]
    peak = dict(started)

    def loop(i):
        while conversations[i] and time.monotonic() < window_end:
            try:
                f, d, _ = clients[i].turn(args.prompt, conversations[i])
            except Exception as error:  # noqa: BLE001
                with lock:
                    errors.append(str(error)[:300])
                time.sleep(0.1)
                continue
            with lock:
                done.append(d)
                first.append(f)
                last_end[0] = max(last_end[0], time.monotonic())

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        sample = memory(args.gateway_pid)
        for key in ("gateway_kib", "engine_kib"):
            if sample[key] is not None and (peak[key] is None or sample[key] > peak[key]):
                peak[key] = sample[key]
        time.sleep(0.25)
    for t in threads:
        t.join()
    cpu_used = cpu.stop()
    window_seconds = last_end[0] - window_start
    loaded = memory(args.gateway_pid)
    result = summary(first, done)
    result.update({
        "clients": args.clients, "conversations": sum(1 for c in conversations if c), "seconds": args.seconds,
        "turns_per_second": len(done) / window_seconds if window_seconds else 0, "opening_seconds": opening_seconds,
        "rss_idle": idle, "rss_one": one, "rss_started": started, "rss_peak": peak, "rss_loaded": loaded,
        "cpu_seconds": cpu_used, "window_seconds": round(window_seconds, 3),
        "errors": len(errors), "error_samples": errors[:3],
    })
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["overhead", "load"])
    parser.add_argument("--codex")
    parser.add_argument("--home")
    parser.add_argument("--upstream", help="the provider's base URL for the direct app-server (…/v1)")
    parser.add_argument("--model", default="gpt-5.4")
    parser.add_argument("--prompt", default="#fake-agent:command:echo hi")
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--url")
    parser.add_argument("--key")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--gateway-pid", type=int)
    parser.add_argument("--upstream-pid", type=int, help="fake-openai's pid, for its CPU time (load)")
    parser.add_argument("--stderr", help="where the direct app-server's stderr goes (default: discarded)")
    args = parser.parse_args()
    result = {"overhead": run_overhead, "load": run_load}[args.mode](args)
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
