"""The `groupmsg` command line: a thin layer over the library core.

This package is the only one that imports typer or rich. Commands parse options, call one service
of `groupmsg.app.App`, and render the result; `main()` is the one place where a GroupmsgError
becomes `Error: …` on stderr and an exit code.
"""

from __future__ import annotations

import sys

from .root import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
