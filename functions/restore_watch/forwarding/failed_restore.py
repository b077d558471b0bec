"""One failed restore as the ledger keys it and as SQS receives it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from dcs_restores import RestoreRecord


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
        body = self.record.model_dump(mode="json")
        body.update(instance_id=self.instance_id, project_id=self.project_id, seen_at=self.seen_at.isoformat())
        return json.dumps(body, separators=(",", ":"))

    def attributes(self) -> dict[str, dict[str, str]]:
        """SQS message attributes, for consumers that filter without reading the body."""
        values = {"instance_id": self.instance_id, "restore_id": self.record.restore_id}
        if self.record.error_code:
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
