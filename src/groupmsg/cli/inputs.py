"""Values read from files and stdin, bounded: `-f NAME=@FILE`, `-f NAME=-`, `send -`, `--secret -`,
`groups import FILE|-`.

However large the file or endless the stream (`@/dev/zero`), at most one byte more than the limit
is read, and a file is read only if it is a regular file or a pipe (not a device, a folder or a
socket). The limits are in the README.
"""

from __future__ import annotations

import os
import stat
import sys

from ..errors import BadInput

MAX_VALUE_BYTES = 1 << 20  # 1 MiB: the most one value (a field, a message) read from a file or stdin may hold
MAX_IMPORT_BYTES = 64 << 20  # 64 MiB: a registry export to import (about 400,000 groups)
MAX_SECRET_CHARS = 256  # a signing secret read with --secret - (DingTalk's are 67 characters)


def _size(n: int) -> str:
    return f"{n >> 20} MiB ({n:,} bytes)" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n:,} bytes"


def read_value(
    path: str | None,
    what: str,
    *,
    max_chars: int | None = None,
    max_bytes: int = MAX_VALUE_BYTES,
    encoding: str = "utf-8",
    chomp: bool = False,
    missing: tuple[str, str | None] | None = None,
) -> str:
    """The text of the file at `path` (stdin when None), refused (BadInput naming the limit) when it
    has more than `max_chars` characters (a field's max_length) or `max_bytes` bytes of UTF-8.
    `chomp`: drop the one newline a file or a pipe ends with, as `$(cat file)` does (not counted).
    `missing`: the (message, hint) when the file does not exist."""
    room = None if max_chars is None else max_chars + chomp
    limit = max_bytes if room is None else min(max_bytes, 4 * room)  # at most 4 bytes a character
    raw = _read_stdin(limit, what) if path is None else _read_file(path, limit, what, missing)
    if len(raw) > limit and (max_chars is None or limit == max_bytes):
        raise BadInput(
            f"{what}: larger than {_size(max_bytes)}, the most groupmsg reads for it",
            hint="give a smaller file (the README lists every limit)",
        )
    if len(raw) <= limit:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise BadInput(f"{what}: not UTF-8 text ({exc.reason} at byte {exc.start})", hint="save it as UTF-8") from None
        if chomp and text.endswith("\n"):
            text = text[:-1]
        if max_chars is None or len(text) <= max_chars:
            return text
    raise BadInput(
        f"{what}: more than {max_chars:,} characters, the most this field takes (its max_length)",
        hint="shorten it, or raise the field's max_length in the flows file",
    )


def _read_file(path: str, limit: int, what: str, missing: tuple[str, str | None] | None) -> bytes:
    full = os.path.expanduser(path)
    try:
        st = os.stat(full)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a device or a socket"
            raise BadInput(f"{what}: {path} is {kind}, not a regular file or a pipe")
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            return bytes(limit + 1)  # too large, known without reading it: the caller says so
        with open(full, "rb") as fh:
            return fh.read(limit + 1)
    except FileNotFoundError:
        message, hint = missing or (f"{what}: no such file {path}", None)
        raise BadInput(message, hint=hint) from None
    except OSError as exc:
        raise BadInput(f"{what}: cannot read {path} ({exc.strerror})") from None


def _read_stdin(limit: int, what: str) -> bytes:
    # Text, not bytes: tests (and some embedders) give a StringIO. read(n) reads n characters, so
    # at most 4 × (limit + 1) bytes are held before the limit is checked on the UTF-8 form.
    try:
        text = sys.stdin.read(limit + 1)
    except UnicodeDecodeError as exc:
        raise BadInput(f"{what}: not UTF-8 text ({exc.reason})") from None
    return text.encode("utf-8", "surrogateescape")


def read_secret() -> str:
    """`--secret -`: asked for without echo on a terminal, else one line of stdin."""
    if sys.stdin.isatty():
        import getpass

        line = getpass.getpass("Signing secret (SEC…, not shown): ", stream=sys.stderr).strip()
    else:
        line = sys.stdin.readline(MAX_SECRET_CHARS + 2).strip()
    if len(line) > MAX_SECRET_CHARS:
        raise BadInput(f"the secret read from stdin is longer than {MAX_SECRET_CHARS} characters", hint="give it alone on one line")
    return line
