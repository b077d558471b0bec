"""Our signer and huaweicloudsdkcore's, on generated requests: the same Authorization header."""

from datetime import UTC, datetime

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import given, settings
from hypothesis import strategies as st

from dcs_restores.signing import Credentials, canonical_query, sign

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
segments = st.lists(text.filter(lambda s: "/" not in s and "%" not in s), min_size=1, max_size=4)
header_names = st.from_regex(r"X-[A-Za-z][A-Za-z0-9-]{0,10}", fullmatch=True)
header_values = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=16)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(
    ak=st.from_regex(r"[A-Z0-9]{8,20}", fullmatch=True),
    sk=st.text(min_size=1, max_size=40),
    path=segments,
    query=st.lists(st.tuples(text, text), max_size=5),
    headers=st.dictionaries(header_names, header_values, max_size=4),
    now=moments,
)
def test_same_authorization_as_the_official_signer(
    ak: str, sk: str, path: list[str], query: list[tuple[str, str]], headers: dict[str, str], now: datetime
) -> None:
    resource_path = "/" + "/".join(path)
    # Given the official signer's request with an explicit date
    sdk_date = now.strftime("%Y%m%dT%H%M%SZ")
    official = SdkRequest(
        method="GET",
        schema="https",
        host="dcs.example.test",
        resource_path=resource_path,
        query_params=list(query),
        header_params={**headers, "X-Sdk-Date": sdk_date},
        body="",
    )
    Signer(BasicCredentials(ak, sk)).sign(official)
    # When we sign the same request
    ours = sign(Credentials(ak, sk), "GET", "dcs.example.test", resource_path, canonical_query(query), headers, now=now)
    # Then both headers and the query on the wire agree
    assert ours["Authorization"] == official.header_params["Authorization"]
    wire_query = canonical_query(query)
    assert official.uri == (f"{resource_path}?{wire_query}" if wire_query else resource_path)
