"""The API's JSON parser: any body ``json`` cannot turn into data is a 400, however deeply it nests."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Arrays and objects inside one another, at most; a sign body nests two or three deep.
MAX_JSON_DEPTH = 32
NESTED_TOO_DEEPLY = "JSON parse error - the body is nested too deeply."


def nests_deeper_than(data: Any, limit: int) -> bool:
    """Whether arrays and objects in ``data`` nest more than ``limit`` deep (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class BoundedJSONParser(JSONParser):
    """DRF's ``JSONParser``, with a body nested deeper than ``MAX_JSON_DEPTH`` refused as malformed.

    The limit is the same on every Python: ``json`` parses nested arrays and objects recursively, and where it
    gives up depends on the interpreter (``RecursionError`` at a depth of about a thousand on 3.11, not before
    several thousand on 3.13), so a deeper body is refused here whether or not ``json`` could parse it.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(NESTED_TOO_DEEPLY) from exc
        if isinstance(data, dict | list) and nests_deeper_than(data, MAX_JSON_DEPTH):
            raise ParseError(NESTED_TOO_DEEPLY)
        return data
