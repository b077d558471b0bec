from datetime import UTC, datetime

import pytest

from dcs_restores.signing import (
    Credentials,
    canonical_query,
    canonical_uri,
    sign,
)
from devkit.verify import Authorization

PROJECT = "0123456789abcdef0123456789abcdef"
PATH = f"/v2/{PROJECT}/instances/a1b2c3d4-0000-1111-2222-333344445555/restores"
QUERY = [("begin_time", "20240101000000"), ("end_time", "20240131235959"), ("offset", "0"), ("limit", "10")]


def test_matches_the_vector_computed_with_the_official_sdk() -> None:
    # Given the request and key pair
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "huaweicloud-usdk-python/3.0",
        "X-Project-Id": PROJECT,
    }
    # When it is signed at 2024-02-01 12:00:00 UTC
    signed = sign(
        Credentials("AKEXAMPLE123", "SKEXAMPLESECRET456"),
        "GET",
        "dcs.cn-north-4.myhuaweicloud.com",
        PATH,
        canonical_query(QUERY),
        headers,
        now=datetime(2024, 2, 1, 12, 0, 0, tzinfo=UTC),
    )
    # Then the Authorization header is the SDK's, byte for byte
    assert signed["Authorization"] == (
        "SDK-HMAC-SHA256 Access=AKEXAMPLE123, "
        "SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date, "
        "Signature=679466dc38b7db9e198227aae3a6ec89fe1bc708ebfb18392bd26616f9ac97d4"
    )
    assert signed["X-Sdk-Date"] == "20240201T120000Z"
    assert signed["Host"] == "dcs.cn-north-4.myhuaweicloud.com"


def test_canonical_query_sorts_pairs_and_encodes_rfc3986() -> None:
    assert canonical_query(QUERY) == "begin_time=20240101000000&end_time=20240131235959&limit=10&offset=0"
    assert canonical_query([("b", "x y/z~"), ("a", "é")]) == "a=%C3%A9&b=x%20y%2Fz~"


def test_canonical_uri_encodes_segments_and_always_ends_in_a_slash() -> None:
    assert canonical_uri("/v2/p/instances/i/restores") == "/v2/p/instances/i/restores/"
    assert canonical_uri("/a b/c%2Fd/") == "/a%20b/c/d/"


def test_a_security_token_is_sent_and_signed() -> None:
    credentials = Credentials("AK", "SK", security_token="TOKEN")
    signed = sign(credentials, "GET", "h", "/", "", {}, now=datetime(2024, 1, 1, tzinfo=UTC))
    assert signed["X-Security-Token"] == "TOKEN"
    assert "x-security-token" in Authorization.parse(signed["Authorization"]).signed_headers


def test_headers_with_underscores_are_not_signed_like_the_official_signer() -> None:
    signed = sign(Credentials("AK", "SK"), "GET", "h", "/", "", {"X_Odd": "1"}, now=datetime(2024, 1, 1, tzinfo=UTC))
    assert Authorization.parse(signed["Authorization"]).signed_headers == ["host", "x-sdk-date"]


def test_credentials_never_show_the_secret() -> None:
    credentials = Credentials("AKID", "TOP-SECRET", security_token="TOKEN-SECRET")
    assert "TOP-SECRET" not in repr(credentials)
    assert "TOKEN-SECRET" not in repr(credentials)
    with pytest.raises(ValueError, match="secret key"):
        Credentials("AKID", "")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer abc", "unsupported signing algorithm"),
        ("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host", "lacks Signature"),
        ("SDK-HMAC-SHA256 garbage", "malformed"),
    ],
)
def test_authorization_parse_rejects_malformed_headers(header: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Authorization.parse(header)
