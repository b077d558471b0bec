"""The regions DCS_REGION accepts are the official SDK's, each with the SDK's own endpoint."""

from __future__ import annotations

import pytest
from huaweicloudsdkdcs.v2.region.dcs_region import DcsRegion

from dcs_restores import REGIONS, region_endpoint


def test_the_regions_are_the_official_sdks() -> None:
    assert set(REGIONS) == set(DcsRegion.static_fields)


@pytest.mark.parametrize("region", sorted(DcsRegion.static_fields))
def test_each_region_has_the_official_sdks_endpoint(region: str) -> None:
    assert [region_endpoint(region)] == DcsRegion.value_of(region).endpoints
