"""DCS restore records: the vendor's shape as it really arrives, our normalised record, and how a window's pages
read and merge."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field, field_serializer

from .listing import Listing, ListingResult, Merged
from .pages import InvalidItem, PageFormat, Words


class RestoreStatus(StrEnum):
    WAITING = "waiting"
    RESTORING = "restoring"
    SUCCEED = "succeed"  # sic: the vendor's spelling
    FAILED = "failed"


FINISHED = frozenset({RestoreStatus.SUCCEED, RestoreStatus.FAILED})

# The documented restore failure codes (dcs.08.0001-0008).
ERROR_MESSAGES: dict[str, str] = {
    "dcs.08.0001": "Failed to start the backup/restore tool.",
    "dcs.08.0002": "The restore timed out.",
    "dcs.08.0003": "Failed to delete the bucket.",
    "dcs.08.0004": "Failed to obtain the AK/SK.",
    "dcs.08.0005": "Failed to create the bucket.",
    "dcs.08.0006": "Failed to query the size of the backup data.",
    "dcs.08.0007": "Failed to synchronise data during the restore.",
    "dcs.08.0008": "The automatic backup task did not run: the instance is running another task.",
}
UNKNOWN_ERROR_MESSAGE = "Unknown DCS restore error code."


def _no_value(_: Any) -> None:
    return None


def as_utc(value: datetime) -> datetime:
    """DCS sends "...Z"; a timestamp without a zone is read as UTC rather than rejected."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The vendor's own example sends {} where the table says string: read it (and null, and "" where a
# number or time is due) as "no value". Unions tried left to right keep the common case inside
# pydantic-core; Python is called only for the rare empty value. Times convert to UTC on output.
_Empty = Annotated[Literal[""] | Annotated[dict[str, Any], Field(max_length=0)], AfterValidator(_no_value)]
_InOrder = Field(union_mode="left_to_right")
# A time that stays in the calendar once converted to UTC (0001-01-01T00:30:00+01:00 does not):
# checked by pydantic-core while validating, so such a record is reported, never crashes later.
_CalendarTime = Annotated[datetime, Field(gt=datetime(1, 1, 2, tzinfo=UTC), lt=datetime(9999, 12, 30, tzinfo=UTC))]
if TYPE_CHECKING:  # what the fields hold once validated
    OptionalText = str | None
    OptionalTime = datetime | None
    Progress = float | None
else:
    OptionalText = Annotated[Annotated[str, Field(min_length=1)] | _Empty | None, _InOrder]
    OptionalTime = Annotated[_CalendarTime | _Empty | None, _InOrder]
    Progress = Annotated[Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] | _Empty | None, _InOrder]


class InstanceRestoreInfo(BaseModel):
    """One element of ``restore_record_response``, validated.

    A record needs a ``restore_id`` and a known ``status``; everything else may be absent.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    # A restore ID is a UUID; past 256 characters it could not key the ledger (DynamoDB: 2,048 bytes).
    restore_id: Annotated[str, Field(min_length=1, max_length=256)]
    status: RestoreStatus
    restore_name: OptionalText = None
    backup_id: OptionalText = None
    backup_name: OptionalText = None
    restore_remark: OptionalText = None
    backup_remark: OptionalText = None
    created_at: OptionalTime = None
    updated_at: OptionalTime = None
    progress: Progress = None
    error_code: OptionalText = None


class RestoreRecord(InstanceRestoreInfo):
    """The normalised record: the validated vendor fields plus what they imply.

    Pages are validated straight into this class (one pydantic-core call per page, no copying);
    ``duration_seconds`` and ``error_message`` are derived, and serialise with the rest.
    """

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_seconds(self) -> float | None:
        """Seconds from creation to the last update, for a finished restore."""
        if self.status in FINISHED and self.created_at and self.updated_at:
            return (as_utc(self.updated_at) - as_utc(self.created_at)).total_seconds()
        return None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def error_message(self) -> str | None:
        return describe_error(self.error_code)

    @field_serializer("created_at", "updated_at")
    def _in_utc(self, moment: datetime | None) -> datetime | None:
        return None if moment is None else as_utc(moment)


def describe_error(code: str | None) -> str | None:
    if code is None:
        return None
    return ERROR_MESSAGES.get(code.lower(), UNKNOWN_ERROR_MESSAGE)


class InvalidRecord(InvalidItem):
    """A record DCS sent that failed validation: kept and reported, never silently dropped."""

    restore_id: str | None
    reason: str


class RestoreResult(ListingResult):
    """Everything read for one window (or one page)."""

    records: list[RestoreRecord]
    invalid_records: list[InvalidRecord] = Field(description="The first invalid records, up to the client's cap.")
    counts: dict[RestoreStatus, int]

    @classmethod
    def collect(
        cls,
        records: list[RestoreRecord],
        invalid: list[InvalidRecord],
        total: int,
        truncated: bool,
        *,
        max_invalid: int | None = None,
    ) -> RestoreResult:
        """The result of these records; of ``invalid``, the first ``max_invalid`` are kept and all are counted."""
        counts = dict.fromkeys(RestoreStatus, 0)
        for record in records:
            counts[record.status] += 1
        return cls.model_construct(
            records=records,
            invalid_records=invalid if max_invalid is None else invalid[:max_invalid],
            invalid_total=len(invalid),
            total=total,
            counts=counts,
            truncated=truncated,
        )

    @classmethod
    def of(cls, merged: Merged[RestoreRecord, InvalidRecord], *, max_invalid: int | None = None) -> RestoreResult:
        return cls.collect(merged.items, merged.invalid, merged.total, merged.truncated, max_invalid=max_invalid)


# How far along a restore is: a record seen twice keeps the later status of the two.
_PROGRESS = {RestoreStatus.WAITING: 0, RestoreStatus.RESTORING: 1, RestoreStatus.SUCCEED: 2, RestoreStatus.FAILED: 2}


def most_advanced(seen: RestoreRecord, again: RestoreRecord) -> RestoreRecord | str:
    """A restore listed twice moved on while the window was paged: it keeps its most advanced status (a
    failure found on page two is not lost to the ``restoring`` of page one). One that DCS reported both
    succeeded and failed contradicts itself: it is reported, and not forwarded."""
    if _PROGRESS[again.status] > _PROGRESS[seen.status]:
        return again
    if again.status in FINISHED and seen.status in FINISHED and again.status is not seen.status:
        return f"status: DCS reported this restore both {seen.status} and {again.status}"
    return seen


# A record is one JSON object, and its fields may hold a few more ({} for "no value", new fields).
_WORDS = Words(items="restore_record_response", total="total_num", noun="records", page="a restore records page")
_PAGES = PageFormat(RestoreRecord, InvalidRecord, _WORDS, key="restore_id", objects_per_item=32)
RESTORES = Listing(_PAGES, most_advanced)
