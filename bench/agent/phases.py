"""bench/agent/phases.py CODEX HOME UPSTREAM GATEWAY_PORT KEY N: where an agent turn's added time goes.

N turns (after 3 warm-up turns) each way, alternating: a codex app-server driven directly (fake-openai
as its provider, the gateway's own thread/start and turn/start parameters) and the gateway's POST /exec.
Prints the median time of each phase of a turn — to the thread's start, to the command's start, the
command, to the final message's start, the message, to the turn's end — both ways and the difference.
Run by bench/agent/phases, which starts the gateway and fake-openai.
"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client  # noqa: E402
codex, home, fake, gwport, key = sys.argv[1:6]
N = int(sys.argv[6])
os.makedirs(home, exist_ok=True)
open(os.path.join(home, "config.toml"), "w").write('check_for_update_on_startup = false\n\n[analytics]\nenabled = false\n')
server = client.AppServer(codex, home, subprocess.DEVNULL)
server.call("initialize", {"clientInfo": {"name": "c", "version": "0"}, "capabilities": {"experimentalApi": True}})
server.write({"method": "initialized", "params": {}})
prov = {"model_provider": "bench", "model_providers.bench.name": "Bench", "model_providers.bench.base_url": fake,
        "model_providers.bench.wire_api": "responses", "model_providers.bench.experimental_bearer_token": "sk"}
def direct(n):
    ws = os.path.join(home, "ws", f"d-{n}"); os.makedirs(ws, exist_ok=True)
    marks = {}; t0 = time.monotonic()
    r = server.send("thread/start", {"cwd": os.path.dirname(ws), "environments": [], "approvalPolicy": "on-request", "sandbox": "workspace-write", "model": "gpt-5.4", "config": prov})
    while True:
        m = server.read(); t = (time.monotonic() - t0) * 1000; meth = m.get("method")
        if m.get("id") == r and meth is None:
            marks["thread"] = t
            tid = m["result"]["thread"]["id"]
            server.send("turn/start", {"threadId": tid, "cwd": ws, "input": [{"type": "text", "text": "#fake-agent:command:echo hi", "text_elements": []}],
                "approvalPolicy": "on-request", "model": "gpt-5.4", "environments": [{"environmentId": "local", "cwd": ws}],
                "sandboxPolicy": {"type": "workspaceWrite", "writableRoots": [], "networkAccess": False, "excludeTmpdirEnvVar": False, "excludeSlashTmp": False}})
        elif meth == "item/started" and m["params"]["item"]["type"] == "commandExecution": marks.setdefault("cmd_start", t)
        elif meth == "item/completed" and m["params"]["item"]["type"] == "commandExecution": marks.setdefault("cmd_done", t)
        elif meth == "item/started" and m["params"]["item"]["type"] == "agentMessage": marks.setdefault("msg_start", t)
        elif meth == "item/completed" and m["params"]["item"]["type"] == "agentMessage": marks.setdefault("msg_done", t)
        elif meth == "turn/completed": marks["done"] = t; return marks
conn = [None]
def gateway(n):
    if conn[0] is None: conn[0] = http.client.HTTPConnection("127.0.0.1", int(gwport), timeout=60)
    c = conn[0]; marks = {}; t0 = time.monotonic()
    c.request("POST", "/exec", json.dumps({"prompt": "#fake-agent:command:echo hi"}), {"X-API-Key": key, "Content-Type": "application/json"})
    resp = c.getresponse()
    while True:
        line = resp.readline()
        if not line: return marks
        t = (time.monotonic() - t0) * 1000; e = json.loads(line); k = e.get("type"); it = (e.get("item") or {}).get("type")
        if k == "thread.started": marks["thread"] = t
        elif k == "item.started" and it == "command_execution": marks.setdefault("cmd_start", t)
        elif k == "item.completed" and it == "command_execution": marks.setdefault("cmd_done", t)
        elif k == "item.started" and it == "agent_message": marks.setdefault("msg_start", t)
        elif k == "item.completed" and it == "agent_message": marks.setdefault("msg_done", t)
        elif k == "turn.completed": marks["done"] = t
res = {"direct": [], "gateway": []}
for n in range(N + 3):
    for w in (["direct", "gateway"] if n % 2 == 0 else ["gateway", "direct"]):
        m = direct(n) if w == "direct" else gateway(n)
        if n >= 3: res[w].append(m)
keys = ["thread", "cmd_start", "cmd_done", "msg_start", "msg_done", "done"]
prev = None
print("phase (ending at)       direct p50   gateway p50   added")
for k in keys:
    def seg(ms): return [x[k] - (x[prev] if prev else 0) for x in ms if k in x and (prev is None or prev in x)]
    d, g = statistics.median(seg(res["direct"])), statistics.median(seg(res["gateway"]))
    print(f"{k:22s} {d:9.1f} {g:12.1f} {g-d:+9.1f}")
    prev = k
direct_done, gateway_done = (statistics.median(x["done"] for x in res[w]) for w in ("direct", "gateway"))
print(f"turn completed, p50: direct {direct_done:.1f} ms, gateway {gateway_done:.1f} ms, added {gateway_done - direct_done:+.1f} ms ({N} turns each)")
server.close()
