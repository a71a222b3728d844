"""Request ids as the store mints them (`r-` and eight hex digits), recognised before any database query.

Text a person typed is only looked up as a request id when it has that shape, so arbitrary input (NUL
characters, kilobytes of text) never reaches a query as an id.
"""

from __future__ import annotations

import re

_REQUEST_ID = re.compile(r"r-[0-9a-f]{8}")


def is_request_id(text: str) -> bool:
    """Whether `text` has the shape of a request id."""
    return _REQUEST_ID.fullmatch(text) is not None
