"""Prometheus metrics of the gateway, the router and the diode bridges (`--metrics tcp/HOST:PORT`).

The one module that imports prometheus_client. Each process gets its own `CollectorRegistry`
(nothing global), served by prometheus_client's HTTP server on a daemon thread, bound to exactly
the address given. Almost everything is read when Prometheus scrapes (a `Collector`): the
gateway's pads through `custody.pad.status.status_of` (the figures `reddoor pad status` shows),
its lanes' counts, the junk counts of its rate-limited log, a bridge's `status()`. Only timings
are recorded as they happen (`PrometheusObserver`, the gateway's `LinkObserver`).

What the metrics never carry: question or answer text, pad bytes, keys, offsets (the pad figures
come from the journal's durable marks, so they move by reservation blocks), query ids. Labels are
pad ids (32 hex digits), directions, outcomes and refusal reasons. docs/operations.md lists them.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from custody.durable_file import replace_atomically
from custody.errors import LinkError, StorageError, UsageError
from custody.ledger.health import LedgerSnapshot
from custody.link.chronicle import LedgerChronicleSink
from custody.link.gateway import Gateway
from custody.link.keys import pad_hex
from custody.link.observer import OUTCOMES, LinkObserver, query_count_key
from custody.link.zenoh_transport import Transport
from custody.pad.status import status_of

log = logging.getLogger(__name__)

DEFAULT_PORT = 9464
_ENDPOINT = re.compile(r"^tcp/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(\d{1,5})$")
# Seconds: an echo answer takes milliseconds, a large model minutes (--backend-timeout 120).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


def parse_endpoint(text: str, *, public: bool = False) -> tuple[str, int]:
    """`tcp/HOST:PORT` → (host, port). A host that is not loopback is refused unless `public`:
    the metrics name the pads served and how fast they are used, which is nobody else's
    business, and the endpoint has no authentication of its own."""
    m = _ENDPOINT.match(text.strip())
    if not m or not 0 < int(m.group(2)) < 65536:
        raise UsageError(f"--metrics expects tcp/HOST:PORT (e.g. tcp/127.0.0.1:{DEFAULT_PORT})")
    host, port = m.group(1).strip("[]"), int(m.group(2))
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise UsageError(f"--metrics: cannot resolve {host!r}") from None
    addresses = {str(a[4][0]) for a in found}
    if not public and not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise UsageError(
            f"--metrics {text.strip()}: {host} is not a loopback address; the metrics name the "
            "pads served and their use, unauthenticated: add --metrics-public to serve them "
            "beyond this host (firewalled to the Prometheus server)"
        )
    return host, port


class MetricsServer:
    """A private registry served over HTTP at (host, port) on a daemon thread."""

    def __init__(self, host: str, port: int, *, process: bool = True) -> None:
        self.host, self.port = host, port
        self.registry = CollectorRegistry(auto_describe=True)
        if process:
            ProcessCollector(registry=self.registry)  # process_* (memory, CPU, open files)
        self._server: Any = None

    def add(self, collector: Collector) -> None:
        self.registry.register(collector)

    def start(self) -> None:
        try:
            self._server, _thread = start_http_server(
                self.port, addr=self.host, registry=self.registry
            )
        except OSError as exc:
            raise LinkError(
                f"cannot serve metrics on tcp/{self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        log.info("metrics served on http://%s:%d/metrics", self.host, self.port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def serve(
    endpoint: str, public: bool, collectors: Callable[[MetricsServer], None]
) -> MetricsServer:
    """Parse `endpoint`, register what `collectors` adds, and start serving."""
    host, port = parse_endpoint(endpoint, public=public)
    server = MetricsServer(host, port)
    collectors(server)
    server.start()
    return server


# -- the gateway -------------------------------------------------------------------------------
class PrometheusObserver(LinkObserver):
    """The gateway's timings, as histograms (and the backend errors, as a counter)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.answer_latency = Histogram(
            "reddoor_answer_latency_seconds",
            "Seconds from a question being whole to the last frame of its answer",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.backend_latency = Histogram(
            "reddoor_backend_latency_seconds",
            "Seconds spent in the AI backend per question",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.backend_errors = Counter(
            "reddoor_backend_errors_total",
            "Backend calls that ended with a backend error",
            registry=registry,
        )

    def answer_finished(self, seconds: float) -> None:
        self.answer_latency.observe(seconds)

    def backend_finished(self, seconds: float, *, failed: bool) -> None:
        self.backend_latency.observe(seconds)
        if failed:
            self.backend_errors.inc()


class GatewayCollector(Collector):
    """What a running gateway says at each scrape."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("reddoor_gateway_up", "1 while the gateway runs", value=1)
        yield from self._pads()
        yield from self._counts()
        refused = CounterMetricFamily(
            "reddoor_frames_refused",
            "Frames refused before anything was acted on, by reason (as the log counts them)",
            labels=["reason"],
        )
        for reason, n in sorted(self.gateway.rejections.counts().items()):
            refused.add_metric([reason], n)
        yield refused
        chronicle = self.gateway.chronicle
        if chronicle is not None and isinstance(chronicle.sink, LedgerChronicleSink):
            yield CounterMetricFamily(
                "reddoor_ledger_events_appended",
                "link.query events this gateway wrote to its home's ledger",
                value=chronicle.written,
            )

    def _pads(self) -> Iterator[Metric]:
        left = GaugeMetricFamily(
            "reddoor_pad_bytes_left",
            "Pad bytes left for use per direction (as `reddoor pad status`: the journal's marks)",
            labels=["pad", "direction"],
        )
        total = GaugeMetricFamily(
            "reddoor_pad_bytes_total",
            "Usable pad bytes of the direction's region",
            labels=["pad", "direction"],
        )
        queries = GaugeMetricFamily(
            "reddoor_pad_queries_left",
            "Estimated queries the pad has left (as `reddoor pad status`)",
            labels=["pad"],
        )
        for lane in self.gateway.lanes():
            with lane.lock:  # a PadCopy is not thread-safe
                manifest, journal = lane.copy.manifest, lane.copy.journal
            st = status_of(manifest, journal)
            pad = pad_hex(lane.pad_id)
            for direction, n in st.remaining.items():
                left.add_metric([pad, direction.value], n)
                total.add_metric([pad, direction.value], st.length[direction])
            queries.add_metric([pad], st.queries_left)
        yield from (left, total, queries)

    def _counts(self) -> Iterator[Metric]:
        outcomes = CounterMetricFamily(
            "reddoor_queries",
            "Questions by outcome: answered, backend_error, refused (not answered otherwise), "
            "replayed (a retransmitted question answered again from the answer cache)",
            labels=["pad", "outcome"],
        )
        per_pad = {
            "cover-sent": CounterMetricFamily(
                "reddoor_cover_frames_sent", "Cover frames sent", labels=["pad"]
            ),
            "cover-received": CounterMetricFamily(
                "reddoor_cover_frames_received", "Cover frames received", labels=["pad"]
            ),
            "frames-resent": CounterMetricFamily(
                "reddoor_retransmissions",
                "Answer frames sent again from the answer cache",
                labels=["pad"],
            ),
        }
        for lane in self.gateway.lanes():
            counts = lane.snapshot_counts()
            pad = pad_hex(lane.pad_id)
            for outcome in OUTCOMES:
                outcomes.add_metric([pad, outcome], counts.get(query_count_key(outcome), 0))
            for key, family in per_pad.items():
                family.add_metric([pad], counts.get(key, 0))
        yield outcomes
        yield from per_pad.values()


# -- the ledger ----------------------------------------------------------------------------------
class LedgerCollector(Collector):
    """A `LedgerWatch` snapshot (custody/ledger/health.py), or a `ledger verify` just run.

    Before the first verification has finished there is no verify series at all (an alert on
    `== 0` must not fire on a gateway that is still starting)."""

    def __init__(self, snapshot: Callable[[], LedgerSnapshot]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        cp = snap.checkpoint
        if cp is not None:
            yield GaugeMetricFamily(
                "reddoor_ledger_events", "Events in the ledger", value=cp.events
            )
            yield GaugeMetricFamily(
                "reddoor_ledger_last_checkpoint_timestamp_seconds",
                "When the newest checkpoint stored in the ledger was emitted (a ledger without "
                "one: its creation)",
                value=cp.last_checkpoint,
            )
            yield GaugeMetricFamily(
                "reddoor_ledger_events_since_checkpoint",
                "Events the newest stored checkpoint does not cover",
                value=cp.since_checkpoint,
            )
        v = snap.verify
        if v is not None:
            yield GaugeMetricFamily(
                "reddoor_ledger_last_verify_success",
                "1 if the last full verification of the ledger held, 0 if it did not",
                value=1 if v.ok else 0,
            )
            yield GaugeMetricFamily(
                "reddoor_ledger_last_verify_timestamp_seconds",
                "When the last full verification of the ledger finished",
                value=v.at,
            )
            yield GaugeMetricFamily(
                "reddoor_ledger_last_verify_duration_seconds",
                "How long the last full verification took",
                value=v.seconds,
            )


def write_textfile(path: str, collectors: list[Collector]) -> None:
    """The collectors' metrics as a node_exporter textfile at `path`, replaced whole (a temporary
    file in the same directory, then a rename: the collector never reads half a file), mode 0644
    whatever the umask (node_exporter runs as its own user; the file holds no secret)."""
    registry = CollectorRegistry(auto_describe=True)
    for collector in collectors:
        registry.register(collector)
    try:
        replace_atomically(Path(path), generate_latest(registry), 0o644, exact_mode=True)
    except OSError as exc:
        raise StorageError(
            f"cannot write the metrics textfile {path}: {exc.strerror or exc}"
        ) from None


# -- the router --------------------------------------------------------------------------------
class RouterCollector(Collector):
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("reddoor_router_up", "1 while the router runs", value=1)
        n = self.transport.session_count()
        if n is not None:
            yield GaugeMetricFamily(
                "reddoor_router_sessions", "Zenoh sessions connected to this router", value=n
            )


# -- the diode bridges -------------------------------------------------------------------------
# (metric name, help, key of the bridge's status()): a counter each, labelled by direction.
SENDER_COUNTERS = (
    ("reddoor_diode_datagrams_sent", "UDP datagrams sent into the diode", "datagrams_sent"),
    ("reddoor_diode_bytes_sent", "UDP payload bytes sent into the diode", "bytes_sent"),
    ("reddoor_diode_blocks_sent", "FEC blocks sent", "blocks_sent"),
    ("reddoor_diode_dropped", "Frames dropped at the sender's full queue", "dropped"),
)
RECEIVER_COUNTERS = (
    ("reddoor_diode_datagrams_received", "UDP datagrams received", "datagrams_received"),
    ("reddoor_diode_datagrams_lost", "Datagrams missing by sequence number", "datagrams_lost"),
    ("reddoor_diode_duplicates", "Duplicate datagrams dropped", "duplicates"),
    ("reddoor_diode_junk", "Datagrams that did not parse (dropped)", "junk"),
    ("reddoor_diode_fec_repaired_blocks", "Blocks rebuilt with repair symbols", "blocks_repaired"),
    ("reddoor_diode_blocks_lost", "Blocks that could not be rebuilt", "blocks_lost"),
    ("reddoor_diode_published", "Frames published into this side's router", "published"),
)


class DiodeCollector(Collector):
    """A bridge's `status()` (custody.link.diode.sender / receiver) at each scrape."""

    def __init__(self, status: Callable[[], dict[str, Any]], *, receiver: bool) -> None:
        self.status = status
        self.receiver = receiver

    def collect(self) -> Iterator[Metric]:
        s = self.status()
        direction = str(s["direction"])
        for name, doc, key in RECEIVER_COUNTERS if self.receiver else SENDER_COUNTERS:
            counter = CounterMetricFamily(name, doc, labels=["direction"])
            counter.add_metric([direction], int(s[key]))
            yield counter
        if self.receiver:
            age = s["heard_s_ago"]
            gauge = GaugeMetricFamily(
                "reddoor_diode_heartbeat_age_seconds",
                "Seconds since the last datagram from the sender (heartbeats every second or so; "
                "+Inf before the first)",
                labels=["direction"],
            )
            gauge.add_metric([direction], math.inf if age is None else float(age))
            yield gauge
