"""One failed restore as the ledger keys it and as SQS receives it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from dcs_restores import RestoreRecord

MAX_MESSAGE_BYTES = 1_048_576  # SQS: one message, body and attributes together
MAX_CODE_ATTRIBUTE = 256  # a longer error_code stays in the body only
MAX_BODY_BYTES = (
    MAX_MESSAGE_BYTES - 8_192
)  # the attributes (IDs of at most 256 characters, a short code) fit in the rest
FREE_TEXT = ("restore_name", "backup_id", "backup_name", "restore_remark", "backup_remark", "error_code")  # unbounded
CUT_TO = 1_024  # characters a cut field keeps
_MARK = ',"possible_duplicate":true'  # what marked_possible_duplicate adds (ASCII: as many bytes as characters)


def _compact(body: dict[str, object]) -> str:
    return json.dumps(body, separators=(",", ":"))


def marked_possible_duplicate(body: str) -> str:
    """A message body of ``FailedRestore.message_body`` with ``"possible_duplicate": true`` as its last field:
    sent again after SQS's answer to an earlier send was lost, so SQS may hold it twice."""
    return f"{body[:-1]}{_MARK}}}"


@dataclass(frozen=True)
class FailedRestore:
    project_id: str
    instance_id: str
    record: RestoreRecord
    seen_at: datetime

    @property
    def key(self) -> str:
        """The ledger's key: a restore ID is unique only within its instance, and an instance within its project."""
        return f"{self.project_id}#{self.instance_id}#{self.record.restore_id}"

    @property
    def restore_id(self) -> str:
        return self.record.restore_id

    def message_body(self) -> str:
        """The normalised record, its instance and project, and when it was seen, as compact JSON.

        A record too large for one SQS message has its longest free-text fields cut to
        ``CUT_TO`` characters, one at a time until it fits, and says which in ``cut_fields``:
        a failed restore is never dropped for the size of its remarks. It is fitted with room
        for ``marked_possible_duplicate``'s field, so a marked resend is cut as the first send was.
        """
        body = self.record.model_dump(mode="json")
        body.update(instance_id=self.instance_id, project_id=self.project_id, seen_at=self.seen_at.isoformat())
        text = _compact(body)
        cut: list[str] = []
        for field in sorted(FREE_TEXT, key=lambda name: len(body.get(name) or ""), reverse=True):
            if len(text.encode()) + len(_MARK) <= MAX_BODY_BYTES or len(body.get(field) or "") <= CUT_TO:
                break
            body[field] = body[field][:CUT_TO]
            cut.append(field)
            text = _compact({**body, "cut_fields": sorted(cut)})
        return text

    def attributes(self) -> dict[str, dict[str, str]]:
        """SQS message attributes, for consumers that filter without reading the body."""
        values = {"instance_id": self.instance_id, "restore_id": self.record.restore_id}
        if self.record.error_code and len(self.record.error_code) <= MAX_CODE_ATTRIBUTE:  # a code, not a remark
            values["error_code"] = self.record.error_code
        return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}

    @property
    def message_group_id(self) -> str:
        """FIFO queues: one group per instance, so one instance's restores stay in order."""
        return self.instance_id

    @property
    def deduplication_id(self) -> str:
        """FIFO queues: deduplication spans the whole queue, so the ID is the ledger key's (project included)."""
        return hashlib.sha256(self.key.encode()).hexdigest()
