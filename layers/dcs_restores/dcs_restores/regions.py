"""Huawei Cloud regions where DCS answers, and the endpoint of each, as the official SDK's region table has them.

Every region's endpoint is ``https://dcs.{region}.myhuaweicloud.com``. Only the regions the table knows
are accepted, so that a typing mistake fails at once by name instead of as an unreachable host after every
retry; a region newer than this table is reached by giving its endpoint instead. A contract test holds this
table to the installed SDK's (``huaweicloudsdkdcs.v2.region.dcs_region``).
"""

from __future__ import annotations

import re

REGION_SHAPE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,3}$")  # e.g. cn-north-4, my-kualalumpur-1, eu-west-101
# As in huaweicloudsdkdcs 3.1.219.
REGIONS = frozenset(
    {
        "ae-ad-1", "af-north-1", "af-south-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
        "ap-southeast-5", "cn-east-2", "cn-east-3", "cn-east-4", "cn-east-5", "cn-north-1", "cn-north-11",
        "cn-north-12", "cn-north-2", "cn-north-4", "cn-north-9", "cn-south-1", "cn-south-2", "cn-south-4",
        "cn-southwest-2", "cn-southwest-3", "eu-west-0", "eu-west-101", "la-north-2", "la-south-2", "me-east-1",
        "my-kualalumpur-1", "na-mexico-1", "ru-moscow-1", "ru-northwest-2", "sa-brazil-1", "tr-west-1",
    }
)  # fmt: skip


def region_endpoint(region: str) -> str:
    """The DCS endpoint of ``region``; ``ValueError`` saying why for a name that is not a known region."""
    if not REGION_SHAPE.match(region):
        raise ValueError("must be a Huawei Cloud region name such as cn-north-4")
    if region not in REGIONS:
        raise ValueError(
            f"{region!r} is not a region this version knows DCS in; give its endpoint (DCS_ENDPOINT) instead"
        )
    return f"https://dcs.{region}.myhuaweicloud.com"
