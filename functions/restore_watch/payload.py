"""The payload every trigger returns: its one definition.

The use case builds it, ``shaping`` fits it to what the caller can receive, the HTTP API
serves its JSON schema, the local command reads it and the tests assert it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dcs_restores import InvalidRecord, RestoreQuery, RestoreRecord, RestoreResult, RestoreStatus

from .forwarding.outcome import Forwarded


class RecordSelection(StrEnum):
    """Which of the window's valid records a payload carries; each later one is smaller."""

    ALL = "all"
    FAILED = "failed"
    NONE = "none"

    def select(self, records: list[RestoreRecord]) -> list[RestoreRecord]:
        if self is RecordSelection.ALL:
            return records
        if self is RecordSelection.FAILED:
            return [record for record in records if record.status is RestoreStatus.FAILED]
        return []


class FollowedRestore(RestoreRecord):
    """The record of the restore a request follows, its free-text fields cut when the answer could not hold them."""

    cut_fields: list[str] = Field(
        default_factory=list,
        description="The free-text fields cut short so the answer fits its size limit (empty when none was).",
    )

    @classmethod
    def of(cls, record: RestoreRecord) -> FollowedRestore:
        """``record`` whole, with nothing cut; built from validated fields, not re-checked."""
        return cls.model_construct(**dict(record), cut_fields=[])


class Window(BaseModel):
    model_config = ConfigDict(frozen=True)

    begin: datetime
    end: datetime


class RestorePayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    instance_id: str
    project_id: str
    window: Window
    total: int = Field(description="total_num as DCS reported it (the largest seen while paging).")
    records: list[RestoreRecord]
    records_included: RecordSelection = Field(
        description="Which of the window's valid records `records` holds: fewer than asked when the payload "
        "would pass the response size limit (counts always cover all of them)."
    )
    counts: dict[RestoreStatus, int]
    invalid_records: list[InvalidRecord]
    invalid_records_omitted: int = Field(
        description="Invalid records left out: beyond the 1,000 a window keeps, or to keep within the size limit."
    )
    truncated: bool = Field(description="The window held more records than MAX_RECORDS; the rest were not read.")
    forwarded: Forwarded
    restore: FollowedRestore | None = Field(
        default=None,
        description="The record of the restore the request named (restore_id): null when it named none, or while "
        "DCS does not list it in the window. Always kept, whatever the size limit leaves out; its free-text fields "
        "are cut when they alone would pass the limit, and `cut_fields` names them.",
    )
    restore_invalid: str | None = Field(
        default=None,
        description="Why DCS's record of the restore the request named is invalid, when DCS listed that restore only "
        "as invalid records (e.g. both succeed and failed): its status cannot be told, and `restore` is null. Null "
        "otherwise. Always kept, whatever the size limit leaves out.",
    )

    @classmethod
    def whole(
        cls, query: RestoreQuery, result: RestoreResult, forwarded: Forwarded, restore_id: str | None = None
    ) -> RestorePayload:
        """Everything read for ``query``: every record, before fitting. Built from validated parts, not re-checked."""
        watched = next((record for record in result.records if record.restore_id == restore_id), None)
        invalid = None
        if restore_id is not None and watched is None:  # listed, but only as records that failed validation
            invalid = next((bad.reason for bad in result.invalid_records if bad.restore_id == restore_id), None)
        return cls.model_construct(
            instance_id=query.instance_id,
            project_id=query.project_id,
            window=Window.model_construct(begin=query.begin_time, end=query.end_time),
            total=result.total,
            records=result.records,
            records_included=RecordSelection.ALL,
            counts=result.counts,
            invalid_records=result.invalid_records,
            invalid_records_omitted=result.invalid_total - len(result.invalid_records),
            truncated=result.truncated,
            forwarded=forwarded,
            restore=None if watched is None else FollowedRestore.of(watched),
            restore_invalid=invalid,
        )

    def reduced_to(
        self,
        selection: RecordSelection,
        records: list[RestoreRecord],
        invalid: list[InvalidRecord],
        omitted: int | None = None,
    ) -> RestorePayload:
        """This payload carrying only ``records`` (``selection`` of its own) and the first ``invalid`` records.

        ``omitted`` defaults to the invalid records left out, here and before.
        """
        if omitted is None:
            omitted = self.invalid_records_omitted + len(self.invalid_records) - len(invalid)
        return self.model_copy(
            update={
                "records": records,
                "records_included": selection,
                "invalid_records": invalid,
                "invalid_records_omitted": omitted,
            }
        )

    def to_json(self, *, records: list[Any] | None = None) -> dict[str, Any]:
        """The payload as Lambda and the HTTP API return it; ``records``: its records, already encoded."""
        if records is None:
            return self.model_dump(mode="json")
        encoded = self.model_dump(mode="json", exclude={"records"})
        return {name: records if name == "records" else encoded[name] for name in type(self).model_fields}
