"""Every numeric option refuses what it cannot mean with a usage error (issue #11, item 7).

Hypothesis drives random values (huge, negative, NaN, infinities, text) into every numeric option
of every command through `app.cli.main.main`, with real inputs where the command uses the value (a
practice pad, a practice home, a gateway that really starts and stops), and checks: never exit
70, never a traceback. Known-bad values must be exit 2, naming the option. A few cases run as
real processes. The options are found by walking the parser, so a new one is covered (and a
bare `type=int` / `type=float` fails the first test).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cli import link_commands
from app.cli import main as cli
from app.cli.numeric_options import NUMERIC_TYPES
from custody.ledger import home
from custody.pad.practice import make_practice_pad
from tests.custody.link.fixtures import free_endpoint

STRING_NUMBERS = ("size", "split")  # parsed by custody.pad.manifest, not by argparse


def _leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for sub in subs:
        for name, child in sub._name_parser_map.items():
            yield from _leaves(child, (*path, name))


def numeric_options() -> list[tuple[tuple[str, ...], str]]:
    """(command path, option string or positional dest) for every numeric option."""
    out = []
    for path, parser in _leaves(cli.build_parser()):
        for a in parser._actions:
            name = getattr(a.type, "__name__", "")
            if name in NUMERIC_TYPES or a.dest in STRING_NUMBERS:
                out.append((path, a.option_strings[-1] if a.option_strings else a.dest))
    return sorted(set(out))


def test_no_option_is_a_bare_int_or_float() -> None:
    for path, parser in _leaves(cli.build_parser()):
        for a in parser._actions:
            assert a.type not in (int, float), f"reddoor {' '.join(path)} {a.option_strings}"
    assert len(numeric_options()) >= 25  # the walk finds them (25 when this was written)


class World:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.home = tmp / "home"
        home.init_home(self.home, practice=True)
        make_practice_pad(tmp / "pad", 1 << 20)
        self.ws = tmp / "pad" / "workstation"
        self.fac = tmp / "pad" / "facility"
        self.existing_file = tmp / "a-file"
        self.existing_file.write_text("not a directory\n")

    def argv(self, path: tuple[str, ...], option: str, value: str) -> list[str]:
        """The command with real inputs, and `option` set to `value`."""
        opt = [f"{option}={value}"] if option.startswith("--") else []
        missing = Path("/nonexistent/reddoor")
        base: dict[tuple[str, ...], list[str]] = {
            ("pad", "status"): ["--pad", str(self.ws)],
            ("frame", "seal"): ["--pad", str(self.ws)],
            ("ledger", "log"): ["--home", str(self.home)],
            # the positional SEQ last, after "--", so that "-5" is a value, not an option
            ("ledger", "prove"): [
                "--home",
                str(self.home),
                "--out",
                str(self.tmp / "p.json"),
                "--",
                value,
            ],
            ("gateway",): ["--pads", str(self.fac), "--listen", free_endpoint()],
            ("ask",): ["hello", "--pad", str(missing)],
            ("ceremony", "run"): [
                "--home",
                str(self.home),
                "--source",
                "os",
                "--size",
                "64K",
                "--customer-dir",
                str(missing),
                "--bag-serial",
                "B1",
            ],
            ("practice-pad",): ["--size", "1M", "--out", str(self.existing_file)],
            # a pad the ledger does not know: refused after parsing, before any approval
            ("pad", "frame-policy"): [
                "00112233445566778899aabbccddeeff",
                "--home",
                str(self.home),
                "--frame-policy",
                "otp-preferred",
                "--reason",
                "test",
            ],
            # a bad diode address: refused after parsing, before any network
            ("diode", "send"): ["--direction", "w2f", "--connect", free_endpoint(), "--to", "x"],
            ("diode", "receive"): [
                "--direction",
                "f2w",
                "--connect",
                free_endpoint(),
                "--listen",
                "x",
            ],
        }
        return [*path, *opt, *base[path]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return World(tmp_path_factory.mktemp("numeric"))


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    stdin, stdout = sys.stdin, sys.stdout
    sys.stdin = io.TextIOWrapper(io.BytesIO(b"a question"))  # frame seal reads stdin ...
    sys.stdout = io.TextIOWrapper(io.BytesIO())  # ... and writes a binary frame
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse: usage errors
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdin, sys.stdout = stdin, stdout
    return code, capsys.readouterr().err


@pytest.fixture(autouse=True)
def gateway_returns_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A gateway started in-process serves, then stops at once instead of waiting for a signal."""
    monkeypatch.setattr(link_commands, "_wait_for_signal", lambda: None)


def check(code: int, err: str, option: str) -> None:
    assert "Traceback" not in err, err
    assert code != 70, err
    errors = [ln for ln in err.splitlines() if ": error:" in ln]
    assert len(errors) <= 1, err
    if code == 2 and "argument" in err:
        assert option.lower() in err.lower(), err


VALUES = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "-nan", "inf", "-inf", "1e308", "-0", "0", "1", "", " ", "0x10"]),
    st.sampled_from(["1_000", "\u0661\u0662", "9" * 5000, "4T", "1:3", "0:1", "99999999999:1"]),
    st.text(max_size=12),
)


@pytest.mark.slow
@pytest.mark.parametrize(("path", "option"), numeric_options())
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=VALUES)
def test_random_values_never_crash(
    world: World,
    capsys: pytest.CaptureFixture[str],
    path: tuple[str, ...],
    option: str,
    value: str,
) -> None:
    if "\x00" in value:
        value = value.replace("\x00", "")  # argv cannot carry NUL
    code, err = run_main(world.argv(path, option, value), capsys)
    check(code, err, option)


BAD = ("nan", "inf", "-inf", "1e308", "-1", "x", "9" * 30)


@pytest.mark.parametrize(("path", "option"), numeric_options())
def test_known_bad_values_are_usage_errors(
    world: World, capsys: pytest.CaptureFixture[str], path: tuple[str, ...], option: str
) -> None:
    for value in BAD:
        code, err = run_main(world.argv(path, option, value), capsys)
        check(code, err, option)
        assert code == 2, (value, err)


@pytest.mark.parametrize(
    "argv",
    [
        ["ask", "hello", "--pad", "/nonexistent", "--cover-rate", "1e308"],
        ["gateway", "--pads", "/nonexistent", "--workers", "0"],
        ["pad", "status", "--pad", "/nonexistent", "--queries-per-day", "5e-324"],
        ["ledger", "log", "--from", "-1"],
        ["practice-pad", "--size", "99999999999999999999999T", "--out", "/nonexistent/x"],
    ],
)
def test_real_processes_get_one_line_and_exit_2(cli: object, argv: list[str]) -> None:
    r = cli(*argv)  # type: ignore[operator]
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err


def test_practice_pad_out_an_existing_file_is_one_line(cli: object, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("mine\n")
    r = cli("practice-pad", "--size", "1M", "--out", str(target))  # type: ignore[operator]
    err = r.stderr.decode()
    assert r.returncode == 2 and len(err.splitlines()) == 1, err
    assert "not a directory" in err and target.read_text() == "mine\n"
    assert not os.path.exists(tmp_path / "taken" / "workstation")
