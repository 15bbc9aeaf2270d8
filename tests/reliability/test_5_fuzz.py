"""Scenario 5, fuzz: schemathesis against the live schema finds no 5xx and no response
outside the schema."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.reliability.harness import SHORT, ApiSession, record

pytestmark = pytest.mark.soak


FUZZ_EXAMPLES = 5 if SHORT else 25


def test_schemathesis_against_the_live_server_finds_no_5xx_and_no_schema_violation(stack):
    """Every operation of the served schema, positive and negative input, as a signed-in
    editor. Not checked: that every schema-valid body is accepted (a string the schema
    allows as "cidr" may still be no network: a 400 with a field message is right)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode
    from schemathesis.core.failures import AcceptedNegativeData, Failure, FailureGroup
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    base = f"http://127.0.0.1:{stack.port}"
    fuzzer = ApiSession(stack.port)
    assert fuzzer.login("editor").status == 200
    loaded = schemathesis.openapi.from_url(
        f"{base}/api/schema?format=json", headers=fuzzer.headers("GET")
    )
    raw = loaded.raw_schema
    # Authentication is scenario 6's subject: here every request is the editor's.
    raw.get("components", {}).pop("securitySchemes", None)
    for item in raw["paths"].values():
        for operation in item.values():
            operation.pop("security", None)
    schema = schemathesis.openapi.from_dict(raw)
    operations = {op.label: op for op in (r.ok() for r in schema.get_all_operations())}

    def has_input(label: str) -> bool:
        method, path = label.split(" ", 1)
        definition = raw["paths"][path][method.lower()]
        return bool(definition.get("parameters") or definition.get("requestBody"))

    cases = [(label, GenerationMode.POSITIVE) for label in sorted(operations)] + [
        (label, GenerationMode.NEGATIVE) for label in sorted(operations) if has_input(label)
    ]
    statuses: Counter = Counter()
    known: Counter = Counter()
    failures: dict[str, str] = {}

    def trimmed_to_length(failure, case) -> bool:
        """DRF strips surrounding whitespace before checking max_length, so a string over
        the schema's maxLength only by its padding is accepted (reported, not fixed here)."""
        if not isinstance(failure, AcceptedNegativeData) or "maxLength" not in str(failure):
            return False
        values = [*(case.query or {}).values()]
        values += [*(case.body.values() if isinstance(case.body, dict) else [])]
        return any(isinstance(v, str) and v != v.strip() for v in values)

    def fuzz(label: str, mode: GenerationMode, headers: dict, cookies: dict) -> None:
        @given(case=operations[label].as_strategy(generation_mode=mode))
        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case):
            response = case.call(base_url=base, headers=headers, cookies=cookies, timeout=60)
            statuses[response.status_code] += 1
            if response.status_code == 414:  # gunicorn's request-line limit, before Django
                known["414 from gunicorn (request line > 4094 B)"] += 1
                return
            try:
                case.validate_response(response, excluded_checks=[positive_data_acceptance])
            except (Failure, FailureGroup) as exc:
                found = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
                if not all(trimmed_to_length(f, case) for f in found):
                    raise
                known["over-long padded string accepted (DRF trims first)"] += 1
            if response.status_code == 401:  # signed in: the fuzzing must get past that
                assert response.json()["error"]["code"] != "not_authenticated"

        check()

    for label, mode in cases:
        if fuzzer.call("GET", "/api/me").status == 401:  # the logout operation ran
            assert fuzzer.login("editor").status == 200
        headers = fuzzer.headers("POST")
        for name in ("Cookie", "Host", "Content-Type"):
            headers.pop(name)
        try:
            fuzz(label, mode, headers, dict(fuzzer.cookies))
        except Exception as exc:  # noqa: BLE001 - collected, asserted below
            failures[f"{label} {mode.value}"] = str(exc)[:800]

    server = sum(n for status, n in statuses.items() if status >= 500)
    record(
        "5 fuzz (schemathesis)",
        operations=len(operations),
        cases_positive_negative=len(cases),
        requests=sum(statuses.values()),
        by_status=dict(sorted(statuses.items())),
        responses_5xx=server,
        schema_violations=len(failures),
        known_and_tolerated=dict(known) or "none",
    )
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    assert server == 0
    assert len(operations) >= 13
    stack.assert_db_matches_waf()
