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
from restore_watch.errors import InstancesFailedError, UnknownEventError

from .test_generated_events import events, plausible_direct

EXAMPLES = 300
known_instance = plausible_direct.map(lambda event: {**event, "instance_id": DEFAULT_INSTANCE_ID})


@pytest.mark.long
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(event=st.one_of(events, known_instance))
def test_a_refused_event_sends_nothing_to_dcs(event: Any, function_env: dict[str, str], emulator: Emulator) -> None:
    before = len(emulator.restore_requests())
    try:
        lambda_handler(event, LocalContext())
    except (InvalidQueryError, UnknownEventError) as refusal:
        note_kind(type(refusal).__name__)
        assert len(emulator.restore_requests()) == before
    except (DcsError, InstancesFailedError) as failure:  # accepted, and DCS said no (unknown instance)
        note_kind(type(failure).__name__)
        assert len(emulator.restore_requests()) > before
    else:
        note_kind("answered")
