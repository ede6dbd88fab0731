"""`reddoor diode send` and `reddoor diode receive`: the link across two one-way UDP links."""

from __future__ import annotations

import argparse
import errno
import logging
import re
import socket
import sys
from typing import Any

from app.cli import config_file, metrics_options
from app.cli.link_commands import _tls, _tls_args, _wait_for_signal, check_link
from app.cli.numeric_options import bit_rate, integer, real, seconds
from custody.errors import UsageError

log = logging.getLogger(__name__)

_UDP = re.compile(r"^udp/([A-Za-z0-9.\-]+):(\d{1,5})$")


def udp_endpoint(text: str) -> tuple[str, int]:
    """`udp/HOST:PORT` (IPv4 address or host name) as a socket address."""
    m = _UDP.match(text.strip())
    if not m or not 0 < int(m.group(2)) < 65536:
        raise UsageError(f"expected udp/HOST:PORT, not {text[:60]!r}")
    try:
        host = socket.getaddrinfo(m.group(1), None, socket.AF_INET, socket.SOCK_DGRAM)[0][4][0]
    except (OSError, IndexError):
        raise UsageError(f"cannot resolve {m.group(1)!r} to an IPv4 address") from None
    return str(host), int(m.group(2))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--direction",
        required=True,
        choices=("w2f", "f2w"),
        help="w2f: questions, SCIF to facility; "
        "f2w: answers and gateway presence, facility to SCIF",
    )
    p.add_argument("--connect", required=True, help="this side's Zenoh router endpoint")
    _tls_args(p)
    metrics_options.add_args(p)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    d = sub.add_parser(
        "diode",
        parents=[common],
        help="bridge the link across a one-way (data diode) UDP link",
        description="Two bridges per direction carry the link across hardware data diodes: "
        "`send` on the side the traffic comes from, `receive` on the side it goes to. Neither "
        "holds a pad or a key. See docs/deploy-link.md.",
    )
    dsub = d.add_subparsers(dest="diode_command", metavar="ACTION", required=True)
    s = dsub.add_parser(
        "send",
        parents=[common],
        help="send this side's link traffic of one direction into the diode",
        description="Subscribes on this side's router to the frames of --direction (and, f2w, "
        "the gateways' presence and receive marks) and sends them as UDP datagrams with "
        "RaptorQ forward error correction. Never reads from its socket.",
    )
    _common(s)
    s.add_argument("--to", required=True, help="the diode's input: udp/HOST:PORT")
    s.add_argument(
        "--max-rate",
        type=bit_rate,
        default=bit_rate("100M"),
        help="at most this many bits per second, IP and UDP headers included (default 100M); "
        "at or below what the diode and the receiving host sustain",
    )
    s.add_argument(
        "--datagram-size",
        type=integer(256, 65507, "bytes"),
        default=1400,
        help="UDP payload per datagram (default 1400; at most the diode's MTU less 28)",
    )
    s.add_argument(
        "--fec-overhead",
        type=real(0.0, 4.0, "a fraction", above=False),
        default=0.25,
        help="repair symbols per block as a share of its source symbols, plus 2 (default 0.25)",
    )
    s.add_argument(
        "--heartbeat", type=seconds(), default=1.0, help="seconds between heartbeats (default 1)"
    )
    s.set_defaults(handler=cmd_send)
    config_file.enable(s, lambda args: _check(args, "to"))
    r = dsub.add_parser(
        "receive",
        parents=[common],
        help="publish what arrives from the diode into this side's router",
        description="Receives datagrams, rebuilds blocks, drops duplicates and publishes each "
        "frame (and, f2w, the gateways' presence) into this side's router. Never sends a "
        "datagram.",
    )
    _common(r)
    r.add_argument("--listen", required=True, help="where the diode delivers: udp/HOST:PORT")
    r.add_argument(
        "--stale-after",
        type=seconds(),
        default=5.0,
        help="seconds without a datagram before the mirrored gateway presence is withdrawn "
        "(default 5)",
    )
    r.add_argument(
        "--rcvbuf",
        type=integer(65536, 1 << 30, "bytes"),
        default=8 << 20,
        help="socket receive buffer (default 8 MiB; the kernel caps it at net.core.rmem_max)",
    )
    r.set_defaults(handler=cmd_receive)
    config_file.enable(r, lambda args: _check(args, "listen"))


def _check(args: argparse.Namespace, udp: str) -> list[str]:
    """--check-config: the UDP address (`udp`: the option naming it) and the Zenoh side."""
    problems = check_link(args, "connect")
    value = getattr(args, udp)
    if value:
        config_file.collect(problems, lambda: udp_endpoint(value), f"--{udp}")
    return problems


def _diode_collector(bridge: Any, *, receiver: bool) -> Any:
    """What `metrics_options.serving` registers for a bridge: its status() at each scrape."""

    def add(server: Any) -> None:
        from custody.link.metrics import DiodeCollector

        server.add(DiodeCollector(bridge.status, receiver=receiver))

    return add


def _transport(args: argparse.Namespace) -> Any:
    from custody.link.zenoh_transport import LinkConfig, Transport

    return Transport(LinkConfig.for_endpoint(args.connect, tls=_tls(args)))


def cmd_send(args: argparse.Namespace) -> int:
    from custody.link.diode.sender import DiodeSender
    from custody.pad.manifest import Direction

    to = udp_endpoint(args.to)
    direction = Direction(args.direction)
    metrics_options.validate(args)
    with _transport(args) as transport:
        sender = DiodeSender(
            transport,
            direction,
            to,
            max_rate=args.max_rate,
            datagram_size=args.datagram_size,
            overhead=args.fec_overhead,
            heartbeat=args.heartbeat,
        )
        sender.start()
        print(
            f"reddoor: diode send {direction.value}: from {args.connect} to udp/{to[0]}:{to[1]}, "
            f"at most {args.max_rate / 1e6:g} Mbit/s, {args.datagram_size}-byte datagrams, "
            f"FEC overhead {args.fec_overhead:g} + 2 symbols; sending",
            file=sys.stderr,
            flush=True,
        )
        try:
            with metrics_options.serving(args, _diode_collector(sender, receiver=False)):
                _wait_for_signal()
        finally:
            sender.close()
            print(f"reddoor: diode send {direction.value}: {sender.summary()}", file=sys.stderr)
    return 0


def cmd_receive(args: argparse.Namespace) -> int:
    from custody.errors import LinkError
    from custody.link.diode.receiver import DiodeReceiver
    from custody.pad.manifest import Direction

    listen = udp_endpoint(args.listen)
    direction = Direction(args.direction)
    metrics_options.validate(args)
    with _transport(args) as transport:
        try:
            receiver = DiodeReceiver(
                transport,
                direction,
                listen,
                stale_after=args.stale_after,
                rcvbuf=args.rcvbuf,
            )
        except OSError as exc:
            hint = (
                ": choose another with --listen udp/HOST:PORT"
                if exc.errno == errno.EADDRINUSE
                else ""
            )
            raise LinkError(
                f"cannot listen on {args.listen}: {exc.strerror or exc}{hint}"
            ) from None
        receiver.start()
        host, port = receiver.bound
        print(
            f"reddoor: diode receive {direction.value}: listening on udp/{host}:{port}, "
            f"publishing into {args.connect}",
            file=sys.stderr,
            flush=True,
        )
        try:
            with metrics_options.serving(args, _diode_collector(receiver, receiver=True)):
                _wait_for_signal()
        finally:
            receiver.close()
            print(
                f"reddoor: diode receive {direction.value}: {receiver.summary()}", file=sys.stderr
            )
    return 0
