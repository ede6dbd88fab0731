"""The `reddoor` command line. Headless: importing this never imports PySide6.

Each command group lives in `app/cli/<group>_commands.py` with a `register(subparsers, common)`
function. Errors from the cores are `RedDoorError`s: one line on stderr, the error's exit code.
Anything else is a bug: one line naming the log file, exit 70, and no traceback on the terminal
(tracebacks can carry secrets in local variables; the log handler strips them).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.cli import config_file
from custody import __version__
from custody.errors import RedDoorError

log = logging.getLogger(__name__)

COMMAND_MODULES = (
    "app.cli.pad_commands",
    "app.cli.frame_commands",
    "app.cli.demo",
    "app.cli.ledger_commands",
    "app.cli.link_commands",
    "app.cli.diode_commands",
    "app.cli.receipt_commands",
    "app.cli.ceremony_commands",
    "app.cli.custody_commands",
    "app.cli.report_commands",
)

EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one clear line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if not getattr(self, config_file.CONFIG_ATTR, False):
            return super().parse_known_args(args, namespace)
        # A server command: its settings file (--config) goes in front of its options.
        argv = sys.argv[1:] if args is None else list(args)
        return config_file.parse(self, super().parse_known_args, argv, namespace)


def _top_parser() -> _Parser:
    """`reddoor` and its own options, without the commands."""
    parser = _Parser(
        prog="reddoor",
        description=(
            "Red Door: one-time-pad key ceremonies, pad custody and an OTP-encrypted Zenoh "
            "link. With no command, opens the desktop application."
        ),
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="facility home directory (default: $REDDOOR_HOME)",
    )
    parser.add_argument("--version", action="version", version=f"reddoor {__version__}")
    parser.add_argument("--kiosk", action="store_true", help="run the application locked down")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return parser


def build_parser() -> argparse.ArgumentParser:
    # Every command accepts --home, before or after its name. The copy on the commands uses
    # SUPPRESS so that an absent `--home` there does not overwrite one given before the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        type=Path,
        default=argparse.SUPPRESS,
        help="facility home directory (default: $REDDOOR_HOME)",
    )
    parser = _top_parser()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


GUI_FLAGS = ("--kiosk", "-v", "--verbose")


def opens_the_application(argv: Sequence[str]) -> bool:
    """True when `argv` names no command (only --home, --kiosk, -v): the desktop application.
    Then the command modules (and the cores they import) are not loaded at all, which keeps
    the application's cold start short; the bootstrap worker loads what it needs."""
    args = list(argv)
    while args:
        a = args.pop(0)
        if a in GUI_FLAGS or a.startswith("--home="):
            continue
        if a == "--home" and args:
            args.pop(0)
            continue
        return False
    return True


def configure_logging(verbose: bool) -> None:
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="reddoor: %(levelname)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _top_parser() if opens_the_application(argv) else build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    if args.home is None:  # a settings file's home, under any --home given
        args.home = getattr(args, "config_home", None)
    if args.home is None and os.environ.get("REDDOOR_HOME"):
        args.home = Path(os.environ["REDDOOR_HOME"])
    if not getattr(args, "handler", None):
        from app.gui.launch import launch_gui  # imports PySide6 only here

        return launch_gui(args)
    try:
        return int(args.handler(args) or 0)
    except RedDoorError as exc:
        print(f"reddoor: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("reddoor: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 1
    except Exception as exc:
        # A bug. Name the type only: exception text can carry data we do not control.
        print(
            f"reddoor: internal error ({type(exc).__name__}); please report it",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
