"""How large an answer may be, in bytes: what Lambda returns, and what a setting or an event may ask for.

Read by the settings and the trigger adapters, and by ``shaping``, which fits a payload to them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

LAMBDA_RESPONSE_LIMIT = 6_291_456  # bytes Lambda returns from a synchronous invoke
DEFAULT_MAX_RESPONSE_BYTES = 6_000_000  # below Lambda's limit, with some to spare
# The lowest limit a setting or an event may set: a payload without its lists (and no followed
# restore) is under 1 KB, so even this leaves room for a hundred records or more.
MIN_RESPONSE_BYTES = 65_536
ResponseBytes = Annotated[int, Field(ge=MIN_RESPONSE_BYTES, le=LAMBDA_RESPONSE_LIMIT)]
