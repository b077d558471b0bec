"""Reading a signed request the way the API gateway does: what only the emulator needs.

The layer signs (``dcs_restores.signing``); verifying is the gateway's job, so the parser of an
``Authorization: SDK-HMAC-SHA256 ...`` header lives here, beside the emulator that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

from dcs_restores.signing import ALGORITHM


@dataclass(frozen=True)
class Authorization:
    """The parts of an ``Authorization: SDK-HMAC-SHA256 ...`` header."""

    access_key: str
    signed_headers: list[str]
    signature: str

    @classmethod
    def parse(cls, header: str) -> Authorization:
        algorithm, _, rest = header.strip().partition(" ")
        if algorithm != ALGORITHM:
            raise ValueError(f"unsupported signing algorithm {algorithm!r}")
        parts: dict[str, str] = {}
        for item in rest.split(","):
            key, sep, value = item.strip().partition("=")
            if not sep:
                raise ValueError("malformed Authorization header")
            parts[key] = value
        try:
            return cls(parts["Access"], parts["SignedHeaders"].split(";"), parts["Signature"])
        except KeyError as missing:
            raise ValueError(f"Authorization header lacks {missing.args[0]}") from None
