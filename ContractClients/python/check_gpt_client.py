#!/usr/bin/env python3
"""Drives the GPT Actions view's operations through the Python client that openapi-generator
generated from the served /openapi.gpt.json, as ChatGPT would call them: start a conversation,
continue it, read it, and a long turn answered 202 then polled to completion. Run by
scripts/contract-test (the gateway runs with GPT_TURN_WAIT_SECONDS=3):

    PYTHONPATH=ContractClients/python/gpt/Generated \
    GATEWAY_URL=http://127.0.0.1:PORT GATEWAY_API_KEY=KEY python ContractClients/python/check_gpt_client.py

The GPT view has one security scheme (OAuth2); the gateway also takes an API key as the bearer
token, which stands in for the OAuth access token here. The package is `gpt_client`.
"""
import os
import sys
import time

import gpt_client
import gpt_client.api
from gpt_client.exceptions import ApiException
from gpt_client.models import Conversation, ContinueConversationRequest, StartConversationRequest

from contract_checks import check, failures
from contract_checks import operation as generated_operation


def operation(api_client, method_name):
    return generated_operation(gpt_client.api, api_client, method_name)


def poll(get, conversation_id, seconds=60):
    """GET the conversation until it no longer runs, as the GPT is told to."""
    deadline = time.monotonic() + seconds
    while True:
        conversation = get(conversation_id)
        if conversation.status not in ("running", "waiting_for_approval") or time.monotonic() > deadline:
            return conversation
        time.sleep(0.5)


def main():
    url = os.environ["GATEWAY_URL"]
    key = os.environ["GATEWAY_API_KEY"]
    configuration = gpt_client.Configuration(host=url)
    configuration.access_token = key
    with gpt_client.ApiClient(configuration) as api:
        start = operation(api, "start_conversation_with_http_info")
        turn = operation(api, "continue_conversation_with_http_info")
        get = operation(api, "get_conversation")
        listing = operation(api, "list_conversations")
        check(not hasattr(gpt_client.api, "ConversationsApi") or not hasattr(gpt_client.api.ConversationsApi, "json_rpc"),
              "the GPT view still offers jsonRPC")

        # A short turn: 200 and the answer.
        reply = start(StartConversationRequest(prompt="hello from the GPT view"))
        conversation = reply.data
        if check(reply.status_code == 200 and isinstance(conversation, Conversation),
                 f"POST /conversations -> {reply.status_code} {type(conversation).__name__} {conversation!r}"):
            check(conversation.status == "idle", f"status {conversation.status!r}")
            check(bool(conversation.answer), f"answer {conversation.answer!r}")
            print(f"ok   POST /conversations -> 200 Conversation(status={conversation.status!r}, answer={conversation.answer!r})")
        conversation_id = conversation.conversation_id

        # Continued: 200, one more turn.
        reply = turn(conversation_id, ContinueConversationRequest(prompt="and again"))
        if check(reply.status_code == 200, f"POST /conversations/{{id}}/turns -> {reply.status_code}"):
            check(reply.data.turns == 2, f"turns {reply.data.turns!r}")
            print(f"ok   POST /conversations/{{id}}/turns -> 200 (turns={reply.data.turns}, answer={reply.data.answer!r})")

        # A long turn (fake-slow: ten ticks 800 ms apart) outlasts GPT_TURN_WAIT_SECONDS: 202, then polled.
        began = time.monotonic()
        reply = start(StartConversationRequest(prompt="a long one", model="fake-slow-800-10"))
        waited = time.monotonic() - began
        long_id = reply.data.conversation_id
        if check(reply.status_code == 202, f"long POST /conversations -> {reply.status_code} after {waited:.1f}s"):
            check(reply.data.status == "running", f"202 status {reply.data.status!r}")
            location = (reply.headers or {}).get("Location") or (reply.headers or {}).get("location")
            check(location == f"/conversations/{long_id}", f"Location {location!r}")
            print(f"ok   long POST /conversations -> 202 after {waited:.1f}s, Location {location}")
            try:
                turn(long_id, ContinueConversationRequest(prompt="too soon"))
                check(False, "a second turn while one runs was not refused")
            except ApiException as error:
                check(error.status == 409, f"second turn -> {error.status}")
                print("ok   POST /conversations/{id}/turns while it runs -> 409")
        done = poll(get, long_id)
        check(done.status == "idle", f"polled status {done.status!r}")
        check("tick9" in (done.answer or ""), f"polled answer {done.answer!r}")
        check(done.usage is not None and done.usage.output_tokens > 0, f"polled usage {done.usage!r}")
        print(f"ok   GET /conversations/{{id}} polled -> {done.status!r} after {time.monotonic() - began:.1f}s, answer {done.answer!r}")

        # Unknown conversation: 404.
        try:
            get("00000000-0000-0000-0000-000000000000")
            check(False, "GET of an unknown conversation did not fail")
        except ApiException as error:
            check(error.status == 404, f"unknown conversation -> {error.status}")
            print("ok   GET /conversations/{unknown} -> 404")

        page = listing(limit=5)
        ids = [c.conversation_id for c in page.conversations]
        check(long_id in ids and conversation_id in ids, f"GET /conversations lists {ids}")
        print(f"ok   GET /conversations -> {len(ids)} conversations")

    if failures:
        print(f"check_gpt_client: {len(failures)} failure(s)")
        sys.exit(1)
    print("check_gpt_client: all checks passed")


if __name__ == "__main__":
    main()
