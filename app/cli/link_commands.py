"""`reddoor router`, `reddoor gateway`, `reddoor ask`: the OTP link from the shell (headless)."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.cli import config_file, metrics_options
from app.cli.numeric_options import cover_bucket, cover_rate, integer, real, seconds
from custody.errors import UsageError

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "tcp/127.0.0.1:7447"  # as in custody.link.zenoh_transport (not imported here)
MAX_WORKERS = 256  # backend threads: each holds a connection to the AI backend
HOSTED_GATEWAY_WAIT = 15.0  # a gateway retrying its --connect finds a new router within seconds
DEFAULT_KEY_PERIOD = 10.0  # as custody.link.carrier.DEFAULT_KEY_PERIOD (not imported here)


def _key_period_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cover-key-period",
        type=real(1.0, 86400.0, "a number of seconds", above=False),
        default=DEFAULT_KEY_PERIOD,
        help="pad-keyed cover traffic (pads whose frame policy allows it): seconds under one "
        f"32-byte key (default {DEFAULT_KEY_PERIOD:g})",
    )


def _tls_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("TLS (endpoints tls/HOST:PORT)")
    g.add_argument("--tls-root-ca", type=Path, help="CA certificate (PEM) to trust")
    g.add_argument("--tls-cert", type=Path, help="this node's certificate (PEM)")
    g.add_argument("--tls-key", type=Path, help="this node's private key (PEM)")
    g.add_argument("--mtls", action="store_true", help="mutual TLS (needed on clients too)")


def _tls(args: argparse.Namespace) -> Any:
    from custody.link.zenoh_transport import TlsSettings

    if not (args.tls_root_ca or args.tls_cert or args.tls_key or args.mtls):
        return None
    return TlsSettings(args.tls_root_ca, args.tls_cert, args.tls_key, args.mtls)


def check_link(args: argparse.Namespace, *endpoints: str) -> list[str]:
    """--check-config problems of the Zenoh side: the named endpoint options and the TLS files."""
    from custody.link.zenoh_transport import MAX_PEM_BYTES, check_endpoint

    problems: list[str] = []
    for name in endpoints:
        value = getattr(args, name)
        if value:
            config_file.collect(problems, lambda v=value: check_endpoint(v), f"--{name}")
    for opt in ("tls_root_ca", "tls_cert", "tls_key"):
        path = getattr(args, opt)
        what = f"the --{opt.replace('_', '-')} file"
        if path is not None:
            config_file.collect(
                problems, lambda p=path, w=what: config_file.readable_file(p, w, MAX_PEM_BYTES)
            )
    if bool(args.tls_cert) != bool(args.tls_key):
        problems.append("TLS needs both a certificate and its private key (--tls-cert, --tls-key)")
    if hasattr(args, "metrics"):
        metrics_options.check(args, problems)
    return problems


def check_router(args: argparse.Namespace) -> list[str]:
    return check_link(args, "listen", "connect")


def check_gateway(args: argparse.Namespace) -> list[str]:
    """What `reddoor gateway` with these settings would trip over at start, found up front."""
    from custody.ledger import home

    problems = check_link(args, "connect", "listen")
    collect = config_file.collect
    if args.pads is not None:
        collect(problems, lambda: config_file.directory(args.pads, "the --pads directory"))
    if args.pin_file is not None:
        collect(problems, lambda: home.read_secret_file(args.pin_file, "PIN"))  # never shown
    if args.home is None and args.pads is None:
        problems.append("no facility pads to serve: give pads (--pads) or a home (--home)")
    if args.home is not None:
        collect(problems, lambda: _check_home(args))
    if args.backend == "openai" and not args.openai_url:
        problems.append("the openai backend needs --openai-url")
    if args.chronicle is not None and not args.chronicle.parent.is_dir():
        problems.append(f"the --chronicle directory {args.chronicle.parent} does not exist")
    return problems


def _check_home(args: argparse.Namespace) -> None:
    """The home is an initialised facility home whose HSM module is there, with a PIN source."""
    from custody.ledger import home

    path = home.resolve_home(args.home)
    settings = home.load_settings(path)
    if settings.practice:
        return
    if not os.access(settings.pkcs11_module, os.R_OK):
        raise UsageError(f"the home's PKCS#11 module {settings.pkcs11_module} cannot be read")
    if args.pin_file is None and not sys.stdin.isatty():
        raise UsageError(
            f"{path} is a production home: give pin-file (a service has no terminal to prompt on)"
        )


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    r = sub.add_parser(
        "router",
        parents=[common],
        help="run a Zenoh router for the link",
        description="An embedded Zenoh session in router mode (multicast scouting off). "
        "Runs until interrupted.",
    )
    r.add_argument("--listen", default="tcp/127.0.0.1:7447", help="endpoint to listen on")
    r.add_argument("--connect", default=None, help="another router to join (optional)")
    _tls_args(r)
    metrics_options.add_args(r)
    r.set_defaults(handler=cmd_router)
    config_file.enable(r, check_router)

    g = sub.add_parser(
        "gateway",
        parents=[common],
        help="run the facility gateway (headless)",
        description="Serve facility pad copies: the HSM vault of the facility home (--home or "
        "$REDDOOR_HOME) and/or the plain copies in --pads. Open authenticated queries, ask the AI "
        "backend, stream encrypted answers back. With a home, every processed query is a "
        "link.query event in its ledger. With no --connect it is itself the router, listening "
        "on --listen.",
    )
    g.add_argument("--pads", type=Path, default=None, help="directory of facility copies")
    g.add_argument(
        "--pin-file",
        type=Path,
        default=None,
        help="file holding the HSM token PIN (production homes; default: no-echo prompt)",
    )
    g.add_argument("--connect", default=None, help="router endpoint (default: embedded router)")
    g.add_argument("--listen", default=None, help="listen endpoint of the embedded router")
    g.add_argument("--backend", choices=["echo", "openai"], default="echo")
    g.add_argument("--openai-url", default=None, help="base URL of an OpenAI-compatible server")
    g.add_argument("--model", default=None, help="model name for the openai backend")
    g.add_argument("--backend-timeout", type=seconds(), default=120.0)
    g.add_argument("--echo-delay", type=seconds(zero=True), default=0.0, help=argparse.SUPPRESS)
    g.add_argument("--echo-piece", type=integer(1, 1 << 20), default=4096, help=argparse.SUPPRESS)
    g.add_argument("--chunk-bytes", type=integer(1, 1 << 20), default=4096, help=argparse.SUPPRESS)
    g.add_argument("--name", default="facility", help="gateway name (liveliness token)")
    g.add_argument(
        "--chronicle",
        type=Path,
        default=None,
        help="JSONL chronicle file (instead of the home's ledger)",
    )
    g.add_argument(
        "--cover-rate",
        type=cover_rate,
        default=None,
        help="constant-rate cover traffic to every workstation: frames/s per pad (costs pad; "
        "the cost per day is printed at start)",
    )
    g.add_argument("--cover-bucket", type=cover_bucket, default=1024, help="cover frame body size")
    _key_period_arg(g)
    g.add_argument(
        "--cache-max-mb",
        type=integer(1, 1 << 20),
        default=64,
        help="answer cache bound per pad, MiB",
    )
    g.add_argument(
        "--cache-max-age", type=seconds(), default=3600.0, help="answer cache bound, seconds"
    )
    g.add_argument(
        "--workers", type=integer(1, MAX_WORKERS), default=8, help="backend worker threads"
    )
    _tls_args(g)
    metrics_options.add_args(g)
    g.add_argument(
        "--verify-interval",
        type=seconds(),
        default=3600.0,
        help="with --metrics and a facility home: verify the whole ledger at start and every "
        "this many seconds on a thread of its own, for reddoor_ledger_last_verify_success "
        "(default 3600)",
    )
    g.set_defaults(handler=cmd_gateway)
    config_file.enable(g, check_gateway)

    a = sub.add_parser(
        "ask",
        parents=[common],
        help="ask the facility's AI over the OTP link",
        description="Encrypt the question with the workstation copy, send it, and stream the "
        "answer to stdout as each frame is authenticated. The question comes from stdin "
        "(echo ... | reddoor ask --pad DIR, or < FILE; '-' names stdin too), from "
        "--question-file, or, on a terminal, from a prompt; never from the command line, which "
        "every local user can read (/proc/PID/cmdline): a question given there is refused. "
        "With no --connect (the practice default) it joins whatever already listens at "
        "--listen (the practice gateway is its own router there), else it starts an embedded "
        "router there and waits for a gateway started with --connect to it.",
    )
    a.add_argument(
        "question",
        nargs="?",
        default=None,
        metavar="-",
        help="read the question from stdin (also the default when stdin is not a terminal)",
    )
    a.add_argument("--pad", type=Path, required=True, help="workstation pad copy directory")
    a.add_argument(
        "--question-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="read the question from FILE (UTF-8, at most 4 MiB)",
    )
    a.add_argument(
        "--connect",
        default=None,
        help="router endpoint (default: none; join or start a router at --listen)",
    )
    a.add_argument(
        "--listen",
        default=None,
        help=f"without --connect: where to find or start the router (default {DEFAULT_ENDPOINT})",
    )
    a.add_argument(
        "--gateway-wait",
        type=seconds(),
        default=None,
        help="seconds to wait for a facility gateway to show up before giving up (default 1; "
        f"{HOSTED_GATEWAY_WAIT:g} when this ask started the router, so that a gateway "
        "connecting to it has time to arrive)",
    )
    a.add_argument("--timeout", type=seconds(), default=60.0, help="seconds to wait for an answer")
    a.add_argument("--retransmit", type=seconds(), default=1.0, help="retransmit interval, s")
    a.add_argument("--classification", default=None, help="classification label to record")
    a.add_argument(
        "--no-presence-check",
        action="store_true",
        help="send without checking the gateway's liveliness (one-way links)",
    )
    a.add_argument(
        "--stall-timeout",
        type=seconds(),
        default=120.0,
        help="seconds without a new answer chunk before giving up (default 120)",
    )
    a.add_argument(
        "--accept-facility-mark",
        action="store_true",
        help="skip this copy forward to the facility's receive mark even when it is far ahead "
        "(after checking the stick's custody: its journal is older than its use)",
    )
    a.add_argument(
        "--cover-rate",
        type=cover_rate,
        default=None,
        help="send the question inside constant-rate cover traffic: frames/s, kept up until "
        "the answer ends (costs pad whether or not anything is asked; the cost is printed to "
        "stderr first)",
    )
    a.add_argument(
        "--cover-bucket",
        type=cover_bucket,
        default=1024,
        help="body size of every cover frame, bytes (one of the frame buckets; default 1024)",
    )
    _key_period_arg(a)
    a.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    _tls_args(a)
    a.set_defaults(handler=cmd_ask)


def register_pad_actions(psub: Any, common: argparse.ArgumentParser) -> None:
    """`reddoor pad export-consumption`, hooked into the `pad` group by pad_commands."""
    ex = psub.add_parser(
        "export-consumption",
        parents=[common],
        help="export the consumed pad ranges (reddoor-consumption/1)",
        description="From a pad copy's journal (either side) or the gateway's chronicle, write "
        "the consumed ranges per pad and direction as JSON, for reconciling the two sides.",
    )
    src = ex.add_mutually_exclusive_group(required=True)
    src.add_argument("--pad", type=Path, help="pad copy directory (its journal)")
    src.add_argument("--chronicle", type=Path, help="the gateway's JSONL chronicle")
    src.add_argument(
        "--ledger",
        action="store_true",
        help="the link.query events of the facility home's ledger (--home or $REDDOOR_HOME)",
    )
    ex.add_argument("--pin-file", type=Path, default=None, help="HSM token PIN (production)")
    ex.add_argument("--out", type=Path, default=None, help="write here instead of stdout")
    ex.set_defaults(handler=cmd_export_consumption)


def cmd_export_consumption(args: argparse.Namespace) -> int:
    from custody.durable_file import write_atomic
    from custody.lifecycle import consumption as consumption_export

    if args.pad:
        doc = consumption_export.from_journal(args.pad)
    elif args.chronicle:
        doc = consumption_export.from_chronicle(args.chronicle)
    else:
        if args.home is None:
            raise UsageError("--ledger needs a facility home (--home DIR or $REDDOOR_HOME)")
        with _home_opener(args)() as opened:
            doc = consumption_export.from_ledger(opened.ledger)
    text = json.dumps(doc, sort_keys=True, indent=1) + "\n"
    if args.out:
        write_atomic(args.out, text.encode())
    else:
        sys.stdout.write(text)
    return 0


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


def cmd_router(args: argparse.Namespace) -> int:
    from custody.link.zenoh_transport import LinkConfig, Transport, check_endpoint

    cfg = LinkConfig(
        mode="router",
        listen=(check_endpoint(args.listen),),
        connect=(check_endpoint(args.connect),) if args.connect else (),
        tls=_tls(args),
    )
    metrics_options.validate(args)
    with Transport(cfg) as transport:

        def collectors(server: Any) -> None:
            from custody.link.metrics import RouterCollector

            server.add(RouterCollector(transport))

        with metrics_options.serving(args, collectors):
            print(f"reddoor: router listening on {args.listen}", file=sys.stderr, flush=True)
            _wait_for_signal()
    return 0


def _home_opener(args: argparse.Namespace) -> Any:
    """A function opening the facility home (PIN read now, in the main thread)."""
    from custody.ledger import home

    path = home.resolve_home(args.home)
    settings = home.load_settings(path)
    pin = None
    if args.pin_file is not None:
        pin = home.read_secret_file(args.pin_file, "PIN")
    elif not settings.practice:
        pin = home.prompt_secret("PIN")
    return lambda: home.open_home(path, pin)


def _pad_provider(args: argparse.Namespace, token: Any, guard: Any) -> Any:
    from custody.link.pad_providers import CombinedPadProvider, DirectoryPadProvider

    providers: list[Any] = []
    if args.pads is not None:
        providers.append(DirectoryPadProvider(args.pads, guard=guard))
    if token is not None:
        from custody.pad import vault

        if vault.vault_pad_ids(token[0]):
            providers.append(vault.VaultPadProvider(token[0], token[1], guard=guard))
    if not providers:
        raise UsageError(
            "no facility pads to serve: the home's vault holds none"
            if token is not None
            else "give --pads DIR or a facility home (--home DIR or $REDDOOR_HOME)"
        )
    return providers[0] if len(providers) == 1 else CombinedPadProvider(providers)


def cmd_gateway(args: argparse.Namespace) -> int:
    from custody.link.backends import make_backend
    from custody.link.chronicle import Chronicle, JsonlChronicleSink, LedgerChronicleSink
    from custody.link.gateway import Gateway
    from custody.link.zenoh_transport import LinkConfig, Transport

    backend = make_backend(
        args.backend,
        url=args.openai_url,
        model=args.model,
        timeout=args.backend_timeout,
        echo_delay=args.echo_delay,
    )
    if args.backend == "echo" and hasattr(backend, "piece"):
        backend.piece = max(1, args.echo_piece)
    if args.cache_max_mb < 1 or args.cache_max_age <= 0:
        raise UsageError("--cache-max-mb and --cache-max-age must be positive")
    metrics_options.validate(args)
    observer = None
    if args.metrics:
        from custody.link.metrics import MetricsServer, PrometheusObserver, parse_endpoint

        metrics_server = MetricsServer(*parse_endpoint(args.metrics, public=args.metrics_public))
        observer = PrometheusObserver(metrics_server.registry)
    chronicle = None
    own_home = None  # a home opened here (not by the chronicle's thread)
    home_obj: Any = None
    if args.home is not None and not args.chronicle:
        # The chronicle's thread opens the home and owns its ledger connection; the home's
        # token (thread-safe) also reads the vault's facility copies.
        sink = LedgerChronicleSink(_home_opener(args))
        chronicle = Chronicle(sink)
        home_obj = sink.home
    elif args.home is not None:
        own_home = home_obj = _home_opener(args)()
    if args.chronicle:
        chronicle = Chronicle(JsonlChronicleSink(args.chronicle))
    token = None if home_obj is None else (home_obj.path, home_obj.token)
    guard = None
    watch = None
    try:
        if home_obj is not None:
            from custody.lifecycle.marks import MarksGuard

            # Every facility copy served here is checked against the home's ledger when it is
            # opened and mirrored into it before each journal write (a restored copy is refused).
            guard = MarksGuard.for_home(
                home_obj.path, home_obj.settings, home_obj.token, actor=f"gateway:{args.name}"
            )
        provider = _pad_provider(args, token, guard)
        cfg = LinkConfig.for_endpoint(args.connect, listen=args.listen, tls=_tls(args))
        with Transport(cfg) as transport:
            gw = Gateway(
                transport,
                provider,
                backend,
                name=args.name,
                chronicle=chronicle,
                backend_workers=max(1, args.workers),
                chunk_bytes=args.chunk_bytes,
                cache_max_bytes=args.cache_max_mb << 20,
                cache_max_age=args.cache_max_age,
                cover_rate=args.cover_rate,
                cover_bucket=args.cover_bucket,
                cover_key_period=args.cover_key_period,
                observer=observer,
            )
            chronicle = None  # the gateway closes it
            try:
                gw.open_pads()
                poll = None
                if home_obj is not None:
                    # Ledger state decides what is served: production homes only active pads;
                    # a compromised, suspended or destroyed pad stops within a poll (issue 6);
                    # a frame policy two officers made stricter is enforced from the start.
                    from custody.lifecycle.serving import LedgerStatePoll

                    poll = LedgerStatePoll(home_obj, lambda: gw.pads)
                    for pad, policy in poll.policies().items():
                        gw.set_policy(pad, policy)
                # The cost first, then the traffic: per pad, in the mode its policy allows.
                for cost, n in gw.cover_costs():
                    print(
                        f"reddoor: {cost.render()} per pad ({n} pad(s))",
                        file=sys.stderr,
                        flush=True,
                    )
                gw.start()
                if observer is not None:
                    from custody.link.metrics import GatewayCollector, LedgerCollector

                    metrics_server.add(GatewayCollector(gw))
                    if home_obj is not None:
                        watch = _ledger_watch(home_obj, args.verify_interval)
                        metrics_server.add(LedgerCollector(watch.snapshot))
                        watch.start()
                    metrics_server.start()
                    metrics_options.announce(metrics_server)
                if poll is not None:
                    for pad in poll():
                        gw.suspend_pad(pad, poll.reason(pad))
                    gw.watch_suspensions(poll, interval=0.2)
                if guard is None:
                    from custody.pad.store import default_state_dir

                    print(
                        "reddoor: note: --pads copies without a facility home: only this host's "
                        f"witness ({default_state_dir() / 'witness'}) stops a copy restored from "
                        "a backup; a rebuilt host has none (docs/deploy-link.md)",
                        file=sys.stderr,
                        flush=True,
                    )
                print(
                    f"reddoor: gateway {args.name} serving {len(gw.pads)} pad(s) on "
                    f"{cfg.describe()} with the {backend.name} backend",
                    file=sys.stderr,
                    flush=True,
                )
                _wait_for_signal()
            finally:
                if observer is not None:
                    metrics_server.close()
                if watch is not None:
                    watch.close()
                gw.stop()
    finally:
        if guard is not None:
            guard.close()
        if chronicle is not None:
            chronicle.close()
        if own_home is not None:
            own_home.close()
    return 0


def _ledger_watch(oh: Any, verify_every: float) -> Any:
    """The home's ledger checkpoint state and verification on a thread and connection of their
    own (custody/ledger/health.py), for the metrics."""
    from custody.ledger import home
    from custody.ledger.health import LedgerWatch

    led = oh.ledger
    return LedgerWatch(
        lambda: home.open_ledger_db(oh.path, oh.settings, oh.token),
        origin=led.origin,
        key_name=led.key_name,
        public_key=led.public_key,
        verify_every=verify_every,
    )


@contextlib.contextmanager
def _ask_transport(args: argparse.Namespace) -> Iterator[tuple[Any, bool]]:
    """The session `ask` uses, and whether this process hosts the router. With --connect, a
    client of it (unchanged); without, join or start a router at --listen."""
    from custody.link.zenoh_transport import LinkConfig, Transport, join_or_host

    tls = _tls(args)
    if args.connect:
        with Transport(LinkConfig.for_endpoint(args.connect, tls=tls)) as transport:
            yield transport, False
        return
    where = args.listen or DEFAULT_ENDPOINT
    transport, hosted = join_or_host(where, tls)
    with transport:
        if hosted:
            print(
                f"reddoor: no router at {where}: started an embedded router listening there; "
                "waiting for a facility gateway to connect (reddoor gateway --connect "
                f"{where})",
                file=sys.stderr,
                flush=True,
            )
        else:
            log.info("no --connect: joined the router already listening at %s", where)
        yield transport, hosted


def cmd_ask(args: argparse.Namespace) -> int:
    from app.cli.question_source import read_question
    from custody.link.messages import cover_cost
    from custody.link.workstation import WorkstationClient
    from custody.pad.store import open_pad_dir

    question = (
        read_question(
            args.question,
            args.question_file,
            stdin_form="echo QUESTION | reddoor ask --pad DIR ..., or ... < FILE",
        )
        or ""
    )
    if not question.strip():
        raise UsageError("the question is empty")
    if args.connect and args.listen:
        raise UsageError("--listen is where to find or start a router without --connect; not both")
    if args.gateway_wait is not None and not args.gateway_wait > 0:
        raise UsageError("--gateway-wait must be a positive number of seconds")
    if args.cover_rate is not None:
        cover_cost(args.cover_rate, args.cover_bucket)  # bad values: a usage error before anything
    with open_pad_dir(args.pad) as copy, _ask_transport(args) as (transport, hosted):
        wait = args.gateway_wait or (HOSTED_GATEWAY_WAIT if hosted else 1.0)
        client = WorkstationClient(
            copy,
            transport,
            retransmit_interval=args.retransmit,
            answer_timeout=args.timeout,
            stall_timeout=args.stall_timeout,
            require_gateway=not args.no_presence_check,
            presence_timeout=wait,
            accept_facility_mark=args.accept_facility_mark,
        )
        try:
            if args.cover_rate is not None:
                if not args.no_presence_check:
                    client.check_gateway()  # no gateway: fail before cover spends any pad
                # The cost first, then the traffic: it spends pad whether or not anyone asks.
                cost = client.cover_cost(args.cover_rate, args.cover_bucket, args.cover_key_period)
                print(
                    f"reddoor: {cost.render_budget('workstation→facility')}",
                    file=sys.stderr,
                    flush=True,
                )
                client.enable_cover(args.cover_rate, args.cover_bucket, args.cover_key_period)
            for qid in client.discard_interrupted():
                print(
                    f"reddoor: note: an earlier query ({qid[:8]}) was interrupted before its "
                    "answer ended; that answer cannot be shown again (its pad stays consumed)",
                    file=sys.stderr,
                )

            def show(piece: str) -> None:
                if not args.json:
                    sys.stdout.write(piece)
                    sys.stdout.flush()

            seen = client.via_diode()
            if seen is not None and not args.json:
                print(f"reddoor: {seen.render()}", file=sys.stderr, flush=True)
            answer = client.ask(question, show, classification=args.classification)
        finally:
            client.close()
    if args.json:
        print(
            json.dumps(
                {
                    "query_id": answer.query_id,
                    "answer": answer.text,
                    "query_frames": answer.query_frames,
                    "answer_frames": answer.answer_frames,
                    "retransmissions": answer.retransmissions,
                    "w2f_pad_bytes": answer.w2f_bytes,
                    "f2w_pad_bytes": answer.f2w_bytes,
                    "question_mode": answer.question_mode.word,
                    "answer_mode": None if answer.answer_mode is None else answer.answer_mode.word,
                    "question_guarantee": answer.question_guarantee,
                    "answer_guarantee": answer.answer_guarantee,
                    "via_diode": None
                    if seen is None
                    else {"heard_s_ago": seen.heard_s_ago, "alive": seen.alive},
                },
                sort_keys=True,
            )
        )
    else:
        if answer.text and not answer.text.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()
        print(f"reddoor: {guarantee_line(answer)}", file=sys.stderr, flush=True)
    return 0


def guarantee_line(answer: Any) -> str:
    """What each half of the exchange cost and which guarantee it had (custody.pad.frame_policy):
    `question 1,312 pad bytes, one-time pad (information-theoretic); answer …`."""
    return (
        f"question {answer.w2f_bytes:,} pad bytes, {answer.question_guarantee}; "
        f"answer {answer.f2w_bytes:,} pad bytes, {answer.answer_guarantee}"
    )
