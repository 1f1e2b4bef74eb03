"""Opaque cursors for deep paging: the sort values of a page's last hit, encoded."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from pipeline.errors import InputError


def encode_cursor(values: Sequence[Any]) -> str:
    """An opaque cursor from the sort values of the last hit."""
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """The sort values in a cursor; ``InputError`` when it was not made by us."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as exc:
        raise InputError("invalid cursor") from exc
    if not isinstance(values, list) or len(values) != 2:
        raise InputError("invalid cursor")
    return values
