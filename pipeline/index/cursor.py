"""Opaque cursors for deep paging: the sort values of a page's last hit, encoded."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from typing import Any

from pipeline.errors import InputError

# Ours are under 200 characters; the longest we could make (two 200-character texts,
# every character JSON-escaped, in base64) is under 3,300: a longer one was not made by us.
_CURSOR_CHARS = 4096
_CURSOR_TEXT = 200  # the longest sort value or id text a cursor may hold
_INT64 = 2**63  # engines sort on 64-bit longs (dates in ms)
ANY_SORT_VALUE: tuple[type[Any], ...] = (str, int, float, type(None))
# The engines' index.max_result_window: how deep ``from`` may page (a collapsed search's
# cursor holds an offset, as the engines page collapsed results by ``from`` only).
MAX_WINDOW = 10_000


def encode_cursor(values: Sequence[Any]) -> str:
    """An opaque cursor from the sort values of the last hit: ``[sort value, id]``."""
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, after: tuple[type[Any], ...] = ANY_SORT_VALUE) -> list[Any]:
    """The ``[sort value, id]`` in a cursor made by ``encode_cursor``.

    A cursor comes back from the client, so it is checked like any input: short,
    base64 of a JSON list of exactly a sort value and an id (text), the sort value
    one of the ``after`` types the backend sorts this query by (e.g. ``(float, int)``
    for a score), finite, within 64 bits, texts of bounded length. Raises
    ``InputError("invalid cursor")`` for anything else, so no forged value reaches a
    query.
    """
    if len(cursor) > _CURSOR_CHARS:
        raise InputError("invalid cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, TypeError, RecursionError) as exc:
        raise InputError("invalid cursor") from exc
    if not isinstance(values, list) or len(values) != 2:
        raise InputError("invalid cursor")
    value, last_id = values
    if not isinstance(last_id, str) or len(last_id) > _CURSOR_TEXT:
        raise InputError("invalid cursor")
    # bool is an int to isinstance, and never a sort value of ours
    if isinstance(value, bool) or not isinstance(value, after):
        raise InputError("invalid cursor")
    if (
        (isinstance(value, float) and not math.isfinite(value))
        or (isinstance(value, int) and not -_INT64 <= value < _INT64)
        or (isinstance(value, str) and len(value) > _CURSOR_TEXT)
    ):
        raise InputError("invalid cursor")
    return [value, last_id]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a sort value")


def decode_offset_cursor(cursor: str) -> int:
    """The offset in a collapsed engine search's cursor (``[offset, id of the last
    hit]``, made by ``encode_cursor``): a positive int below ``MAX_WINDOW``. Raises
    ``InputError("invalid cursor")`` for anything else, as ``decode_cursor``."""
    offset, _ = decode_cursor(cursor, (int,))
    if not 0 < offset < MAX_WINDOW:
        raise InputError("invalid cursor")
    return int(offset)
