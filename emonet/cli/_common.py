"""What every emonet command shares: one clear line for bad input, no traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from emonet.data import DataError

#: Errors that mean "the user's input is unusable", reported in one line with exit code 2.
USER_ERRORS = (
    DataError,
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    PermissionError,
    ValueError,
)


def run(
    main: Callable[[argparse.Namespace], int],
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
) -> int:
    """Parse ``argv`` and call ``main``; user errors become ``prog: error: ...``."""
    args = parser.parse_args(argv)
    try:
        return main(args)
    except USER_ERRORS as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
