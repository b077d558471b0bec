"""Raw signed requests to the emulator, as the client would send them: shared by the emulator tests."""

from datetime import UTC, datetime, timedelta

import requests

from dcs_restores import Credentials
from dcs_restores.signing import canonical_query, sign
from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, DEFAULT_SK

PATH = f"/v2/{DEFAULT_PROJECT_ID}/instances/{DEFAULT_INSTANCE_ID}/restores"
INSTANCES_PATH = f"/v2/{DEFAULT_PROJECT_ID}/instances"


def signed_headers(
    url: str, query: str, *, path: str = PATH, credentials: Credentials, project_id: str, skew: timedelta
) -> dict[str, str]:
    """The headers the client would send, signed with the clock read now (not when the test was collected)."""
    headers = {"X-Project-Id": project_id}
    return sign(credentials, "GET", url.removeprefix("http://"), path, query, headers, now=datetime.now(UTC) + skew)


def get(
    url: str,
    params: list[tuple[str, str]],
    *,
    path: str = PATH,
    sk: str = DEFAULT_SK,
    project_id: str = DEFAULT_PROJECT_ID,
    skew: timedelta = timedelta(0),
) -> requests.Response:
    query = canonical_query(params)
    credentials = Credentials(DEFAULT_AK, sk)
    headers = signed_headers(url, query, path=path, credentials=credentials, project_id=project_id, skew=skew)
    return requests.get(f"{url}{path}?{query}", headers=headers, timeout=5)
