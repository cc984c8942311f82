"""What every emonet command shares: one clear line for bad input, no traceback.

Each command builds a :class:`CommandParser` and hands it with its work to :func:`run`:

>>> from emonet.cli._common import CommandParser, run
>>> parser = CommandParser(prog="emonet-demo")
>>> _ = parser.add_argument("n", type=int)
>>> def work(args):
...     if args.n < 0:
...         raise ValueError(f"n must be >= 0, got {args.n}")
...     return 0
>>> run(work, parser, ["3"])
0
>>> import contextlib, io, sys
>>> with contextlib.redirect_stderr(io.StringIO()) as err:
...     status = run(work, parser, ["-1"])
>>> status, err.getvalue()
(2, 'emonet-demo: error: n must be >= 0, got -1\\n')

Exit status, for every command: 0 success, 1 the system failed (disk full, read-only
file system, an input/output error), 2 bad arguments or input, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from emonet.data import DataError

EXIT_OK = 0
EXIT_SYSTEM_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

#: Errors that mean "the user's input is unusable", reported in one line with exit code 2.
#: A command adds its own with ``run(..., user_errors=...)``.
USER_ERRORS: tuple[type[BaseException], ...] = (
    DataError,
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
    ValueError,
)


class CommandParser(argparse.ArgumentParser):
    """``ArgumentParser`` whose usage errors are one line on stderr, exit status 2.

    argparse prints the whole usage before the error; a command's usage is several lines,
    and ``--help`` shows it anyway.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {one_line(message)} (see --help)\n")


