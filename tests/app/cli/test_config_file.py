"""`--config FILE` and `--check-config` on router, gateway, diode send and diode receive."""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

import pytest

from app.cli import config_file
from app.cli.main import build_parser
from custody.ledger import home
from tests.conftest import REPO

EXAMPLES = REPO / "packaging" / "etc" / "reddoor"
COMMANDS = {
    "router.toml": ("router",),
    "gateway.toml": ("gateway",),
    "diode-send-w2f.toml": ("diode", "send"),
    "diode-send-f2w.toml": ("diode", "send"),
    "diode-receive-w2f.toml": ("diode", "receive"),
    "diode-receive-f2w.toml": ("diode", "receive"),
}
KEY_LINE = re.compile(r"^#? ?([a-z][a-z0-9-]*) = (.+)$", re.M)


def _subparser(*path: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = build_parser()
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def _err_lines(proc) -> list[str]:  # type: ignore[no-untyped-def]
    return proc.stderr.decode().splitlines()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_example_lists_every_setting_with_its_default(name: str) -> None:
    parser = _subparser(*COMMANDS[name])
    keys = config_file.settings(parser)
    text = (EXAMPLES / name).read_text()
    written = {m.group(1): m.group(2) for m in KEY_LINE.finditer(text)}
    expected = set(keys) - ({"home"} if name != "gateway.toml" else set())
    assert set(written) == expected, name
    for key, value in written.items():
        action = keys[key]
        if action.default in (None, argparse.SUPPRESS) or action.required:
            continue  # no default (an example value), or set in the file
        parsed = tomllib.loads(f"v = {value}")["v"]
        got = parsed if action.nargs == 0 else parser._get_value(action, str(parsed))
        assert got == action.default, f"{name}: {key} says {value}, default {action.default!r}"


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - {"gateway.toml"}))
def test_shipped_examples_pass_check_config(cli, name: str) -> None:
    r = cli(*COMMANDS[name], "--config", str(EXAMPLES / name), "--check-config")
    assert r.returncode == 0 and r.stdout.decode() == "ok\n", r.stderr


def test_gateway_example_passes_with_a_real_home_given_before_the_command(cli, tmp_path) -> None:
    """The file names /var/lib/reddoor/home; a --home on the command line wins over it."""
    h = tmp_path / "home"
    home.init_home(h, practice=True)
    gw = EXAMPLES / "gateway.toml"
    r = cli("gateway", "--config", str(gw), "--check-config")
    assert r.returncode == 2 and "/var/lib/reddoor/home is not an initialised" in r.stderr.decode()
    for argv in (
        ("--home", str(h), "gateway", "--config", str(gw), "--check-config"),
        ("gateway", "--config", str(gw), "--home", str(h), "--check-config"),
    ):
        r = cli(*argv)
        assert r.returncode == 0 and r.stdout.decode() == "ok\n", r.stderr


def test_the_file_sets_options_and_the_command_line_overrides_them(tmp_path) -> None:
    f = tmp_path / "s.toml"
    f.write_text(
        'direction = "w2f"\nconnect = "tcp/127.0.0.1:7447"\nto = "udp/127.0.0.1:9"\n'
        'max-rate = "10M"\ndatagram-size = 1200\nfec-overhead = 0.5\nmtls = true\n'
    )
    parser = build_parser()
    a = parser.parse_args(["diode", "send", "--config", str(f)])
    assert (a.direction, a.to, a.max_rate, a.datagram_size, a.fec_overhead, a.mtls) == (
        "w2f", "udp/127.0.0.1:9", 10_000_000, 1200, 0.5, True,
    )  # fmt: skip
    assert a.heartbeat == 1.0 and a.config_problems == []  # absent: the default
    # given before or after --config on the command line: the command line wins
    for argv in (
        ["diode", "send", "--max-rate", "2M", "--config", str(f), "--direction", "f2w"],
        ["diode", "send", "--config", str(f), "--max-rate", "2M", "--direction", "f2w"],
    ):
        b = parser.parse_args(argv)
        assert (b.max_rate, b.direction, b.datagram_size) == (2_000_000, "f2w", 1200)


