"""The gateway's OpenAI-compatible endpoints, driven by the official `openai` Python SDK.

Run by scripts/openai-sdk-test, which starts fake-openai (the stand-in provider, whose behaviour
is chosen by the request's "model": see Sources/FakeOpenAI/FakeModel.swift) and four gateways
pointed at it, and passes their ports and the gateway key in the environment:

    GATEWAY_API_KEY            the key of every gateway
    GATEWAY_PORT               main gateway: default rate limits
    GATEWAY_RATE_LIMITED_PORT  RATE_LIMIT_PER_MINUTE=3 (used by one test only)
    GATEWAY_TURNS_PORT         RATE_LIMIT_CONCURRENT_TURNS=1 (used by the turn tests only)
    GATEWAY_RESPONSES_PORT     its provider has wire_api = "responses" (the others: "chat"), for the
                               POST /v1/responses tests: relayed there, bridged to chat on the main one
    FAKE_OPENAI_PORT           the fake provider itself
    GATEWAY_DEFAULT_MODEL      the gateways' configured model (an echo model)

The gateway's errors are its own envelope, not OpenAI's error object:
`{"error": "<sentence>", "code": "...", "status": N, "request_id": "...", "upstream": {...}?}`.
The SDK takes the `error` member as the exception's `body` (here the sentence, a string), so its
`.code` is None; the tests read the envelope from `exc.response.json()`.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.types.chat import ChatCompletion

KEY = os.environ["GATEWAY_API_KEY"]
MAIN_PORT = int(os.environ["GATEWAY_PORT"])
RATE_LIMITED_PORT = int(os.environ["GATEWAY_RATE_LIMITED_PORT"])
TURNS_PORT = int(os.environ["GATEWAY_TURNS_PORT"])
RESPONSES_PORT = int(os.environ["GATEWAY_RESPONSES_PORT"])
FAKE_PORT = int(os.environ["FAKE_OPENAI_PORT"])
DEFAULT_MODEL = os.environ["GATEWAY_DEFAULT_MODEL"]

# Every call ends well within this; a hang fails the test instead of the CI run.
TIMEOUT = 20.0

# The names fake-openai lists (FakeModel.allNames).
FAKE_MODELS = {
    "fake-echo", "fake-count", "fake-slow", "fake-429", "fake-429-ms", "fake-500", "fake-500-always",
    "fake-stall", "fake-cut", "fake-garbage", "fake-tools", "fake-nousage", "fake-error-stream",
    "fake-unauthorized", "fake-codex", "fake-agent",
}

RATE_LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-policy")


def base_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/v1"


def client(port: int = MAIN_PORT, **options) -> OpenAI:
    options.setdefault("api_key", KEY)
    options.setdefault("timeout", TIMEOUT)
    return OpenAI(base_url=base_url(port), **options)


def async_client(port: int = MAIN_PORT, **options) -> AsyncOpenAI:
    options.setdefault("api_key", KEY)
    options.setdefault("timeout", TIMEOUT)
    return AsyncOpenAI(base_url=base_url(port), **options)


def unique(model: str) -> str:
    """`model` with its own attempt counter in the fake (anything after `@` names, not picks)."""
    return f"{model}@{uuid.uuid4().hex[:12]}"


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def envelope(error: openai.APIStatusError) -> dict:
    """The gateway's error envelope from the SDK's exception."""
    body = error.response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert body.get("status") == error.status_code, body
    assert body.get("request_id"), body
    # The SDK reads X-Request-Id: the same id as the envelope's.
    assert error.request_id == body["request_id"], (error.request_id, body)
    return body


def assert_rate_limit_headers(headers: httpx.Headers) -> None:
    missing = [name for name in RATE_LIMIT_HEADERS if name not in headers]
    assert not missing, f"missing {missing} in {dict(headers)}"
    for name in RATE_LIMIT_HEADERS[:3]:
        assert headers[name].isdigit(), (name, headers[name])


@pytest.fixture
def sdk() -> OpenAI:
    with client() as c:
        yield c


# ---------------------------------------------------------------------------------------------
# GET /v1/models


def test_models_list_returns_the_fake_providers_models(sdk: OpenAI):
    models = list(sdk.models.list())
    assert {m.id for m in models} == FAKE_MODELS
    assert all(m.object == "model" and m.owned_by == "fake-openai" for m in models)
    # Unchanged: exactly what the provider itself lists, in its order.
    direct = httpx.get(f"http://127.0.0.1:{FAKE_PORT}/v1/models", headers={"Authorization": "Bearer x"}, timeout=TIMEOUT)
    assert [m.id for m in models] == [m["id"] for m in direct.json()["data"]]


def test_models_list_with_a_wrong_key_raises_authentication_error():
    with client(api_key="sk-not-the-gateway-key") as c, pytest.raises(openai.AuthenticationError) as raised:
        c.models.list()
    assert raised.value.status_code == 401
    assert raised.value.response.headers["www-authenticate"].startswith("Bearer")


# ---------------------------------------------------------------------------------------------
# POST /v1/chat/completions, JSON


def test_a_completion_returns_the_echo_answer_and_its_usage(sdk: OpenAI):
    completion = sdk.chat.completions.create(
        model="fake-echo",
        messages=[{"role": "system", "content": "Be brief."}, *user("hello from the SDK")],
    )
    assert isinstance(completion, ChatCompletion)
    assert completion.object == "chat.completion"
    assert completion.model == "fake-echo"
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Echo: hello from the SDK"
    assert choice.finish_reason == "stop"
    # fake-openai: prompt = 10 per message, completion = words of the answer.
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 20
    assert completion.usage.completion_tokens == 5
    assert completion.usage.total_tokens == 25
    assert completion._request_id, "the SDK found X-Request-Id"


def test_a_completion_without_model_gets_the_gateways_configured_model(sdk: OpenAI):
    # The SDK's signature requires `model`; its `omit` sentinel leaves the field out of the body.
    completion = sdk.chat.completions.create(model=openai.omit, messages=user("no model given"))
    assert completion.choices[0].message.content == "Echo: no model given"
    # fake-openai answers 400 without a model and echoes the model it was asked for.
    assert completion.model == DEFAULT_MODEL


def test_a_raw_post_without_model_gets_the_gateways_configured_model(sdk: OpenAI):
    # The SDK's own low-level request method, with a body that has no "model" at all.
    completion = sdk.post("/chat/completions", cast_to=ChatCompletion, body={"messages": user("raw post")})
    assert isinstance(completion, ChatCompletion)
    assert completion.model == DEFAULT_MODEL
    assert completion.choices[0].message.content == "Echo: raw post"


def test_a_completion_authenticated_by_x_api_key_alone_succeeds():
    # No Authorization header at all (the SDK's `omit` removes it): the key goes in X-API-Key.
    with client(api_key="unused", default_headers={"X-API-Key": KEY}) as c:
        raw = c.chat.completions.with_raw_response.create(
            model="fake-echo", messages=user("by header"), extra_headers={"Authorization": openai.omit}
        )
    assert "authorization" not in raw.http_request.headers
    assert raw.parse().choices[0].message.content == "Echo: by header"


def test_every_successful_response_carries_the_rate_limit_headers(sdk: OpenAI):
    raw = sdk.chat.completions.with_raw_response.create(model="fake-echo", messages=user("headers"))
    assert_rate_limit_headers(raw.headers)
    assert raw.headers["x-ratelimit-policy"] == "100;w=60, 1000;w=3600, 10000;w=86400"
    streamed = sdk.chat.completions.with_raw_response.create(model="fake-echo", messages=user("headers"), stream=True)
    assert_rate_limit_headers(streamed.headers)
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert "".join(c.choices[0].delta.content or "" for c in streamed.parse() if c.choices) == "Echo: headers"
    models = sdk.models.with_raw_response.list()
    assert_rate_limit_headers(models.headers)


# ---------------------------------------------------------------------------------------------
# POST /v1/chat/completions, streamed


def test_streamed_deltas_concatenate_to_the_echo_answer(sdk: OpenAI):
    with sdk.chat.completions.create(model="fake-echo", messages=user("stream me please"), stream=True) as stream:
        chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: stream me please"
    assert chunks[-1].choices[0].finish_reason == "stop"
    # Without stream_options.include_usage, no chunk reports usage.
    assert all(c.usage is None for c in chunks)


def test_with_include_usage_the_last_streamed_chunk_carries_the_usage(sdk: OpenAI):
    stream = sdk.chat.completions.create(
        model="fake-echo",
        messages=user("count these words"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (10, 4, 14)
    assert all(c.usage is None for c in chunks[:-1])
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: count these words"


def test_a_slow_stream_reaches_the_async_client_chunk_by_chunk_without_buffering():
    async def run() -> list[tuple[float, str]]:
        async with async_client() as c:
            start = time.monotonic()
            stream = await c.chat.completions.create(model="fake-slow-200", messages=user("tick"), stream=True)
            arrivals = []
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    arrivals.append((time.monotonic() - start, chunk.choices[0].delta.content))
            return arrivals

    arrivals = asyncio.run(run())
    assert "".join(text for _, text in arrivals) == "".join(f"tick{i} " for i in range(10))
    times = [t for t, _ in arrivals]
    # Ten deltas 200 ms apart: about 1.8 s from first to last. A buffering relay delivers them
    # together at the end. Loose bounds for a loaded 2-core machine.
    assert times[-1] - times[0] >= 0.5, f"first delta at {times[0]:.3f}s, last at {times[-1]:.3f}s: buffered"
    assert times[4] - times[0] >= 0.2, f"arrival times {[round(t, 3) for t in times]}"


def test_the_sdks_stream_helper_assembles_streamed_tool_calls(sdk: OpenAI):
    with sdk.chat.completions.stream(model="fake-tools", messages=user("weather and time")) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = [(c.function.name, c.function.arguments) for c in choice.message.tool_calls]
    assert calls == [("get_weather", '{"city":"Paris"}'), ("get_time", "{}")]


def test_an_error_event_in_the_providers_stream_raises_api_error(sdk: OpenAI):
    stream = sdk.chat.completions.create(model="fake-error-stream", messages=user("fail midway"), stream=True)
    seen = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            seen.append(chunk)
    assert not isinstance(raised.value, openai.APIStatusError)
    assert seen, "the chunks before the error arrive"
    assert isinstance(raised.value.body, dict) and raised.value.body.get("type") == "server_error"


def test_a_provider_stream_cut_midway_is_an_error_not_a_complete_answer(sdk: OpenAI):
    stream = sdk.with_options(max_retries=0).chat.completions.create(model="fake-cut", messages=user("cut"), stream=True)
    seen = []
    with pytest.raises((httpx.HTTPError, openai.APIError)):
        for chunk in stream:
            seen.append(chunk)
    assert seen, "the deltas before the cut arrive"


def test_a_provider_answer_cut_midway_is_a_502_with_code_upstream_unavailable(sdk: OpenAI):
    # fake-cut sends half of its JSON (with the full Content-Length) and closes. The gateway reads
    # a whole answer to its end before sending it on, so the SDK gets a clean 502 (which it retries
    # by default) rather than a truncated answer.
    with pytest.raises(openai.InternalServerError) as raised:
        sdk.with_options(max_retries=0).chat.completions.create(model="fake-cut", messages=user("cut"))
    error = raised.value
    assert error.status_code == 502
    body = envelope(error)
    assert body["code"] == "upstream_unavailable"
    assert "broke off" in body["error"], body


# ---------------------------------------------------------------------------------------------
# Errors made by the gateway


def test_a_wrong_gateway_key_raises_authentication_error_with_www_authenticate():
    with client(api_key="sk-not-the-gateway-key", max_retries=0) as c, pytest.raises(openai.AuthenticationError) as raised:
        c.chat.completions.create(model="fake-echo", messages=user("hi"))
    error = raised.value
    assert error.status_code == 401
    challenge = error.response.headers["www-authenticate"]
    assert challenge.startswith("Bearer realm=") and 'error="invalid_token"' in challenge
    assert envelope(error)["code"] == "invalid_token"


def test_an_empty_messages_list_raises_bad_request_with_code_invalid_request(sdk: OpenAI):
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(model="fake-echo", messages=[])
    error = raised.value
    assert error.status_code == 400
    body = envelope(error)
    assert body["code"] == "invalid_request"
    assert "messages" in body["error"]
    # What the SDK makes of the envelope: `body` is the sentence, and the message quotes the envelope.
    assert error.body == body["error"]
    assert "invalid_request" in error.message


def test_the_gateways_rate_limit_refuses_the_fourth_call_with_retry_after():
    with client(RATE_LIMITED_PORT, max_retries=0) as c:
        remaining = []
        for i in range(3):
            raw = c.chat.completions.with_raw_response.create(model="fake-echo", messages=user(f"call {i}"))
            assert raw.parse().choices[0].message.content == f"Echo: call {i}"
            assert_rate_limit_headers(raw.headers)
            assert raw.headers["x-ratelimit-limit"] == "3"
            assert raw.headers["x-ratelimit-policy"].startswith("3;w=60")
            remaining.append(int(raw.headers["x-ratelimit-remaining"]))
        assert remaining == [2, 1, 0]
        with pytest.raises(openai.RateLimitError) as raised:
            c.chat.completions.create(model="fake-echo", messages=user("call 3"))
    error = raised.value
    assert error.status_code == 429
    assert envelope(error)["code"] == "rate_limited"
    assert int(error.response.headers["retry-after"]) >= 1
    assert error.response.headers["x-ratelimit-remaining"] == "0"
    assert error.response.headers["x-ratelimit-limit"] == "3"


# ---------------------------------------------------------------------------------------------
# Errors of the provider


@pytest.mark.parametrize("model", ["fake-429", "fake-429-ms"])
def test_an_upstream_429_raises_rate_limit_error_with_code_upstream_rate_limited(sdk: OpenAI, model: str):
    with pytest.raises(openai.RateLimitError) as raised:
        sdk.with_options(max_retries=0).chat.completions.create(model=unique(model), messages=user("hi"))
    error = raised.value
    assert error.status_code == 429
    body = envelope(error)
    assert body["code"] == "upstream_rate_limited"
    assert body["upstream"]["error"]["code"] == "rate_limit_exceeded"
    # Retry-After in whole seconds, at least 1 (fake-429-ms sent retry-after-ms: 50).
    assert error.response.headers["retry-after"] == "1"


@pytest.mark.parametrize("model", ["fake-429-1", "fake-500-1"])
def test_with_default_retries_an_upstream_that_fails_once_then_succeeds_ends_in_success(sdk: OpenAI, model: str):
    assert sdk.max_retries == 2  # the SDK's default
    raw = sdk.chat.completions.with_raw_response.create(model=unique(model), messages=user("second time lucky"))
    assert raw.retries_taken == 1
    assert raw.parse().choices[0].message.content == "Echo: second time lucky"


def test_an_upstream_500_always_raises_internal_server_error(sdk: OpenAI):
    with pytest.raises(openai.InternalServerError) as raised:
        sdk.with_options(max_retries=0).chat.completions.create(model="fake-500-always", messages=user("hi"))
    error = raised.value
    assert error.status_code == 500
    body = envelope(error)
    assert body["code"] == "upstream_error"
    assert body["upstream"]["error"]["type"] == "server_error"


def test_an_upstream_401_is_a_502_with_code_upstream_auth_failed(sdk: OpenAI):
    with pytest.raises(openai.APIStatusError) as raised:
        sdk.with_options(max_retries=0).chat.completions.create(model="fake-unauthorized", messages=user("hi"))
    error = raised.value
    assert error.status_code == 502
    assert not isinstance(error, openai.AuthenticationError), "the caller's key was fine"
    body = envelope(error)
    assert body["code"] == "upstream_auth_failed"
    assert body["upstream"]["error"]["code"] == "invalid_api_key"


# ---------------------------------------------------------------------------------------------
# The concurrent-turn cap (RATE_LIMIT_CONCURRENT_TURNS=1)


def test_while_a_stream_is_open_a_second_completion_raises_too_many_turns_and_a_third_after_it_succeeds():
    with client(TURNS_PORT, max_retries=0) as c:
        stream = c.chat.completions.create(model="fake-slow-200", messages=user("hold the turn"), stream=True)
        chunks = iter(stream)
        first = next(chunks)
        assert first.choices[0].delta.role == "assistant"

        with pytest.raises(openai.RateLimitError) as raised:
            c.chat.completions.create(model="fake-echo", messages=user("second"))
        error = raised.value
        assert envelope(error)["code"] == "too_many_turns"
        assert int(error.response.headers["retry-after"]) >= 1
        assert_rate_limit_headers(error.response.headers)

        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "".join(f"tick{i} " for i in range(10))

        third = c.chat.completions.create(model="fake-echo", messages=user("third"))
        assert third.choices[0].message.content == "Echo: third"


def test_closing_a_stream_early_frees_its_turn():
    with client(TURNS_PORT, max_retries=0) as c:
        stream = c.chat.completions.create(model="fake-slow-200", messages=user("abandon"), stream=True)
        next(iter(stream))
        stream.close()
        # The gateway learns of the disconnect at its next write (the fake sends every 200 ms).
        deadline = time.monotonic() + 5
        while True:
            try:
                answer = c.chat.completions.create(model="fake-echo", messages=user("after close"))
                break
            except openai.RateLimitError as error:
                assert envelope(error)["code"] == "too_many_turns"
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert answer.choices[0].message.content == "Echo: after close"


def test_a_non_streamed_completion_holds_its_turn_until_answered_and_others_are_refused_not_queued():
    # One thread holds the turn with a slow non-streamed completion (2 s in all); meanwhile the
    # main thread asks and is refused at once. Either may be first to the turn: each one retries
    # until the slow one is running.
    results: dict[str, object] = {}
    slow_running = threading.Event()

    def slow() -> None:
        with client(TURNS_PORT, max_retries=0) as c:
            deadline = time.monotonic() + 5
            while True:
                try:
                    slow_running.set()
                    results["slow"] = c.chat.completions.create(model="fake-slow-200", messages=user("slow"))
                    return
                except openai.RateLimitError as error:  # the main thread's short call had the turn
                    results["slow_refusals"] = int(results.get("slow_refusals", 0)) + 1
                    if time.monotonic() > deadline:
                        results["slow"] = error
                        return
                    time.sleep(0.05)

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        assert slow_running.wait(TIMEOUT)
        refused = None
        with client(TURNS_PORT, max_retries=0) as c:
            deadline = time.monotonic() + 1.5
            while refused is None and time.monotonic() < deadline:
                time.sleep(0.1)
                try:
                    c.chat.completions.create(model="fake-echo", messages=user("meanwhile"))
                except openai.RateLimitError as error:
                    refused = error
        assert refused is not None, "no too_many_turns while the slow completion ran"
        assert envelope(refused)["code"] == "too_many_turns"
        assert int(refused.response.headers["retry-after"]) >= 1
    finally:
        thread.join(timeout=TIMEOUT)
    completion = results["slow"]
    assert isinstance(completion, ChatCompletion), completion
    assert completion.choices[0].message.content == "".join(f"tick{i} " for i in range(10))


# ---------------------------------------------------------------------------------------------
# POST /v1/responses: relayed to a Responses provider, bridged to a chat provider

# fake-codex (chosen by the #fake-codex tag, since "gpt-5.4" is not a fake- name) answers Codex's
# first request with this freeform apply_patch call, then a shell call: Sources/FakeOpenAI/CodexTurn.swift.
CODEX_PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello from fake-openai\n*** End Patch\n"
CODEX_TOOLS = [
    {"type": "custom", "name": "apply_patch", "description": "Edit files with a patch. This is a FREEFORM tool."},
    {
        "type": "function",
        "name": "exec_command",
        "description": "Runs a command.",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
    },
    {"type": "web_search"},  # hosted: a chat provider cannot run it, so the bridge drops it
]


@pytest.fixture(params=["relay", "bridge"])
def responses_sdk(request) -> OpenAI:
    """A client of the gateway whose provider speaks Responses (relay) or only chat (bridge)."""
    with client(RESPONSES_PORT if request.param == "relay" else MAIN_PORT, max_retries=0) as c:
        yield c


def test_responses_create_returns_the_echo_answer_and_its_usage(responses_sdk: OpenAI):
    response = responses_sdk.responses.create(model="fake-echo", instructions="Be brief.", input="hello responses")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text == "Echo: hello responses"
    assert [item.type for item in response.output] == ["message"]
    # fake-openai: 10 input tokens per message (the instructions are one), 1 output token per word.
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (20, 3, 23)
    assert response.usage.input_tokens_details.cached_tokens == 0


def test_responses_create_streamed_sends_the_events_in_order_and_completes(responses_sdk: OpenAI):
    with responses_sdk.responses.create(model="fake-echo", input="stream responses please", stream=True) as stream:
        events = list(stream)
    types = [event.type for event in events]
    assert types[:2] == ["response.created", "response.in_progress"], types
    assert types[-1] == "response.completed", types
    assert "response.output_item.added" in types and "response.output_item.done" in types
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text == "Echo: stream responses please"
    assert len([t for t in types if t == "response.output_text.delta"]) == 4, "one delta per word, not buffered into one"
    completed = events[-1].response
    assert completed.output_text == "Echo: stream responses please"
    assert completed.usage is not None and completed.usage.output_tokens == 4


def test_responses_create_returns_function_calls_with_their_arguments(responses_sdk: OpenAI):
    tools = [{"type": "function", "name": n, "parameters": {"type": "object", "properties": {}}} for n in ("get_weather", "get_time")]
    response = responses_sdk.responses.create(model="fake-tools", input="weather and time", tools=tools)
    calls = [(item.type, item.name, item.arguments) for item in response.output]
    assert calls == [("function_call", "get_weather", '{"city":"Paris"}'), ("function_call", "get_time", "{}")]
    assert len({item.call_id for item in response.output}) == 2


def test_a_codex_turn_gets_a_freeform_apply_patch_call_then_a_shell_call_after_its_output(responses_sdk: OpenAI):
    first_input = [{"role": "user", "content": "Create hello.txt. #fake-codex"}]
    with responses_sdk.responses.create(model="gpt-5.4", input=first_input, tools=CODEX_TOOLS, store=False, stream=True) as stream:
        events = list(stream)
    assert events[-1].type == "response.completed", [e.type for e in events]
    streamed = "".join(e.delta for e in events if e.type == "response.custom_tool_call_input.delta")
    assert streamed == CODEX_PATCH, "the custom tool's input streams as custom_tool_call_input deltas"
    [patch] = events[-1].response.output
    assert (patch.type, patch.name, patch.input) == ("custom_tool_call", "apply_patch", CODEX_PATCH)

    # Codex sends the call back with its output; the model goes on with a shell command.
    second_input = first_input + [
        {"type": "custom_tool_call", "call_id": patch.call_id, "name": "apply_patch", "input": patch.input},
        {"type": "custom_tool_call_output", "call_id": patch.call_id, "output": "Success. Updated the following files:\nA hello.txt\n"},
    ]
    second = responses_sdk.responses.create(model="gpt-5.4", input=second_input, tools=CODEX_TOOLS, store=False)
    [shell] = second.output
    assert (shell.type, shell.name, shell.arguments) == ("function_call", "exec_command", '{"cmd":"cat hello.txt"}')
    assert shell.call_id != patch.call_id

    third_input = second_input + [
        {"type": "function_call", "call_id": shell.call_id, "name": "exec_command", "arguments": shell.arguments},
        {"type": "function_call_output", "call_id": shell.call_id, "output": "hello from fake-openai\n"},
    ]
    third = responses_sdk.responses.create(model="gpt-5.4", input=third_input, tools=CODEX_TOOLS, store=False)
    assert third.output_text == 'Done: hello.txt says "hello from fake-openai".'


def test_a_provider_error_midway_through_a_streamed_response_is_a_response_failed_event(responses_sdk: OpenAI):
    with responses_sdk.responses.create(model="fake-error-stream", input="fail midway", stream=True) as stream:
        events = list(stream)
    types = [event.type for event in events]
    assert "response.output_text.delta" in types, "what came before the error arrives"
    assert types[-1] == "response.failed", types
    assert "response.completed" not in types
    assert events[-1].response.status == "failed"
    assert events[-1].response.error is not None


def test_responses_create_with_a_wrong_gateway_key_raises_authentication_error():
    with client(RESPONSES_PORT, api_key="sk-not-the-gateway-key", max_retries=0) as c, pytest.raises(openai.AuthenticationError) as raised:
        c.responses.create(model="fake-echo", input="hi")
    assert envelope(raised.value)["code"] == "invalid_token"
