"""`--config FILE` and `--check-config` for the server commands (router, gateway, diode bridges).

A settings file is TOML whose keys are the command's long option names without the dashes in
front (`max-rate = "100M"`, `mtls = true`). Each value goes through the option's own argparse
type and choices, so a bad value in the file is the same usage error (exit 2) as on the command
line. The file's settings are put in front of the command line's options, so an option given
on the command line wins (argparse keeps the last value). Unknown keys are errors: a misspelt
setting must not be silently ignored by a service that then runs with its default.

No secret is ever a setting: the PIN comes from a file named by `pin-file` (read by the command,
never stored here), and the file is read through `custody.bounded_read` (a limit, no device).

`--check-config` validates without running: the file, the options it would run with, and what
they name (endpoints parse, files exist and are readable, the home is a home). It prints `ok`
and exits 0, or prints one `reddoor: error: ...` line per problem and exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from custody.bounded_read import check_file, read_file
from custody.errors import RedDoorError, UsageError

MAX_CONFIG_BYTES = 65_536  # a settings file with every option commented is about 4 KiB
CONFIG_ATTR = "_reddoor_config"  # set on the parsers that take --config
# Options that are not settings: they are about this run, not the service.
NOT_SETTINGS = frozenset({"help", "config", "check-config"})

Check = Callable[[argparse.Namespace], list[str]]


def enable(parser: argparse.ArgumentParser, check: Check) -> None:
    """Give `parser` (whose handler is already set) --config and --check-config."""
    g = parser.add_argument_group("settings file")
    g.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="read settings from this TOML file (keys are the long option names: "
        'max-rate = "100M"); options given here override it',
    )
    g.add_argument(
        "--check-config",
        action="store_true",
        help="check the settings (file and options) and what they name, print ok or one line "
        "per problem, and exit (0, or 2)",
    )
    setattr(parser, CONFIG_ATTR, True)
    handler = parser.get_default("handler")
    parser.set_defaults(handler=functools.partial(_run, handler, check), config_problems=[])


def settings(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The keys a settings file of `parser` may hold, and the option each one sets."""
    keys: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue  # hidden (test-only) options are not settings
        for opt in action.option_strings:
            if opt.startswith("--") and opt[2:] not in NOT_SETTINGS:
                keys[opt[2:]] = action
    return keys


@contextlib.contextmanager
def _nothing_required(parser: argparse.ArgumentParser) -> Iterator[None]:
    """While parsing with a settings file: a required option may come from the file, so its
    absence is checked after the merge (and listed with the file's other problems)."""
    saved = [(a, a.required) for a in parser._actions]
    for a, _ in saved:
        a.required = False
    try:
        yield
    finally:
        for a, required in saved:
            a.required = required


def parse(
    parser: argparse.ArgumentParser,
    parse_known: Callable[[list[str], Any], tuple[argparse.Namespace, list[str]]],
    args: list[str],
    namespace: Any,
) -> tuple[argparse.Namespace, list[str]]:
    """Parse `args` for a parser with --config: the file's settings first, then `args`."""
    with _nothing_required(parser):
        first, _ = parse_known(list(args), None)
    if first.config is None and not first.check_config:
        return parse_known(args, namespace)  # no settings file: argparse as always
    problems: list[str] = []
    tokens: list[str] = []
    home: Path | None = None
    bad: set[argparse.Action] = set()  # settings already reported: not "missing" as well
    if first.config is not None:
        values = _load(first.config, problems)
        tokens, home, bad = _tokens(parser, first.config, values, problems)
    with _nothing_required(parser):
        ns, rest = parse_known(tokens + list(args), namespace)
    for action in parser._actions:
        if action.required and action not in bad and getattr(ns, action.dest, None) is None:
            problems.append(f"{_name(action)} is required (in the settings file or as an option)")
    ns.config_problems = problems
    ns.config_home = home  # applied in main: a --home given before the command still wins
    return ns, rest


def _name(action: argparse.Action) -> str:
    return next((o for o in action.option_strings if o.startswith("--")), action.dest)


def _load(path: Path, problems: list[str]) -> dict[str, Any]:
    """The file's table, or {} with the reason in `problems`."""
    try:
        data = read_file(path, MAX_CONFIG_BYTES, "settings file")
    except RedDoorError as exc:
        problems.append(exc.message)
        return {}
    except OSError as exc:
        problems.append(f"cannot read the settings file {path}: {exc.strerror}")
        return {}
    import tomllib

    try:
        # The decoder's message names a line and column, never the text it choked on.
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        problems.append(f"{path}: not UTF-8 text")
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path}: not valid TOML: {exc}")
    return {}


def _tokens(
    parser: argparse.ArgumentParser, path: Path, values: dict[str, Any], problems: list[str]
) -> tuple[list[str], Path | None, set[argparse.Action]]:
    """Command-line tokens for the file's valid settings; each bad one is a line in `problems`."""
    keys = settings(parser)
    tokens: list[str] = []
    home: Path | None = None
    bad: set[argparse.Action] = set()
    for key, value in values.items():
        action = keys.get(key)
        if action is None:
            close = difflib.get_close_matches(key, keys, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{path}: unknown setting {key[:40]!r}{hint}")
            continue
        try:
            token = _token(parser, key, action, value)
        except (argparse.ArgumentError, UsageError) as exc:
            problems.append(f"{path}: {key}: {exc.message}")
            bad.add(action)
            continue
        if key == "home":
            home = Path(str(value))
        elif token is not None:
            tokens.append(token)
    return tokens, home, bad


def _token(parser: argparse.ArgumentParser, key: str, action: argparse.Action, value: Any) -> Any:
    """`--key=VALUE` (or `--key` for a true flag, None for a false one) once VALUE has passed
    the option's own type and choices checks."""
    if action.nargs == 0:  # a flag: store_true
        if not isinstance(value, bool):
            raise UsageError("must be true or false")
        return f"--{key}" if value else None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise UsageError("must be a string or a number")
    text = str(value)
    # The same conversion and choices check argparse applies to the option on the command line.
    checked = parser._get_value(action, text)  # type: ignore[attr-defined]
    parser._check_value(action, checked)  # type: ignore[attr-defined]
    return f"--{key}={text}"


def _run(
    handler: Callable[[argparse.Namespace], int], check: Check, args: argparse.Namespace
) -> int:
    problems = list(args.config_problems)
    if args.check_config:
        problems += check(args)
        for problem in problems:
            print(f"reddoor: error: {problem}", file=sys.stderr)
        if problems:
            return UsageError.exit_code
        print("ok")
        return 0
    if problems:
        more = f" (and {len(problems) - 1} more: --check-config lists them)" if problems[1:] else ""
        raise UsageError(problems[0] + more)
    return int(handler(args) or 0)


# -- checks the commands share -------------------------------------------------------------------
def collect(problems: list[str], check: Callable[[], object], about: str = "") -> None:
    """Run one check; a RedDoorError it raises is one problem (after `about`, when given)."""
    try:
        check()
    except RedDoorError as exc:
        problems.append(f"{about}: {exc.message}" if about else exc.message)


def readable_file(path: Path, what: str, limit: int) -> None:
    """A regular file of at most `limit` bytes that this user can open."""
    check_file(path, limit, what, error=UsageError)
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None


def directory(path: Path, what: str) -> None:
    if not path.is_dir():
        raise UsageError(f"{what} {path} is not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise UsageError(f"cannot read {what} {path}: permission denied")
