"""Generated HTTP API events through the real handler: every one gets a defined answer, and bad input reaches no DCS.

The other trigger shapes are generated in ``test_generated_events``; this covers API Gateway's payload v2 as the
gateway would send it: any method, any path, hostile instance IDs (encoded in the raw path as the gateway keeps
them), and query strings with wrong types, huge numbers, malformed and reversed times and unknown parameters.
The emulator and moto are healthy behind it, so every answer is a 200, a 400 naming the field, or a 404. A 400
or an unrouted 404 has sent nothing to DCS; a 200 matches the OpenAPI document's model, and every failed restore
it reports is in the queue exactly once, however many overlapping windows asked for it.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_kind
from hypothesis import strategies as st

from dcs_restores import RestoreStatus
from devkit.emulator import DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, Emulator
from devkit.invoke import LocalContext
from restore_watch.app import lambda_handler
from restore_watch.payload import RestorePayload

from ..support import AwsResources, load_event
from .test_generated_events import HOSTILE_IDS, moments, safe_ids

EXAMPLES = 300
TEMPLATE = load_event("http-get-window.json")

texts = st.text(max_size=50)
instance_ids = st.one_of(st.just(DEFAULT_INSTANCE_ID), safe_ids, st.sampled_from(HOSTILE_IDS), texts)
times = st.one_of(
    moments.map(lambda moment: moment.strftime("%Y%m%d%H%M%S")),
    moments.map(lambda moment: moment.isoformat()),
    st.sampled_from(["2024-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "20240101", "yesterday", "", "-1"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    texts,
)
numbers = st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str), st.sampled_from(["", "1.5", "1e3"]))
projects = st.one_of(st.just(DEFAULT_PROJECT_ID), st.sampled_from(HOSTILE_IDS), safe_ids)
parameters = st.fixed_dictionaries(
    {},
    optional={
        "begin_time": times,
        "end_time": times,
        "offset": numbers,
        "limit": numbers,
        "project_id": projects,
        "unexpected": texts,
    },
)


def plausible_window(begin: datetime, span: timedelta) -> dict[str, str]:
    return {"begin_time": begin.strftime("%Y%m%d%H%M%S"), "end_time": (begin + span).isoformat()}


# A window DCS is asked about: begin before end, within the allowed length.
plausible = st.builds(
    plausible_window,
    moments,
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=31)),
)
# Windows over the records the emulator holds (from 2024-01-01, one every 7 minutes), so answers carry failures.
over_records = st.builds(
    plausible_window,
    st.integers(min_value=-60, max_value=240).map(
        lambda minutes: datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    ),
    st.integers(min_value=0, max_value=360).map(lambda minutes: timedelta(minutes=minutes)),
)
methods = st.sampled_from(["GET"] * 6 + ["POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"])
other_paths = st.one_of(st.sampled_from(["/", "/openapi.json", "/instances", "/instances//restores"]), texts)


def http_event(method: str, path: str, query: dict[str, str], instance_id: str | None) -> dict[str, Any]:
    """The gateway's payload v2: the raw path percent-encoded, path and query parameters decoded."""
    event = copy.deepcopy(TEMPLATE)
    raw_path = path if path.startswith("/") else "/" + quote(path, safe="")
    event["rawPath"] = event["requestContext"]["http"]["path"] = raw_path
    event["requestContext"]["http"]["method"] = method
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {raw_path}"
    event["rawQueryString"] = urlencode(query)
    event["queryStringParameters"] = query or None
    event["pathParameters"] = {"instance_id": instance_id} if instance_id is not None else None
    if not query:
        del event["queryStringParameters"]
    return event


def restores_event(method: str, instance_id: str, query: dict[str, str]) -> dict[str, Any]:
    return http_event(method, f"/instances/{quote(instance_id, safe='')}/restores", query, instance_id)


events = st.one_of(
    st.builds(restores_event, methods, instance_ids, parameters),
    st.builds(restores_event, st.just("GET"), st.just(DEFAULT_INSTANCE_ID), plausible),
    st.builds(restores_event, st.just("GET"), st.just(DEFAULT_INSTANCE_ID), over_records),
    st.builds(
        restores_event,
        st.just("GET"),
        instance_ids,
        st.builds(lambda window, rest: rest | window, plausible, parameters),
    ),
    st.builds(http_event, methods, other_paths, parameters, st.none()),
)


@pytest.mark.long
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(event=events)
def test_every_http_event_gets_a_defined_answer(
    event: dict[str, Any], function_env: dict[str, str], emulator: Emulator, aws: AwsResources
) -> None:
    before = len(emulator.restore_requests())
    answer = lambda_handler(event, LocalContext())
    asked_dcs = len(emulator.restore_requests()) > before
    status = answer["statusCode"]
    body = json.loads(answer["body"])
    code = body.get("error", {}).get("code", "ok")
    note_kind(f"{status} {code}")  # --hypothesis-show-statistics
    assert answer["headers"]["Content-Type"] == "application/json"

    if status == 200 and event["rawPath"] == "/openapi.json":
        assert "paths" in body
    elif status == 200:
        assert event["requestContext"]["http"]["method"] == "GET"
        assert asked_dcs
        check_payload(RestorePayload.model_validate(body), event, aws)
    elif status == 400:
        assert (set(body), code) == ({"error"}, "invalid_request")
        assert body["error"]["details"]["field"]  # names what to fix
        assert not asked_dcs
    elif code == "instance_not_found":  # a well-formed ID DCS does not know: it was asked
        assert status == 404
        assert asked_dcs
    else:
        assert (status, code) == (404, "not_found")
        assert not asked_dcs


def check_payload(payload: RestorePayload, event: dict[str, Any], aws: AwsResources) -> None:
    """The answer adds up, and its failed restores are queued once each, whichever earlier window queued them."""
    assert payload.instance_id == event["pathParameters"]["instance_id"]
    assert sum(payload.counts.values()) == len(payload.records)
    failed = {record.restore_id for record in payload.records if record.status is RestoreStatus.FAILED}
    assert payload.forwarded.queued + payload.forwarded.already_forwarded == len(failed)
    queued = Counter(json.loads(message["Body"])["restore_id"] for message in aws.messages()) if failed else Counter()
    assert all(queued[restore_id] == 1 for restore_id in failed)
    if failed:
        note_kind("forwarded failed restores")
