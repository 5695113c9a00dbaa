"""What the file backend trusts: folders and files that belong to the user running groupmsg and that
nobody else can write.

Another user who can write in the home could plant a journal that renames files anywhere the victim
may write, a lock file that is a symbolic link to a file to create or truncate, or state that
groupmsg would act on (a webhook that sends the access token elsewhere). So:

- every state folder (the home, `registry/`, `runs/`, …) must be a folder owned by the effective
  user and not writable by its group or by others, or groupmsg stops (exit 2) and says how to fix it;
- every state file is opened without following a symbolic link (`O_NOFOLLOW`), must be a regular
  file owned by the same user and not writable by others; new files are created with `O_EXCL`;
- a derived file (a rate-limit window, the runs HEAD pointer, the token cache) that fails these
  checks or cannot be parsed is moved aside (`NAME.corrupt-<time>`) and rebuilt; anything else is
  refused and left as it is.

What this does not defend against: the superuser; a user who can write the *parent* of the home and
swaps the home between our check and our use (keep the home's parent private too, as ~/.local/share
is); a process running as the same user.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ...errors import StateError

POSIX = os.name == "posix"
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
NONBLOCK = getattr(os, "O_NONBLOCK", 0)
LOOSE = stat.S_IWGRP | stat.S_IWOTH  # group- or world-writable


class UntrustedState(StateError):
    """A state file or folder that is not what groupmsg wrote: a link, a folder where a file belongs,
    another user's, or writable by others."""


def _user(uid: int) -> str | None:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return None


def _owner(uid: int) -> str:
    name = _user(uid)
    return f"{name} (uid {uid})" if name else f"uid {uid}"


def _check_owner_and_mode(path: Path, st: os.stat_result, what: str, fix_mode: str) -> None:
    if not POSIX:  # pragma: no cover - ownership and modes are POSIX notions
        return
    me = os.geteuid()
    if st.st_uid != me:
        raise UntrustedState(
            f"{path} belongs to {_owner(st.st_uid)}, not to you ({_owner(me)}): groupmsg keeps its state "
            f"only in {what} of your own",
            hint="use a home of your own (--home DIR or GROUPMSG_HOME=DIR, e.g. ~/.local/share/groupmsg), "
            f"or run groupmsg as {_user(st.st_uid) or 'its owner'}",
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode & LOOSE:
        raise UntrustedState(
            f"{path} can be written by other users (mode {mode:04o}): they could plant state that groupmsg "
            "would act on",
            hint=f"chmod {fix_mode} '{path}' (and look through it for files you did not put there)",
        )


def check_folder(path: Path) -> bool:
    """Whether `path` exists, after checking that it is a folder of ours that only we can write.

    UntrustedState when it is not. A missing folder is fine: groupmsg creates it (mode 0700)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except NotADirectoryError:  # a parent is a file: reported for the parent
        raise UntrustedState(
            f"{path}: a part of this path is a file where groupmsg expects a folder",
            hint="point --home (or GROUPMSG_HOME) at a folder of your own",
        ) from None
    except OSError as exc:
        raise StateError(f"cannot look at {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UntrustedState(
            f"{path} is a file where groupmsg keeps a folder",
            hint=f"move it aside (mv '{path}' '{path}.corrupt'), or point --home at another folder",
        )
    _check_owner_and_mode(path, st, "folders", "700")
    return True


# Folders found ours and private since the state was opened (`trust_again`): a broadcast locks a
# rate-limit window twice per message, and one look at its folder per command is enough.
_TRUSTED: set[Path] = set()


def trust_again() -> None:
    """Look at every folder again from now on (a new command, or a folder that vanished)."""
    _TRUSTED.clear()


def private_dir(path: Path) -> None:
    """Make sure `path` is a folder of ours that only we can write, creating it (and any missing
    parent) with mode 0700. A folder that appears between our look and our mkdir is checked too."""
    if path in _TRUSTED:
        return
    if check_folder(path):
        _TRUSTED.add(path)
        return
    parent = path.parent
    if parent != path and not parent.exists():
        private_dir(parent)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass  # another process (ours, or not: checked below) made it meanwhile
    except OSError as exc:
        raise StateError(f"cannot create the folder {path}: {exc.strerror}") from None
    check_folder(path)
    _TRUSTED.add(path)


def _open_error(path: Path, exc: OSError) -> StateError:
    if exc.errno in (errno.ELOOP, errno.EMLINK):
        return UntrustedState(
            f"{path} is a symbolic link; groupmsg does not follow links in its state folders",
            hint=f"remove the link (rm '{path}') after checking what it points to",
        )
    if exc.errno == errno.EISDIR:
        return UntrustedState(
            f"{path} is a folder where groupmsg keeps a file",
            hint=f"move it aside (mv '{path}' '{path}.corrupt')",
        )
    return StateError(f"cannot open {path}: {exc.strerror}")


def open_file(path: Path, flags: int, mode: int = 0o600) -> int:
    """Open a state file without following a symbolic link, and check that it is a regular file of
    ours that only we can write. FileNotFoundError passes through (a missing file is the caller's
    business); every other problem is a StateError naming the file."""
    return open_checked(path, flags, mode)[0]


def open_checked(path: Path, flags: int, mode: int = 0o600) -> tuple[int, os.stat_result]:
    """`open_file`, and the file's status as checked (for a caller that needs its inode)."""
    try:
        fd = os.open(path, flags | NOFOLLOW | NONBLOCK, mode)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _open_error(path, exc) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UntrustedState(
                f"{path} is not a regular file",
                hint=f"move it aside (mv '{path}' '{path}.corrupt')",
            )
        _check_owner_and_mode(path, st, "files", "600")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_file(path: Path) -> bytes:
    """A state file's bytes (FileNotFoundError when there is none), checked as `open_file` does."""
    fd = open_file(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def set_aside(path: Path) -> Path:
    """Rename a damaged file (or whatever sits at `path`, a link or a folder included) to
    `NAME.corrupt-<time>` next to it, and return the new path."""
    import time

    base = f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
    for n in range(100):
        aside = path.with_name(base if n == 0 else f"{base}-{n}")
        if not os.path.lexists(aside):
            try:
                os.rename(path, aside)
            except FileNotFoundError:
                return aside  # another process moved it first
            except OSError as exc:
                raise StateError(f"cannot move {path} aside: {exc.strerror}") from None
            return aside
    raise StateError(f"cannot move {path} aside: too many files named {base}*")
