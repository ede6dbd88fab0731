"""`--metrics tcp/HOST:PORT` and `--metrics-public` on router, gateway, diode send and receive.

Off unless given. The server and its collectors are custody.link.metrics (the only module that
imports prometheus_client, imported only when --metrics is given); this module adds the options
and runs the server for the length of a command.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from app.cli import config_file


def add_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("metrics (Prometheus)")
    g.add_argument(
        "--metrics",
        default=None,
        metavar="tcp/HOST:PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (default: off); keep it on "
        "loopback (tcp/127.0.0.1:9464) and let a local Prometheus or a proxy reach it: a "
        "non-loopback address is refused unless --metrics-public is also given",
    )
    g.add_argument(
        "--metrics-public",
        action="store_true",
        help="allow --metrics on an address other hosts can reach (the endpoint has no "
        "authentication: firewall it to the Prometheus server)",
    )


def announce(server: Any) -> None:
    print(
        f"reddoor: metrics at http://{server.host}:{server.port}/metrics",
        file=sys.stderr,
        flush=True,
    )


def check(args: argparse.Namespace, problems: list[str]) -> None:
    """--check-config: the --metrics address parses and is loopback (or allowed not to be)."""
    if args.metrics:
        from custody.link import metrics

        config_file.collect(
            problems, lambda: metrics.parse_endpoint(args.metrics, public=args.metrics_public)
        )


def validate(args: argparse.Namespace) -> None:
    """Refuse a bad --metrics before anything starts (a usage error, exit 2)."""
    if args.metrics:
        from custody.link import metrics

        metrics.parse_endpoint(args.metrics, public=args.metrics_public)


@contextlib.contextmanager
def serving(args: argparse.Namespace, collectors: Callable[[Any], None]) -> Iterator[None]:
    """Serve the metrics `collectors(server)` registers while the block runs (nothing without
    --metrics)."""
    if not args.metrics:
        yield
        return
    from custody.link import metrics

    server = metrics.serve(args.metrics, args.metrics_public, collectors)
    announce(server)
    try:
        yield
    finally:
        server.close()
