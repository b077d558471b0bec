"""The client's paths run once, offline: what a process snapshotted afterwards (Lambda SnapStart) has ready.

``prime()`` reads a window and lists a project's instances through a real client whose session is
answered in-process with pages shaped as DCS sends them (``{}`` for no value, progress as a decimal
string, a failed restore with its error code). Requests are signed with placeholder credentials and
never leave the process; the client is closed afterwards, so no connection or credential outlives it.
"""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPResponse

from .client import DcsRestoresClient
from .instances import InstanceQuery
from .models import RestoreResult
from .query import RestoreQuery
from .retry import Deadline
from .signing import Credentials

ENDPOINT = "https://dcs.priming.invalid"  # never resolved: the session answers in-process
PROJECT_ID = "0123456789abcdef0123456789abcdef"
INSTANCE_ID = "a1b2c3d4-0000-1111-2222-333344445555"


def _record(number: int, status: str, progress: str, error_code: Any = None) -> dict[str, Any]:
    return {
        "restore_id": f"00000000-0000-4000-8000-{number:012d}",
        "restore_name": f"restore_2024010100{number:02d}00",
        "backup_id": f"00000000-0000-4000-9000-{number:012d}",
        "backup_name": f"backup_2024010100{number:02d}00",
        "status": status,
        "progress": progress,
        "created_at": f"2024-01-01T00:{number:02d}:00.000Z",
        "updated_at": f"2024-01-01T00:{number:02d}:30.000Z" if status in ("succeed", "failed") else {},
        "error_code": error_code or {},
        "restore_remark": {},
        "backup_remark": "priming",
    }


RECORDS = [
    _record(1, "waiting", "0.00"),
    _record(2, "restoring", "48.50"),
    _record(3, "succeed", "100.00"),
    _record(4, "failed", "37.00", "dcs.08.0004"),
]
RESTORES = {"restore_record_response": RECORDS, "total_num": len(RECORDS)}
INSTANCES = {
    "instances": [
        {
            "instance_id": INSTANCE_ID,
            "name": "priming",
            "engine": "Redis",
            "engine_version": "6.0",
            "status": "RUNNING",
            "created_at": "2024-01-01T00:00:00.000Z",
            "tags": [{"key": "env", "value": "priming"}],
            "enterprise_project_id": "0",
        }
    ],
    "instance_num": 1,
}


class _InProcess(HTTPAdapter):
    """Answers each GET with the page for its path, as DCS would over HTTP, without a socket."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        page = RESTORES if urlsplit(str(request.url)).path.endswith("/restores") else INSTANCES
        body = HTTPResponse(
            body=io.BytesIO(json.dumps(page).encode()),
            headers={"Content-Type": "application/json", "X-Request-Id": "priming"},
            status=200,
            preload_content=False,
        )
        return self.build_response(request, body)


def prime() -> RestoreResult:
    """Read a window and list instances through a client answered in-process: nothing is sent, nothing kept.

    Returns the window's result (one record per status), for a caller to prime its own paths with.
    """
    with DcsRestoresClient(ENDPOINT, Credentials("priming", "priming")) as client:
        client._transport.mount("https://", _InProcess())  # this module is the client's own
        window = RestoreQuery.of(
            project_id=PROJECT_ID, instance_id=INSTANCE_ID, begin_time="20240101000000", end_time="20240102000000"
        )
        result = client.list_restores(window, Deadline.after(60))
        listing = client.list_instances(InstanceQuery.of(project_id=PROJECT_ID), Deadline.after(60))
    if len(result.records) != len(RECORDS) or len(listing.instances) != 1:
        raise RuntimeError("the priming pages did not validate: the sample pages drifted from the models")
    return result