def run(
    main: Callable[[argparse.Namespace], int | None],
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    *,
    user_errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Parse ``argv`` and call ``main``; any expected failure becomes one line on stderr.

    Parameters
    ----------
    main : callable
        The command's work: takes the parsed arguments, returns an exit status (``None``
        counts as 0).
    parser : argparse.ArgumentParser
        The command's parser; a :class:`CommandParser` makes usage errors one line too.
        ``--help`` and usage errors exit through ``SystemExit``, as argparse does.
    argv : sequence of str or None
        Arguments without the program name; ``None`` reads ``sys.argv[1:]``.
    user_errors : tuple of exception types, optional
        More exception types that mean bad input for this command (besides
        :data:`USER_ERRORS`).

    Returns
    -------
    int
        ``main``'s status; 2 after a user error, 1 after another ``OSError`` (disk full,
        read-only file system), 130 after Ctrl-C. The error is printed as
        ``PROG: error: MESSAGE``, with the file named where the error carries it.
    """
    args = parser.parse_args(None if argv is None else list(argv))
    prog = parser.prog
    try:
        status = main(args)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout went to a reader that stopped (`| head`): nothing left to tell it
        _silence_stdout()
        return EXIT_SYSTEM_ERROR
    except (*USER_ERRORS, *user_errors) as error:
        print(f"{prog}: error: {describe_error(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:  # the system, not the input: disk full, read-only, I/O error
        print(f"{prog}: error: {describe_error(error)}", file=sys.stderr)
        return EXIT_SYSTEM_ERROR
    return EXIT_OK if status is None else int(status)


def add_tta_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    dest: str = "tta",
    prefix: str = "",
    default: str | None = "none",
    who: str = "each face",
) -> None:
    """The test-time augmentation options: ``--tta`` (``"flip"``), ``--tta-multiscale``
    and ``--no-tta``, each a flag (a value after ``--tta`` would swallow a path that
    follows it), the last given winning; ``prefix`` names them ``--PREFIX-tta`` and so
    on. ``default`` ``None`` leaves the choice to the models (a preset's setting)."""
    name = f"--{prefix}-tta" if prefix else "--tta"
    options = {
        name: ("flip", f"{who} and its mirror image, averaged"),
        f"{name}-multiscale": (
            "multiscale",
            f"{who} and its mirror image at three zooms, averaged (6x the network work)",
        ),
        f"--no-{prefix}-tta" if prefix else "--no-tta": ("none", f"{who} once"),
    }
    for option, (mode, text) in options.items():
        if mode == default:
            text += " (the default)"
        elif mode == "flip" and default is None:
            text += " (none of the three: the preset's setting)"
        parser.add_argument(
            option, dest=dest, action="store_const", const=mode, default=default, help=text
        )


def describe_error(error: BaseException) -> str:
    """One line for an error; an ``OSError`` names its file and says what went wrong.

    ``str(OSError)`` reads ``[Errno 30] Read-only file system: 'out.json'``; this gives
    ``out.json: read-only file system``.

    Examples
    --------
    >>> import errno
    >>> from emonet.cli._common import describe_error
    >>> describe_error(OSError(errno.EROFS, "Read-only file system", "out/e.json"))
    'out/e.json: read-only file system'
    >>> describe_error(ValueError("bad.npz: 'labels'\\n  must be integers"))
    "bad.npz: 'labels' must be integers"
    """
    if isinstance(error, OSError) and error.strerror:
        what = error.strerror
        if error.filename is None:
            return one_line(what)
        what = what[:1].lower() + what[1:]
        where = os.fsdecode(error.filename)
        if error.filename2 is not None:
            where += f" -> {os.fsdecode(error.filename2)}"
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            what += "; free some space and run the command again"
        return one_line(f"{where}: {what}")
    return one_line(str(error) or type(error).__name__)


def check_output_file(path: str | os.PathLike[str], option: str, overwrite: bool) -> Path:
    """Check, before the work, that a command can write the file ``path``.

    Parameters
    ----------
    path : str or path-like
        The file the option names.
    option : str
        The option, for the message (``"--csv"``).
    overwrite : bool
        Whether an existing file may be replaced (``--overwrite``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    IsADirectoryError, FileExistsError, NotADirectoryError, PermissionError
        If ``path`` is a folder or no regular file, exists without ``overwrite``, lies
        under a file, or in a folder that cannot be written: one line naming it.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from emonet.cli._common import check_output_file
    >>> photo = Path(tempfile.mkdtemp()) / "photo.jpg"
    >>> _ = photo.write_bytes(b"")
    >>> check_output_file(photo / "faces.csv", "--csv", overwrite=True)
    Traceback (most recent call last):
    ...
    NotADirectoryError: --csv .../photo.jpg/faces.csv: .../photo.jpg is a file, not a folder
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{option} {path}: a folder, not a file; name a file")
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
        if not path.is_file():
            raise FileExistsError(f"{option} {path}: not a regular file; name another file")
    _check_folder(path.parent, option, path)
    return path


def check_output_folder(path: str | os.PathLike[str], option: str) -> Path:
    """Check, before the work, that a command can write files into the folder ``path``
    (made if missing).

    Raises
    ------
    NotADirectoryError, PermissionError
        If ``path`` or a folder above it is a file, or the folder cannot be written.
    """
    path = Path(path)
    _check_folder(path, option, path)
    return path


def _check_folder(folder: Path, option: str, target: Path) -> None:
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(f"{option} {target}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"{option} {target}: cannot write into {existing}")


def printable_path(path: str | os.PathLike[str]) -> str:
    """``path`` as text any UTF-8 file or terminal takes: the bytes of a file name that
    are no UTF-8 (``os.fsdecode`` keeps them as surrogates) written as ``\\xNN``.

    Examples
    --------
    >>> import os
    >>> from emonet.cli._common import printable_path
    >>> printable_path(os.fsdecode(b"photos/bad\\xff.jpg"))
    'photos/bad\\\\xff.jpg'
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def one_line(message: object) -> str:
    """``message`` as text with every run of whitespace (newlines too) made one space."""
    return " ".join(str(message).split())


@contextlib.contextmanager
def warnings_once(prog: str) -> Iterator[None]:
    """Print each distinct warning of the block once, as ``PROG: warning: MESSAGE``.

    For commands whose work repeats a warning (cross-validation warns once per fold).
    The warnings are printed when the block ends, before any error the block raised.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            yield
        finally:
            for message in dict.fromkeys(one_line(warning.message) for warning in caught):
                print(f"{prog}: warning: {message}", file=sys.stderr)


def _silence_stdout() -> None:
    # Python flushes stdout at exit; to a closed pipe that is one more BrokenPipeError
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file (captured by a test or notebook)
        pass


def add_model_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The models a recognizing command runs: ``--preset``, or ``--models`` (and
    ``--ensemble``) for a user's own; checked by :func:`check_model_options`."""
    parser.add_argument(
        "--preset", default=None, help="bundled preset or preset folder (default: default)"
    )
    parser.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        help="your own run folders, .keras or .tflite (emonet-quantize) files, instead of "
        "a preset",
    )
    parser.add_argument("--ensemble", metavar="JSON", help="ensemble.json of emonet-fit-ensemble")


def check_model_options(args: argparse.Namespace) -> None:
    """One clear error for models named twice, an ensemble without its models, or a model
    or ensemble file that is not there (before any model is loaded)."""
    if args.preset is not None and args.models:
        raise ValueError(
            "--preset and --models both name the models to run: give --preset for a "
            "bundled or saved preset, or --models (and --ensemble) for your own"
        )
    if args.ensemble and not args.models:
        raise ValueError("--ensemble needs --models: the models it weighs")
    for model in args.models or []:
        if not Path(model).exists():
            raise FileNotFoundError(f"{model}: no such model file or run folder")
    if args.ensemble and not Path(args.ensemble).is_file():
        raise FileNotFoundError(f"{args.ensemble}: no such ensemble file")
