"""The API's JSON parser: any body ``json`` cannot turn into data is a 400, however deeply it nests."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class BoundedJSONParser(JSONParser):
    """DRF's ``JSONParser``, with a body nested deeper than Python's recursion limit refused as malformed.

    ``json`` parses nested arrays and objects recursively and raises ``RecursionError`` (not a
    ``ValueError``, which DRF already turns into a ``ParseError``) at a depth of about a thousand.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the body is nested too deeply.") from exc
