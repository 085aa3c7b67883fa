"""Schema-based fuzzing of every /api endpoint with Schemathesis, from the app's own
/api/openapi.json, in-process over WSGI against the real app and a real index.

Valid and invalid (negative) inputs; every response must match the spec (status code,
content type, headers, body schema), invalid input must be refused with a 4xx, and nothing
may answer 5xx. `make test` sends a few hundred requests; the slow test over 10,000.
"""
import re
import threading
from urllib.parse import parse_qsl

import pytest
import schemathesis
from hypothesis import HealthCheck, given, reject, settings
from jsonschema import Draft202012Validator
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from figures import record
from web.openapi import openapi_document

SHORT_EXAMPLES = 40        # per endpoint and mode: search, articles, suggest × 2 modes → ~240 requests
LONG_EXAMPLES = 1750       # → over 10,000 requests


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_operation: dict[str, dict[str, int]] = {}

    def add(self, operation: str, status: int):
        with self.lock:
            counts = self.by_operation.setdefault(operation, {"requests": 0, "5xx": 0, "4xx": 0})
            counts["requests"] += 1
            counts["5xx"] += status >= 500
            counts["4xx"] += 400 <= status < 500

    def totals(self) -> dict:
        requests = sum(c["requests"] for c in self.by_operation.values())
        return {"requests": requests, "5xx": sum(c["5xx"] for c in self.by_operation.values()),
                "4xx": sum(c["4xx"] for c in self.by_operation.values()), "operations": len(self.by_operation)}


TALLY = {"short": Tally(), "long": Tally()}


RECEIVED: list[bytes] = []      # the raw query string of the last request the app received


@pytest.fixture(scope="session")
def api_operations(web_app):
    """Operations over a fresh app on the seed index that notes each query string it receives
    (Schemathesis' WSGI transport does not always send what its reports show: an object
    {"\\x08": None} went out as the text "{'\\x08': 'null'}" but was reported as q=%08)."""
    from flask import request

    from web.app import create_app

    app = create_app({"INDEX_DIR": web_app.config["INDEX_DIR"]})

    @app.before_request
    def note_query_string():
        RECEIVED[:] = [request.query_string]

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def wire_query_is_valid(path: str, query_string: bytes) -> bool:
    """Whether the query string the app received satisfies the spec, read as the app reads it
    (first value of each name; an empty value is "not given"). Negative generation sometimes
    yields valid requests: it negates one branch of the anyOf that allowEmptyValue adds, and
    serialization turns some invalid values into valid ones (None → absent, {"a": x} → "a",
    ["x", bad] → "x" first)."""
    params = {p["name"]: p for p in openapi_document()["paths"][path]["get"]["parameters"] if p["in"] == "query"}
    seen: dict[str, str] = {}
    try:
        for name, value in parse_qsl(query_string.decode("utf-8"), keep_blank_values=True, errors="strict"):
            seen.setdefault(name, value)
    except UnicodeDecodeError:
        return False
    for name, value in seen.items():
        param = params.get(name)
        if param is None or (value == "" and param.get("allowEmptyValue")):
            continue                    # unknown names are ignored by the app
        schema = param["schema"]
        if schema.get("type") == "integer":
            if not re.fullmatch(r"-?\d+", value):
                return False
            value = int(value)
        if not Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(value):
            return False
    return True


def fuzz(operations, tally: Tally, examples: int, derandomize: bool):
    """Each operation: `examples` valid cases, then `examples` invalid ones (a mode per run).

    Driven through Hypothesis directly: Schemathesis' own pytest plugin (schema.parametrize
    with a fixture) does not run under pytest 9.
    """
    for operation in operations:
        has_parameters = bool(openapi_document()["paths"][operation.path]["get"]["parameters"])
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if has_parameters else (GenerationMode.POSITIVE,)
        for mode in modes:
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=examples * (1 if has_parameters else 2), deadline=None, derandomize=derandomize, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case):
                response = case.call()
                tally.add(operation.label, response.status_code)
                assert response.status_code < 500, (operation.label, mode, case.path_parameters, case.query,
                                                    response.text[:500])
                if mode is GenerationMode.NEGATIVE:
                    # Judged on what the app received: the generator's own verdict ("this case is
                    # invalid") is sometimes wrong; see wire_query_is_valid.
                    if response.status_code < 400:
                        assert wire_query_is_valid(operation.path, RECEIVED[0]), \
                            ("invalid query accepted", RECEIVED[0], response.text[:300])
                        reject()
                    case.validate_response(response, excluded_checks=[negative_data_rejection])
                elif response.status_code == 400:
                    # The one rule the spec can only state in prose: `from` must not be after `to`.
                    error = response.json()["error"]
                    assert error.get("param") == "from" and "is after" in error["message"], error
                    case.validate_response(response, excluded_checks=[positive_data_acceptance])
                else:
                    case.validate_response(response)

            run()


def test_api_fuzz_short(api_operations):
    fuzz(api_operations, TALLY["short"], SHORT_EXAMPLES, derandomize=True)


@pytest.mark.slow
def test_api_fuzz(api_operations):
    fuzz(api_operations, TALLY["long"], LONG_EXAMPLES, derandomize=False)


def check_figures(run: str, minimum: int):
    """Runs after the fuzz tests of this module (file order): every endpoint was fuzzed, no 5xx."""
    totals = TALLY[run].totals()
    if not totals["requests"]:
        pytest.skip("the fuzz tests did not run in this session")
    record(f"api_fuzz_{run}", {**totals, "by_operation": TALLY[run].by_operation})
    assert totals["5xx"] == 0
    assert totals["operations"] == 4     # search, articles, health, suggest (Schemathesis leaves out the spec itself)
    assert totals["requests"] >= minimum


def test_api_fuzz_figures_short():
    check_figures("short", 200)


@pytest.mark.slow
def test_api_fuzz_figures():
    check_figures("long", 10_000)
