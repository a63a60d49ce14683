#!/usr/bin/env python3
"""Uses the Python client that openapi-generator (the `python` generator, from the
openapi-generator-cli wheel) generated from the served document against the running gateway,
and checks the typed results. Run by scripts/contract-test:

    PYTHONPATH=ContractClients/python/Generated \
    GATEWAY_URL=http://127.0.0.1:PORT GATEWAY_API_KEY=KEY python ContractClients/python/check_client.py

The generated package is `gateway_client`. Its API classes are named after the document's tags,
so operations are looked up by their operationId-derived method name (get_health, who_am_i), not
by class: a retagged operation does not break this check, a renamed or removed one does.
"""
import os
import sys

import gateway_client
import gateway_client.api
from gateway_client.exceptions import ApiException
from gateway_client.models import ErrorEnvelope, HealthStatus, Principal

from contract_checks import check, failures
from contract_checks import operation as generated_operation


def operation(api_client, method_name):
    return generated_operation(gateway_client.api, api_client, method_name)


def client(url, *, api_key=None, access_token=None):
    configuration = gateway_client.Configuration(host=url)
    if api_key is not None:
        configuration.api_key["ApiKeyAuth"] = api_key
    if access_token is not None:
        configuration.access_token = access_token
    return gateway_client.ApiClient(configuration)


def main():
    url = os.environ["GATEWAY_URL"]
    key = os.environ["GATEWAY_API_KEY"]

    # GET /health: a typed HealthStatus.
    with client(url) as anonymous:
        health = operation(anonymous, "get_health")()
        if check(isinstance(health, HealthStatus), f"GET /health returned {type(health).__name__}, not HealthStatus"):
            check(health.status == "healthy", f"GET /health status: {health.status!r}")
            check(bool(health.version), "GET /health version is empty")
            check(health.uptime_seconds >= 0, f"GET /health uptime_seconds: {health.uptime_seconds!r}")
            print(f"ok   GET /health -> 200 HealthStatus(status={health.status!r}, version={health.version!r})")

    # GET /whoami with each way of sending the key: a typed Principal of kind api_key.
    for label, kwargs in (("X-API-Key", {"api_key": key}), ("Authorization: Bearer", {"access_token": key})):
        with client(url, **kwargs) as authenticated:
            try:
                principal = operation(authenticated, "who_am_i")()
            except ApiException as error:
                check(False, f"GET /whoami ({label}) raised {error.status}: {error.body}")
                continue
            if check(isinstance(principal, Principal), f"GET /whoami ({label}) returned {type(principal).__name__}"):
                check(principal.kind == "api_key", f"GET /whoami ({label}) kind: {principal.kind!r}")
                check(principal.id.startswith("key_"), f"GET /whoami ({label}) id: {principal.id!r}")
                check(key not in principal.id, f"GET /whoami ({label}) id contains the key")
                print(f"ok   GET /whoami ({label}) -> 200 Principal(kind={principal.kind!r}, id={principal.id!r})")

    # GET /whoami without credentials: the documented 401 with a typed ErrorEnvelope.
    with client(url) as anonymous:
        try:
            operation(anonymous, "who_am_i")()
            check(False, "GET /whoami without credentials did not fail")
        except ApiException as error:
            check(error.status == 401, f"GET /whoami without credentials: status {error.status}")
            envelope = error.data
            if check(isinstance(envelope, ErrorEnvelope), f"401 body is {type(envelope).__name__}, not ErrorEnvelope"):
                check(envelope.status == 401, f"401 envelope.status: {envelope.status!r}")
                check(envelope.code == "unauthorized", f"401 envelope.code: {envelope.code!r}")
                check(bool(envelope.request_id), "401 envelope.request_id is empty")
            challenge = (error.headers or {}).get("WWW-Authenticate", "")
            check(challenge.startswith("Bearer"), f"401 WWW-Authenticate: {challenge!r}")
            if not failures:
                print(f"ok   GET /whoami (no credentials) -> 401 ErrorEnvelope(code={envelope.code!r})")

    if failures:
        print(f"python client: {len(failures)} check(s) failed")
        return 1
    print("python client: all checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # a generated client that cannot decode a response raises
        print(f"FAIL python client: {type(error).__name__}: {error}")
        print("python client: failed")
        sys.exit(1)
