"""schemathesis hooks of the contract harness (loaded by scripts/contract-schemathesis.toml).

schemathesis validates JSON, YAML and Server-Sent Events bodies against the document, but has no
deserializer for JSON Lines: without this file a streamed `application/jsonl` (or
`application/x-ndjson`) answer, e.g. POST /exec's events, would pass unchecked. The check below
reads such a body line by line and validates every line against the schema the document gives
that status code and media type (as OpenAPI 3.1 documents sequential media types: the schema
describes one item). It applies to every operation, so operations added to openapi.yaml later
are covered without naming them here.
"""
import atexit
import json

import schemathesis
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

JSON_LINES = ("application/jsonl", "application/x-ndjson", "application/json-lines")
_validators = {}


def _response_definition(root, operation_definition, status):
    responses = operation_definition.get("responses") or {}
    definition = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
    while isinstance(definition, dict) and "$ref" in definition:
        node = root
        for part in definition["$ref"].lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        definition = node
    return definition or {}


DOCUMENT_URI = "urn:contract-test:openapi"


def _absolute_refs(node):
    """The schema with its local references ("#/components/...") pointed at the document."""
    if isinstance(node, dict):
        return {
            k: (DOCUMENT_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _absolute_refs(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_absolute_refs(v) for v in node]
    return node


def _validator(root, schema):
    key = (id(root), json.dumps(schema, sort_keys=True))
    if key not in _validators:
        registry = Registry().with_resource(DOCUMENT_URI, Resource(contents=root, specification=DRAFT202012))
        _validators[key] = Draft202012Validator(_absolute_refs(schema), registry=registry)
    return _validators[key]


@schemathesis.check
def json_lines_items_conform(ctx, response, case):
    """Every line of a JSON Lines response conforms to the documented item schema."""
    content_type = (response.headers.get("content-type") or [""])[0].split(";")[0].strip().lower()
    if content_type not in JSON_LINES:
        return None
    root = case.operation.schema.raw_schema
    media = (_response_definition(root, case.operation.definition.raw, response.status_code).get("content") or {})
    schema = (media.get(content_type) or {}).get("schema")
    if schema is None:
        return None  # an undocumented content type is content_type_conformance's to report
    lines = response.content.split(b"\n")
    if response.stream_cut_short or response.content_size > len(response.content):
        lines = lines[:-1]  # the last line may have been cut
    validator = _validator(root, schema)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as error:
            raise AssertionError(f"{content_type} line {number} is not JSON ({error}): {line[:200]!r}") from None
        first = best_match(validator.iter_errors(item))
        if first is not None:
            where = "/".join(str(p) for p in first.absolute_path) or "(root)"
            raise AssertionError(
                f"{content_type} line {number} does not conform to the documented item schema at {where}: "
                f"{first.message}\n    line: {line[:300].decode('utf-8', 'replace')}"
            )
    return True


# ---------------------------------------------------------------------------------------------
# KNOWN BUGS. Each entry tolerates exactly one reported bug: failures with the listed codes, on the
# listed operations (None: any), whose response matches (status and a fragment of the body) and,
# where given, whose request matches. Any other failure on the same operations still fails the run. Remove an entry when its bug is fixed: the run prints which
# entries matched nothing, so a fixed bug shows up as a stale entry.
class KnownBug:
    def __init__(self, name, operations, codes, status, body, description, request=None):
        # operations: the failing operations' labels ("POST /oauth/token"), or None for any.
        self.name, self.codes = name, set(codes)
        self.operations = None if operations is None else set(operations)
        self.status, self.body, self.description = status, body.encode(), description
        self.request = request  # optional predicate on the request that was sent
        self.hits = 0

    def matches(self, failure, response):
        return (
            (self.operations is None or failure.operation in self.operations)
            and failure.code in self.codes
            and response is not None
            and response.status_code == self.status
            and self.body in response.content
            and (self.request is None or self.request(response.request))
        )


KNOWN_BUGS = [
    # Each entry tolerates only the failures of one reported bug (see KnownBug); the report at the
    # end names entries that matched nothing, so fixed bugs are noticed and their entries removed.
    # The bugs found when the harness was written are fixed in the server and the spec.
]


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    for bug in KNOWN_BUGS:
        if bug.matches(failure, response):
            bug.hits += 1
            return False
    return True


def _report_known_bugs():
    print("\nKnown bugs (scripts/contract-schemathesis-hooks.py KNOWN_BUGS):")
    for bug in KNOWN_BUGS:
        state = f"tolerated {bug.hits} failure(s)" if bug.hits else "matched nothing: fixed? remove the entry"
        print(f"  {bug.name}: {state}")


atexit.register(_report_known_bugs)
