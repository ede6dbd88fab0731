"""Where a question's plaintext comes from: stdin, a file or a prompt, never the command line.

A command-line argument is readable by every local user for as long as the process runs
(`ps`, /proc/PID/cmdline), so `reddoor ask` (and `reddoor demo --question`) refuse one, before
anything is opened or sent. `-` is the one argument accepted: it names stdin.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

from custody.bounded_read import read_file
from custody.errors import InputTooLarge, UsageError

# A question never needs more: the workstation refuses a query body over 4 MiB
# (custody.link.messages.MAX_QUERY_BYTES, not imported here to keep the CLI's start light).
MAX_QUESTION_BYTES = 4 << 20
STDIN = "-"

REFUSED_IN_ARGV = (
    "a question on the command line is readable by every local user (ps, /proc/PID/cmdline) "
    "and was not used; give it on stdin ({stdin}) or with --question-file FILE"
)


def refuse_in_argv(value: str | None, stdin_form: str) -> None:
    """A usage error for anything but nothing or `-` (stdin) where a question was expected;
    `stdin_form` shows the command reading it from stdin instead."""
    if value not in (None, STDIN):
        raise UsageError(REFUSED_IN_ARGV.format(stdin=stdin_form))


def read_question(
    value: str | None, path: Path | None, *, stdin_form: str, prompt: bool = True
) -> str | None:
    """The question: from `--question-file` (`path`), else from stdin when `value` is `-` or
    (with `prompt`) when it is absent. On a terminal the user is asked to type it. None when
    nothing names a source (and `prompt` is off)."""
    refuse_in_argv(value, stdin_form)
    if path is not None:
        if value == STDIN:
            raise UsageError("give the question on stdin (-) or with --question-file, not both")
        try:
            data = read_file(path, MAX_QUESTION_BYTES, "question file")
        except OSError as exc:
            raise UsageError(f"cannot read the question file {path}: {exc.strerror}") from None
        return _decode(data, f"the question file {path}")
    if value is None and not prompt:
        return None
    stdin = sys.stdin
    if stdin is None or stdin.closed:
        raise UsageError("no question: stdin is closed; give --question-file FILE")
    if stdin.isatty():
        print("reddoor: type the question, then Ctrl-D on a new line:", file=sys.stderr, flush=True)
    return _decode(_read_bounded(stdin.buffer), "the question on stdin")


def _read_bounded(fh: BinaryIO) -> bytes:
    """Stdin up to end of file, refusing more than MAX_QUESTION_BYTES. One read, not
    custody.bounded_read.read_stream's loop: a buffered reader reads until `n` bytes or end of
    file, and a terminal's end of file (Ctrl-D) is not sticky, so a second read would wait for
    more typing."""
    data = fh.read(MAX_QUESTION_BYTES + 1)
    if len(data) > MAX_QUESTION_BYTES:
        raise InputTooLarge(
            f"question on stdin is larger than its limit of {MAX_QUESTION_BYTES:,} bytes"
        )
    return data


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{where} is not UTF-8 text") from None
