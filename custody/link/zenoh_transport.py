"""The one module that imports `zenoh`: sessions, publishing, subscriptions, liveliness.

Everything else in Red Door talks to Zenoh through `Transport`, so the link can be tested,
bridged (data diodes) or replaced without touching the pad and frame code.

Rules kept here:

* Multicast scouting is off unless asked for: a SCIF network should not announce itself.
* With no endpoint to connect to, the session is an embedded router listening on the given
  endpoints (the practice default); with one, it is a client (or peer) of that router.
  `join_or_host` (reddoor ask without --connect) joins what already listens, else hosts.
* TLS settings pass straight through; a client needs `enable_mtls` too, or it sends no certificate.
* Callbacks run on Zenoh's threads: the callbacks given to `subscribe` must only enqueue. A callback
  that raises is logged (type only) and never propagates into Zenoh.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zenoh

from custody.bounded_read import check_file
from custody.errors import LinkError, RouterUnreachableError, UsageError

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "tcp/127.0.0.1:7447"
# Zenoh reads the PEM files itself, without a bound: they are checked here first (a regular file
# of at most this size; a CA bundle of the whole web PKI is about 220 KiB).
MAX_PEM_BYTES = 1 << 20
_SCHEMES = ("tcp/", "tls/", "quic/", "udp/", "ws/", "unixsock-stream/")


@dataclass(frozen=True)
class TlsSettings:
    """Paths of PEM files. `mtls` makes both ends present a certificate."""

    root_ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    mtls: bool = False
    verify_name: bool = True


@dataclass(frozen=True)
class LinkConfig:
    mode: str = "router"  # router | client | peer
    listen: tuple[str, ...] = ()
    connect: tuple[str, ...] = ()
    multicast_scouting: bool = False
    tls: TlsSettings | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # raw "path": value overrides

    @classmethod
    def router(cls, listen: str | None = None, tls: TlsSettings | None = None) -> LinkConfig:
        return cls(mode="router", listen=(check_endpoint(listen or DEFAULT_ENDPOINT),), tls=tls)

    @classmethod
    def for_endpoint(
        cls,
        connect: str | None,
        *,
        listen: str | None = None,
        tls: TlsSettings | None = None,
        mode: str = "client",
    ) -> LinkConfig:
        """Client of `connect`, or, with no endpoint, an embedded router listening on `listen`."""
        if not connect:
            return cls.router(listen, tls)
        return cls(
            mode=mode,
            connect=(check_endpoint(connect),),
            listen=(check_endpoint(listen),) if listen else (),
            tls=tls,
        )

    def describe(self) -> str:
        where = ", ".join(self.connect or self.listen) or "no endpoint"
        return f"{self.mode} ({where})"


_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(\d{1,5})([#?].*)?$")


def check_endpoint(text: str) -> str:
    """A Zenoh endpoint as typed by a user, checked before Zenoh sees it."""
    bad = UsageError(
        f"not a Zenoh endpoint: {text[:60]!r} (expected e.g. tcp/127.0.0.1:7447 or tls/host:7447)"
    )
    if not text.startswith(_SCHEMES) or any(c.isspace() for c in text) or len(text) > 300:
        raise bad
    scheme, _, rest = text.partition("/")
    if scheme in ("tcp", "tls", "quic", "udp", "ws"):
        m = _HOST_PORT.match(rest)
        if not m:
            raise bad
        if not 0 < int(m.group(2)) < 65536:
            raise UsageError(f"port {m.group(2)} in {text[:60]!r} is not between 1 and 65535")
    return text


def build_config(cfg: LinkConfig) -> zenoh.Config:
    if cfg.mode not in ("router", "client", "peer"):
        raise UsageError(f"unknown Zenoh mode {cfg.mode!r}")
    z = zenoh.Config()

    def put(path: str, value: Any) -> None:
        z.insert_json5(path, json.dumps(value))

    put("mode", cfg.mode)
    put("scouting/multicast/enabled", cfg.multicast_scouting)
    put("listen/endpoints", list(cfg.listen))
    put("connect/endpoints", list(cfg.connect))
    if cfg.mode != "router":
        # Fail at open() with a clear error instead of waiting forever for a router.
        put("connect/exit_on_failure", True)
    if cfg.tls is not None:
        t = cfg.tls
        for pem, what in (
            (t.root_ca, "TLS CA file"),
            (t.cert, "TLS certificate"),
            (t.key, "TLS key"),
        ):
            if pem is not None:
                check_file(Path(pem), MAX_PEM_BYTES, what)
        if t.root_ca:
            put("transport/link/tls/root_ca_certificate", str(t.root_ca))
        if t.cert and t.key:
            side = "listen" if cfg.listen else "connect"
            put(f"transport/link/tls/{side}_certificate", str(t.cert))
            put(f"transport/link/tls/{side}_private_key", str(t.key))
            if cfg.listen and cfg.connect:
                put("transport/link/tls/connect_certificate", str(t.cert))
                put("transport/link/tls/connect_private_key", str(t.key))
        elif t.cert or t.key:
            raise UsageError("TLS needs both a certificate and its private key")
        put("transport/link/tls/enable_mtls", bool(t.mtls))
        put("transport/link/tls/verify_name_on_connect", bool(t.verify_name))
    for path, value in cfg.extra.items():
        put(path, value)
    return z


class Subscription:
    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def close(self) -> None:
        if self._handle is not None:
            try:
                self._handle.undeclare()
            except zenoh.ZError:
                log.debug("undeclare after session close")
            self._handle = None


class Transport:
    """One Zenoh session. Thread-safe: Zenoh sessions may be used from any thread."""

    def __init__(self, cfg: LinkConfig) -> None:
        self.config = cfg
        try:
            self._session = zenoh.open(build_config(cfg))
        except zenoh.ZError as exc:
            if cfg.connect:
                raise RouterUnreachableError(
                    f"cannot reach the Zenoh router at {', '.join(cfg.connect)} (is it running?)"
                ) from None
            reason = _first_line(exc)
            hint = (
                " (the address is in use, e.g. by another router or `make run`'s practice "
                "facility on 7447: choose another with --listen tcp/HOST:PORT)"
                if "in use" in reason.lower() or "addr" in reason.lower()
                else ""
            )
            raise LinkError(
                f"cannot start a Zenoh router on {', '.join(cfg.listen)}: {reason}{hint}"
            ) from None
        self._lock = threading.Lock()
        self._publishers: dict[str, Any] = {}
        self._closed = False

    # -- data ------------------------------------------------------------------------------
    def publish(self, key: str, data: bytes, *, droppable: bool = False) -> None:
        """Send `data` to every current subscriber of `key`. Nobody listening: it vanishes."""
        pub = self._publishers.get(key)
        if pub is None:
            with self._lock:
                pub = self._publishers.get(key)
                if pub is None:
                    pub = self._session.declare_publisher(
                        key,
                        congestion_control=zenoh.CongestionControl.BLOCK,
                        express=True,
                    )
                    self._publishers[key] = pub
        try:
            if droppable:
                self._session.put(
                    key, data, congestion_control=zenoh.CongestionControl.DROP, express=True
                )
            else:
                pub.put(data)
        except zenoh.ZError as exc:
            raise LinkError(f"cannot publish on the link: {_first_line(exc)}") from None

    def subscribe(self, key: str, on_data: Callable[[str, bytes], None]) -> Subscription:
        """Call `on_data(key, payload)` on a Zenoh thread for each sample. Must only enqueue."""

        def callback(sample: zenoh.Sample) -> None:
            try:
                on_data(str(sample.key_expr), sample.payload.to_bytes())
            except Exception as exc:  # never let an error unwind into Zenoh
                log.error("link subscriber callback failed (%s)", type(exc).__name__)

        return Subscription(self._session.declare_subscriber(key, callback))

    # -- liveliness ------------------------------------------------------------------------
    def declare_token(self, key: str) -> Subscription:
        return Subscription(self._session.liveliness().declare_token(key))

    def alive(self, key_expr: str, timeout: float = 1.0) -> list[str]:
        """Keys of liveliness tokens matching `key_expr` right now (spends no pad)."""
        out = []
        for reply in self._session.liveliness().get(key_expr, timeout=timeout):
            if reply.ok is not None:
                out.append(str(reply.ok.key_expr))
        return sorted(out)

    def watch_liveliness(
        self, key_expr: str, on_change: Callable[[str, bool], None]
    ) -> Subscription:
        """`on_change(key, alive)` for tokens appearing and vanishing (history included)."""

        def callback(sample: zenoh.Sample) -> None:
            try:
                on_change(str(sample.key_expr), sample.kind == zenoh.SampleKind.PUT)
            except Exception as exc:
                log.error("liveliness callback failed (%s)", type(exc).__name__)

        return Subscription(
            self._session.liveliness().declare_subscriber(key_expr, callback, history=True)
        )

    # -- queries (state that is not link traffic: a diode bridge's status) -------------------
    def serve(self, key: str, reply: Callable[[], bytes]) -> Subscription:
        """Answer every query on `key` with `reply()` (called on a Zenoh thread)."""

        def callback(query: zenoh.Query) -> None:
            try:
                query.reply(key, reply())
            except Exception as exc:
                log.error("query handler failed (%s)", type(exc).__name__)

        return Subscription(self._session.declare_queryable(key, callback))

    def query(self, key: str, timeout: float = 0.5) -> list[bytes]:
        """The replies of whoever serves `key` right now (none: an empty list)."""
        out = []
        try:
            for reply in self._session.get(key, timeout=timeout):
                if reply.ok is not None:
                    out.append(reply.ok.payload.to_bytes())
        except zenoh.ZError as exc:
            raise LinkError(f"cannot query the link: {_first_line(exc)}") from None
        return out

    # -- the router -----------------------------------------------------------------------
    def router_connected(self) -> bool:
        """True while this session has a router (or, in peer mode, a peer) to talk to. A router
        is its own: always True. A client that lost its router reconnects by itself (Zenoh
        retries the connect endpoints and re-declares subscriptions and tokens)."""
        if self.config.mode == "router":
            return True
        try:
            info = self._session.info
            if any(True for _ in info.routers_zid()):
                return True
            return self.config.mode == "peer" and any(True for _ in info.peers_zid())
        except zenoh.ZError:
            return False

    def session_count(self) -> int | None:
        """How many Zenoh sessions (clients, peers, routers) this one is connected to now, for a
        router's metrics; None if Zenoh cannot say."""
        try:
            return sum(1 for _ in self._session.info.transports())
        except (zenoh.ZError, AttributeError):
            return None

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for pub in self._publishers.values():
            with contextlib.suppress(zenoh.ZError):
                pub.undeclare()
        self._publishers.clear()
        try:
            self._session.close()  # type: ignore[no-untyped-call]
        except zenoh.ZError as exc:
            log.debug("closing the Zenoh session: %s", type(exc).__name__)

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def join_or_host(listen: str | None, tls: TlsSettings | None = None) -> tuple[Transport, bool]:
    """The practice default when no router is given: join whatever already listens at `listen`
    (a gateway that is its own embedded router, or `reddoor router`) as a client, else become
    the embedded router there, so that a gateway started with `--connect` can reach us.

    Returns the transport and whether this process hosts the router. If two processes race for
    a free port, the loser joins the winner.
    """
    endpoint = check_endpoint(listen or DEFAULT_ENDPOINT)
    try:
        return Transport(LinkConfig.for_endpoint(endpoint, tls=tls)), False
    except RouterUnreachableError:
        pass
    try:
        return Transport(LinkConfig.router(endpoint, tls)), True
    except LinkError as hosting:
        try:
            return Transport(LinkConfig.for_endpoint(endpoint, tls=tls)), False
        except RouterUnreachableError:
            raise RouterUnreachableError(
                f"nothing answers as a Zenoh router at {endpoint}, and {hosting.message}"
            ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    # Zenoh appends the Rust source location (" at /root/.cargo/...rs:62."): not for users.
    return re.sub(r"\s+at \S+\.rs:\d+\.?", "", line)[:200]
