"""What both generated-client checks (check_client.py, check_gpt_client.py) share: recording a
failed check, and finding a generated operation by its method name whatever API class (tag) the
generator put it in, so a retagged operation does not break a check and a renamed one does."""
import inspect

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL {message}")
    return condition


def operation(api_module, api_client, method_name):
    """The bound generated method `method_name`, from whichever class of `api_module` has it."""
    for _, cls in inspect.getmembers(api_module, inspect.isclass):
        if hasattr(cls, method_name):
            return getattr(cls(api_client), method_name)
    raise SystemExit(f"FAIL the generated client {api_module.__name__} has no operation {method_name}")
