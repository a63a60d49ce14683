"""The official MCP Python SDK (`mcp` 2.3.0) against the gateway's /mcp, one function per step.

Run by scripts/mcp-sdk-test, which starts fake-openai and a gateway with the Codex engine and
passes MCP_URL, GATEWAY_API_KEY and GATEWAY_CODEX_HOME. Each step runs once per protocol era:
`legacy` (the initialize handshake and a session: 2025-11-25) and `auto` (the SDK probes
server/discover and adopts the stateless 2026-07-28). To add a way of authenticating (OAuth),
write another `connect_*` that yields a connected `Client` and add it to CONNECTIONS.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

URL = os.environ["MCP_URL"]
KEY = os.environ["GATEWAY_API_KEY"]
CODEX_HOME = os.environ["GATEWAY_CODEX_HOME"]


def log(message: str) -> None:
    print(message, flush=True)


@contextlib.asynccontextmanager
async def connect_with_api_key(mode: str) -> AsyncIterator[Client]:
    """A client that sends the gateway API key as `Authorization: Bearer`."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, timeout=httpx2.Timeout(30, read=300))
    async with http, Client(streamable_http_client(URL, http_client=http), mode=mode) as client:
        yield client


def workspace_file(thread_id: str, name: str) -> str | None:
    """The file in the conversation's workspace (WORKSPACES_ROOT/<principal>/<thread>/), if it exists."""
    found = glob.glob(os.path.join(CODEX_HOME, "workspaces", "*", thread_id, name))
    return found[0] if found else None


def processes(command: str) -> int:
    """How many processes run exactly `command`."""
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().split(b"\0")[:-1] == command.encode().split(b" "):
                    count += 1
        except OSError:
            pass
    return count


async def step_protocol(client: Client, mode: str) -> None:
    version = client.protocol_version
    expected = "2025-11-25" if mode == "legacy" else "2026-07-28"
    assert version == expected, f"negotiated {version}, expected {expected}"
    log(f"  protocol version {version}")


async def step_list_tools(client: Client) -> None:
    tools = (await client.list_tools()).tools
    names = [tool.name for tool in tools]
    assert names == ["codex", "codex-reply"], names
    for tool in tools:
        hints = tool.annotations
        assert hints is not None and None not in (hints.read_only_hint, hints.destructive_hint, hints.open_world_hint), tool
        assert tool.output_schema is not None, tool
    log(f"  tools: {names}")


async def step_codex_writes_a_file(client: Client) -> str:
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    result = await client.call_tool("codex", {"prompt": "#fake-codex add hello.txt"}, progress_callback=on_progress)
    assert not result.is_error, result
    structured: dict[str, Any] = result.structured_content or {}
    thread = structured["threadId"]
    assert structured["content"].startswith("Done:"), structured
    assert result.content[0].text.startswith("Done:"), result.content
    path = workspace_file(thread, "hello.txt")
    assert path is not None, f"hello.txt is not in the workspace of {thread}"
    with open(path) as f:
        assert "hello from fake-openai" in f.read()
    assert any(m.startswith("Running: ") for m in progress), progress
    log(f"  codex: thread {thread}, {path} written, {len(progress)} progress notifications")
    return thread


async def step_codex_reply(client: Client, thread: str) -> None:
    result = await client.call_tool("codex-reply", {"threadId": thread, "prompt": "#fake-agent:command:ls"})
    assert not result.is_error, result
    structured = result.structured_content or {}
    assert structured["threadId"] == thread, structured
    outputs = [item.get("aggregated_output", "") for item in structured["items"] if item["type"] == "command_execution"]
    assert any("hello.txt" in output for output in outputs), structured
    log(f"  codex-reply: ran in the same workspace ({outputs[0].split()})")


async def step_cancel_a_long_call(client: Client) -> None:
    running = anyio.Event()

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        if (message or "").startswith("Running: "):
            running.set()

    async with anyio.create_task_group() as group:

        async def call() -> None:
            await client.call_tool("codex", {"prompt": "#fake-agent:sleep"}, progress_callback=on_progress)
            raise AssertionError("the long call returned instead of being cancelled")

        group.start_soon(call)
        with anyio.fail_after(120):
            await running.wait()
        assert processes("sleep 60") > 0, "the agent's command runs"
        group.cancel_scope.cancel()
    deadline = time.monotonic() + 20
    while processes("sleep 60") and time.monotonic() < deadline:
        await anyio.sleep(0.1)
    assert processes("sleep 60") == 0, "the cancelled call's command still runs"
    log("  cancel: the call was cancelled and its command ended")


CONNECTIONS: dict[str, Callable[[str], contextlib.AbstractAsyncContextManager[Client]]] = {"api-key": connect_with_api_key}
MODES = ["legacy", "auto"]


async def run(connection: str, mode: str) -> None:
    log(f"== {connection}, mode {mode}")
    async with CONNECTIONS[connection](mode) as client:
        await step_protocol(client, mode)
        await step_list_tools(client)
        thread = await step_codex_writes_a_file(client)
        await step_codex_reply(client, thread)
        await step_cancel_a_long_call(client)


async def main() -> int:
    failures = 0
    for connection in CONNECTIONS:
        for mode in MODES:
            try:
                await run(connection, mode)
            except Exception as error:  # noqa: BLE001 - every failure is reported, then the next runs
                failures += 1
                log(f"FAIL {connection} {mode}: {type(error).__name__}: {error}")
    total = len(CONNECTIONS) * len(MODES)
    print(f"{total - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
