"""Reading a `multipart/mixed; boundary="graphql"` answer as a client does."""

from __future__ import annotations

from typing import Any

import orjson

END = b"\r\n--graphql--\r\n"


def multipart_parts(body: bytes) -> list[dict[str, Any]]:
    """The JSON parts of a whole multipart answer, in order."""
    assert body.endswith(END)
    parts = body.removesuffix(END).split(b"\r\n--graphql\r\n")[1:]
    return [orjson.loads(part.partition(b"\r\n\r\n")[2]) for part in parts]
