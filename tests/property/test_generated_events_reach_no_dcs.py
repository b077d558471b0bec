"""Generated events through the real handler: a refused event never becomes a request to DCS.

The same generated events as ``test_generated_events``, but end to end: the handler runs with
the DCS emulator and moto behind it. An event the adapters refuse raises a named error and the
emulator has received nothing more; one they accept is answered, or fails with a named error
(DCS knows no such instance, say). Nothing else escapes.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_kind
from hypothesis import strategies as st

from dcs_restores import DcsError, InvalidQueryError
from devkit.emulator import DEFAULT_INSTANCE_ID, Emulator
from devkit.invoke import LocalContext
from restore_watch.app import lambda_handler
from restore_watch.errors import UnknownEventError

from .test_generated_events import events, plausible_direct, plausible_schedule

EXAMPLES = 300
known_instance = plausible_direct.map(lambda event: {**event, "instance_id": DEFAULT_INSTANCE_ID})
# A schedule that lists instances DCS knows: refused all the same, before any request
known_instances_listed = plausible_schedule.map(
    lambda event: {**event, "instance_ids": [DEFAULT_INSTANCE_ID, event["instance_id"]]}
)


@pytest.mark.long
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(event=st.one_of(events, known_instance, known_instances_listed))
def test_a_refused_event_sends_nothing_to_dcs(event: Any, function_env: dict[str, str], emulator: Emulator) -> None:
    before = len(emulator.restore_requests())
    outcome = "answered"
    try:
        lambda_handler(event, LocalContext())
    except (InvalidQueryError, UnknownEventError) as refusal:
        outcome = f"{type(refusal).__name__}: {getattr(refusal, 'field', '')}"
        assert len(emulator.restore_requests()) == before
    except DcsError as failure:  # accepted, and DCS said no (unknown instance)
        outcome = type(failure).__name__
        assert len(emulator.restore_requests()) > before
    note_kind(outcome.split(":")[0])
    if isinstance(event, dict) and "instance_ids" in event:  # one invocation watches one instance
        assert outcome == "InvalidQueryError: instance_ids"