def test_a_bad_value_in_the_file_is_the_same_usage_error_as_on_the_command_line(cli, tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('direction = "w2f"\nconnect = "tcp/127.0.0.1:7447"\nto = "udp/127.0.0.1:9"\n')
    for key, value in (("max-rate", '"fast"'), ("heartbeat", "-1"), ("datagram-size", "70000")):
        bad = tmp_path / f"{key}.toml"
        bad.write_text(f.read_text() + f"{key} = {value}\n")
        on_cli = cli("diode", "send", "--config", str(f), f"--{key}", value.strip('"'))
        assert on_cli.returncode == 2
        message = (
            on_cli.stderr.decode().split(f"argument --{key}: ", 1)[1].split(" (see --help)")[0]
        )
        in_file = cli("diode", "send", "--config", str(bad))
        assert in_file.returncode == 2
        assert _err_lines(in_file) == [f"reddoor: error: {bad}: {key}: {message}"]


def test_unknown_keys_wrong_kinds_and_missing_required_are_each_one_line(cli, tmp_path) -> None:
    f = tmp_path / "s.toml"
    f.write_text(
        'direction = "sideways"\nheartbeats = 2\nmtls = "yes"\nto = ["udp/1.2.3.4:5"]\n'
        'config = "/etc/other.toml"\n'
    )
    r = cli("diode", "send", "--config", str(f), "--check-config")
    assert r.returncode == 2 and r.stdout == b""
    assert _err_lines(r) == [
        f"reddoor: error: {f}: direction: invalid choice: 'sideways' (choose from 'w2f', 'f2w')",
        f"reddoor: error: {f}: unknown setting 'heartbeats' (did you mean heartbeat?)",
        f"reddoor: error: {f}: mtls: must be true or false",
        f"reddoor: error: {f}: to: must be a string or a number",
        f"reddoor: error: {f}: unknown setting 'config'",
        "reddoor: error: --connect is required (in the settings file or as an option)",
    ]
    # A normal start refuses too, before connecting anything: one line, exit 2.
    r = cli("diode", "send", "--config", str(f))
    assert r.returncode == 2
    assert _err_lines(r) == [
        f"reddoor: error: {f}: direction: invalid choice: 'sideways' (choose from 'w2f', "
        "'f2w') (and 5 more: --check-config lists them)"
    ]


def test_without_a_settings_file_required_options_stay_argparse_errors(cli) -> None:
    r = cli("diode", "receive", "--direction", "w2f")
    assert r.returncode == 2 and "the following arguments are required" in r.stderr.decode()


def test_check_config_finds_what_the_settings_name(cli, tmp_path) -> None:
    pin = tmp_path / "pin"
    pin.write_text("")
    f = tmp_path / "gateway.toml"
    f.write_text(
        f'pads = "{tmp_path}/nopads"\npin-file = "{pin}"\nconnect = "tcp/127.0.0.1:0"\n'
        f'tls-cert = "{tmp_path}/cert.pem"\nbackend = "openai"\n'
        f'chronicle = "{tmp_path}/nodir/c.jsonl"\n'
    )
    r = cli("gateway", "--config", str(f), "--check-config")
    assert r.returncode == 2 and r.stdout == b""
    assert _err_lines(r) == [
        "reddoor: error: --connect: port 0 in 'tcp/127.0.0.1:0' is not between 1 and 65535",
        f"reddoor: error: cannot read the --tls-cert file {tmp_path}/cert.pem: No such file or "
        "directory",
        "reddoor: error: TLS needs both a certificate and its private key (--tls-cert, --tls-key)",
        f"reddoor: error: the --pads directory {tmp_path}/nopads is not a directory",
        f"reddoor: error: the PIN file {pin} is empty",
        "reddoor: error: the openai backend needs --openai-url",
        f"reddoor: error: the --chronicle directory {tmp_path}/nodir does not exist",
    ]
    r = cli("diode", "receive", "--check-config", "--direction", "f2w", "--connect",
            "tcp/127.0.0.1:7447", "--listen", "udp/nowhere.invalid:9")  # fmt: skip
    assert r.returncode == 2
    assert _err_lines(r) == [
        "reddoor: error: --listen: cannot resolve 'nowhere.invalid' to an IPv4 address"
    ]


def test_the_settings_file_is_read_within_its_limit(cli, tmp_path) -> None:
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * config_file.MAX_CONFIG_BYTES + "\n")
    for f in (big, Path("/dev/zero")):
        r = cli("router", "--config", str(f))
        assert r.returncode == 2
        assert _err_lines(r) == [
            f"reddoor: error: settings file {f} is larger than its limit of 65,536 bytes"
        ]
    bad = tmp_path / "bad.toml"
    bad.write_text('listen = "tcp/127.0.0.1:7447"\nlisten = 1\n')
    r = cli("router", "--config", str(bad), "--check-config")
    assert _err_lines(r) == [
        f"reddoor: error: {bad}: not valid TOML: Cannot overwrite a value (at line 2, column 11)"
    ]


@pytest.mark.slow
def test_router_and_gateway_run_from_their_settings_files(cli, tmp_path) -> None:
    """The services' command lines, for real: the router and a gateway on a practice home, each
    configured only by a settings file, answer a question."""
    from custody.pad.practice import make_practice_pad
    from tests.custody.link.fixtures import free_endpoint, spawn, stop

    endpoint = free_endpoint()
    make_practice_pad(tmp_path / "pad", 1 << 20)
    (tmp_path / "router.toml").write_text(f'listen = "{endpoint}"\n')
    (tmp_path / "gateway.toml").write_text(
        f'connect = "{endpoint}"\npads = "{tmp_path}/pad/facility"\nname = "from-file"\n'
    )
    router = spawn("router", "--config", str(tmp_path / "router.toml"), ready="listening")
    try:
        gw = spawn("gateway", "--config", str(tmp_path / "gateway.toml"), ready="serving")
        try:
            assert any(b"gateway from-file serving 1 pad" in ln for ln in gw.captured)  # type: ignore[attr-defined]
            r = cli("ask", "--pad", str(tmp_path / "pad" / "workstation"), "--connect", endpoint,
                    stdin=b"which door?")  # fmt: skip
            assert r.returncode == 0 and r.stdout.decode() == "which door?\n", r.stderr
        finally:
            stop(gw)
    finally:
        stop(router)
