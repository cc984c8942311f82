"""The runner every command goes through: one line and an exit status for each failure."""

from __future__ import annotations

import argparse
import errno
import warnings
from pathlib import Path

import pytest

from emonet._io import atomic_write_text
from emonet.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_SYSTEM_ERROR,
    CommandParser,
    describe_error,
    run,
    warnings_once,
)
from emonet.data import DataError


class _ModelFormatError(Exception):
    """An error type only one command knows to be the user's fault."""


def _parser() -> CommandParser:
    parser = CommandParser(prog="emonet-x")
    parser.add_argument("path")
    parser.add_argument("--count", type=int, default=1)
    return parser


def _raising(error: BaseException):
    def main(args: argparse.Namespace) -> int:
        raise error

    return main


def _run(main, capsys, argv=("in.txt",), **kwargs) -> tuple[int, str, str]:
    status = run(main, _parser(), list(argv), **kwargs)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_success_returns_mains_status(capsys) -> None:
    assert _run(lambda args: print(args.path), capsys) == (0, "in.txt\n", "")
    assert _run(lambda args: 3, capsys)[0] == 3


@pytest.mark.parametrize(
    "error",
    [
        ValueError("in.txt: line 3: expected 7 values,\n  got 2"),
        DataError("in.txt: line 3: expected 7 values, got 2"),
        FileNotFoundError("in.txt: line 3: expected 7 values, got 2"),
    ],
)
def test_user_errors_are_one_line_exit_2(error: Exception, capsys) -> None:
    assert _run(_raising(error), capsys) == (
        EXIT_BAD_INPUT,
        "",
        "emonet-x: error: in.txt: line 3: expected 7 values, got 2\n",
    )


def test_a_command_declares_its_own_user_errors(capsys) -> None:
    main = _raising(_ModelFormatError("m.keras: not a model"))
    status, _, err = _run(main, capsys, user_errors=(_ModelFormatError,))
    assert (status, err) == (EXIT_BAD_INPUT, "emonet-x: error: m.keras: not a model\n")
    # undeclared, it is a bug: the traceback is wanted
    with pytest.raises(_ModelFormatError):
        run(main, _parser(), ["in.txt"])


@pytest.mark.parametrize(
    ("error", "status", "line"),
    [
        (
            OSError(errno.EROFS, "Read-only file system", "/mnt/out/e.json"),
            EXIT_SYSTEM_ERROR,
            "/mnt/out/e.json: read-only file system",
        ),
        (
            OSError(errno.ENOSPC, "No space left on device", "out/e.json"),
            EXIT_SYSTEM_ERROR,
            "out/e.json: no space left on device; free some space and run the command again",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "out/e.json"),
            EXIT_BAD_INPUT,
            "out/e.json: permission denied",
        ),
        (
            OSError(errno.EXDEV, "Invalid cross-device link", "a.tmp", None, "b.json"),
            EXIT_SYSTEM_ERROR,
            "a.tmp -> b.json: invalid cross-device link",
        ),
        (
            OSError(errno.EIO, "cannot write out/e.json: Input/output error"),
            EXIT_SYSTEM_ERROR,
            "cannot write out/e.json: Input/output error",
        ),
    ],
)
def test_os_errors_are_one_line_naming_the_file(error, status: int, line: str, capsys) -> None:
    assert _run(_raising(error), capsys) == (status, "", f"emonet-x: error: {line}\n")


def test_an_unwritable_folder_is_named(tmp_path: Path, capsys) -> None:
    # a real failure of the atomic write: the parent of the output is a file
    (tmp_path / "file").write_text("")

    def main(args: argparse.Namespace) -> int:
        atomic_write_text(Path(args.path) / "e.json", "{}")
        return 0

    status, _, err = _run(main, capsys, argv=[str(tmp_path / "file")])
    assert status == EXIT_BAD_INPUT
    assert err.startswith(f"emonet-x: error: {tmp_path / 'file'}")
    assert err.count("\n") == 1


def test_ctrl_c_exits_130_with_one_line(capsys) -> None:
    assert _run(_raising(KeyboardInterrupt()), capsys) == (
        EXIT_INTERRUPTED,
        "",
        "emonet-x: interrupted\n",
    )


def test_unexpected_errors_keep_their_traceback() -> None:
    with pytest.raises(ZeroDivisionError):
        run(lambda args: 1 // 0, _parser(), ["in.txt"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: path"),
        (["in.txt", "--count", "x"], "argument --count: invalid int value: 'x'"),
        (["in.txt", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_are_one_line_exit_2(argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(lambda args: 0, _parser(), argv)
    assert exit_.value.code == EXIT_BAD_INPUT
    assert capsys.readouterr().err == f"emonet-x: error: {message} (see --help)\n"


def test_help_exits_0(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(lambda args: 0, _parser(), ["--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: emonet-x")


def test_describe_error_without_message_names_the_type() -> None:
    assert describe_error(ValueError()) == "ValueError"


def test_warnings_once_prints_each_distinct_warning_once_then_the_error(capsys) -> None:
    def main(args: argparse.Namespace) -> int:
        with warnings_once("emonet-x"):
            for _ in range(3):
                warnings.warn("the least populated class\n has 2", UserWarning, stacklevel=1)
            warnings.warn("another", RuntimeWarning, stacklevel=1)
            raise ValueError("in.txt: bad")

    assert _run(main, capsys) == (
        EXIT_BAD_INPUT,
        "",
        "emonet-x: warning: the least populated class has 2\n"
        "emonet-x: warning: another\n"
        "emonet-x: error: in.txt: bad\n",
    )


def test_a_closed_output_pipe_ends_quietly(capsys) -> None:
    # `emonet-x ... | head`: the reader is gone, there is no one to tell
    assert _run(_raising(BrokenPipeError(errno.EPIPE, "Broken pipe")), capsys) == (
        EXIT_SYSTEM_ERROR,
        "",
        "",
    )
