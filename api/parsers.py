"""The API's JSON parser: DRF's, but a body nested too deeply for Python's recursion limit
is a 400 like any other malformed JSON (json raises RecursionError, not ValueError, and
that escaped as a 500 with a traceback)."""

from collections.abc import Mapping
from typing import IO, Any

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
