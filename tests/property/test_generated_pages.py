"""Generated DCS bodies, good and drifted records mixed: a page never fails because of a record."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dcs_restores.pages import parse_page
from devkit.seed import generate_records

GOOD = generate_records(50)
FIELDS = [name for name in GOOD[0] if name != "restore_id"]
junk = st.one_of(
    st.none(),
    st.just({}),
    st.just(""),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
drifted = st.builds(
    lambda base, changes, drop: {name: value for name, value in {**base, **changes}.items() if name not in drop},
    st.sampled_from(GOOD),
    st.dictionaries(st.sampled_from([*FIELDS, "restore_id", "unknown_field"]), junk, max_size=4),
    st.sets(st.sampled_from([*FIELDS, "restore_id"]), max_size=2),
)
records = st.lists(st.one_of(st.sampled_from(GOOD), drifted, junk), max_size=40)


@settings(max_examples=400, deadline=None)
@given(items=records, offset=st.integers(min_value=0, max_value=10**6))
def test_a_page_never_fails_for_a_record_and_every_record_is_counted(items: list[Any], offset: int) -> None:
    body = json.dumps({"restore_record_response": items, "total_num": len(items)}).encode()
    page = parse_page(body, offset)
    # Every element is either a valid record or a reported invalid one, at its place in the window
    assert len(page.records) + len(page.invalid) == len(items)
    assert all(offset <= invalid.index < offset + len(items) for invalid in page.invalid)
    assert len({invalid.index for invalid in page.invalid}) == len(page.invalid)
    assert all(invalid.reason for invalid in page.invalid)
    # And what is valid serialises to the normalised shape
    for record in page.records:
        dumped = record.model_dump(mode="json")
        assert dumped["restore_id"]
        assert dumped["progress"] is None or 0 <= dumped["progress"] <= 100
