"""Several files of one folder replaced as one step: a roll-forward journal (the registry's
imports and renames across shards).

A journal is trusted only as far as it names groupmsg's own staged files onto their own targets in
the journal's folder; anything else is refused and moved aside, and nothing is renamed.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any, NoReturn

from ...errors import StateError
from .store import atomic_write
from .trust import UntrustedState, read_file, set_aside


def write_all(files: dict[Path, bytes], journal: Path) -> None:
    """Replace several files of the journal's folder as one step, for a caller holding the lock that
    covers them.

    Each new file is staged next to its target, then a journal naming the renames is written,
    then the renames are done and the journal removed. A process killed after the journal is
    written leaves it behind, and `recover` completes the renames: all of the files change, or none.
    """
    staged = []
    for path, payload in files.items():
        assert path.parent == journal.parent, "a journal covers the files of its own folder"
        tmp = path.with_name(f".{path.name}.staged")
        atomic_write(tmp, payload)
        staged.append([tmp.name, path.name])
    atomic_write(journal, json.dumps(staged).encode())
    recover(journal, re.compile("|".join(re.escape(p.name) for p in files)))


def recover(journal: Path, names: re.Pattern[str]) -> None:
    """Finish the renames of an interrupted `write_all` (the caller holds the lock).

    A journal is replayed only if every rename it names moves a staged file `.NAME.staged` onto
    `NAME`, both in the journal's own folder, with NAME matching `names`. Anything else was not
    written by groupmsg: nothing is renamed, the journal is moved aside, and StateError says so."""
    try:
        raw = read_file(journal)
    except FileNotFoundError:
        return
    except UntrustedState as exc:
        _refuse(journal, exc.message)
    try:
        renames = _journal_renames(journal.parent, json.loads(raw), names)
    except (ValueError, UnicodeDecodeError) as exc:
        _refuse(journal, str(exc))
    for tmp, final in renames:
        try:
            st = os.lstat(tmp)
        except FileNotFoundError:
            continue  # renamed before the process was killed
        if not stat.S_ISREG(st.st_mode):
            _refuse(journal, f"{tmp} is not a regular file")
        os.replace(tmp, final)
    journal.unlink()


def _journal_renames(folder: Path, data: Any, names: re.Pattern[str]) -> list[tuple[Path, Path]]:
    if not isinstance(data, list):
        raise ValueError("it is not a list of renames")
    out = []
    for entry in data:
        if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(p, str) for p in entry)):
            raise ValueError("an entry is not a pair of file names")
        tmp, final = (_inside(folder, p) for p in entry)
        if not names.fullmatch(final.name) or tmp.name != f".{final.name}.staged":
            raise ValueError(f"it renames {entry[0]!r} to {entry[1]!r}, not a staged file onto its own target")
        out.append((tmp, final))
    return out


def _inside(folder: Path, entry: str) -> Path:
    """`folder / NAME` for an entry that is NAME, or a path whose folder is `folder` (journals written
    before names alone were)."""
    path = Path(entry)
    if path.name != entry and os.path.realpath(path.parent) != os.path.realpath(folder):
        raise ValueError(f"it names {entry!r}, outside {folder}")
    return folder / path.name


def _refuse(journal: Path, why: str) -> NoReturn:
    aside = set_aside(journal)
    raise StateError(
        f"{journal} was not written by groupmsg ({why}); nothing was renamed, and it was moved aside to {aside}",
        hint="if a `groupmsg groups import` was interrupted, check `groupmsg groups list` and run it again",
    )
