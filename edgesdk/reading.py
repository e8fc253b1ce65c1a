"""Reading a user's text and JSON files: every failure is one ``EdgeSDKError`` line naming the
file (the reading counterpart of ``edgesdk.io``'s atomic writes). Stdlib only.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "broken.json"
    >>> _ = path.write_text('{"fps": 30,')
    >>> try:
    ...     read_json(path)
    ... except EdgeSDKError as exc:
    ...     print(str(exc).split(": ", 1)[1])
    corrupt JSON (Expecting property name enclosed in double quotes at line 1)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgesdk.errors import EdgeSDKError


def read_json(path: Path) -> Any:
    """The JSON value in ``path``; malformed JSON raises ``EdgeSDKError`` with the parser's
    message and line. The caller checks that the file exists (its message says what it is)."""
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise EdgeSDKError(f"{path}: corrupt JSON ({exc.msg} at line {exc.lineno})") from None


def read_text(path: Path, what: str = "the file") -> str:
    """The text of ``path`` as UTF-8, undecodable bytes replaced (a parser then names the bad
    line); a file that cannot be opened raises ``EdgeSDKError``: ``cannot read {what}``."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise EdgeSDKError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None


def read_lines(path: Path, encoding: str = "utf-8") -> list[str]:
    """The lines of a strict text file (a table, a CSV): a missing file or bytes that are not
    ``encoding`` raise ``EdgeSDKError``."""
    if not path.is_file():
        raise EdgeSDKError(f"{path}: missing")
    try:
        return path.read_text(encoding=encoding).splitlines()
    except UnicodeDecodeError as exc:
        raise EdgeSDKError(f"{path}: not a text file ({exc})") from None
