"""The ceremony station's entropy metrics, written as a node_exporter textfile
(`reddoor ceremony run --metrics-textfile PATH`).

The station is not a service Prometheus can scrape: a ceremony is a command that runs for
minutes or hours. So it writes its figures in the Prometheus text exposition format to a file in
node_exporter's textfile directory (`--collector.textfile.directory`), and node_exporter serves
them with the host's own metrics. The file is replaced atomically (a temporary file in the same
directory, fsync, rename), so node_exporter never reads half of it; it is written when the
ceremony starts, when its sources are opened, when generation starts, at most once a second while
the pad is generated, at the end of generation and when the ceremony stops. Written by hand (the
format is a few lines of text), so the ceremony does not import prometheus_client.

What the file holds: per source, bytes read and read rate; per source and health test (SP 800-90B
RCT and APT), the highest value observed, the cutoff and an alarm counter; the pad's size,
progress and statistics (ceremony/pad_statistics.py); the time of the write. Labels are source
names (`os`, `/dev/hwrng`, `pkcs11:LABEL`) and test names. Never pad or sample bytes, never a
histogram of them, never officer names: the file is world-readable (0644) so that node_exporter,
running as its own user, can read it.

The alarm counter runs across ceremonies: at start the counts of the file already there are
carried over. Prometheus' `increase()` sees an alarm only as a rise from an earlier sample; a
counter that restarted at 0 with each ceremony would be scraped first at 1 whenever the alarm
came before the first scrape of the ceremony (a stuck source fails within milliseconds), and the
alert rule `increase(reddoor_entropy_health_alarms_total[1h]) > 0` would never fire.
docs/entropy.md ("Metrics") lists the metrics.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from ceremony.health_tests import APT_NAME, RCT_NAME, HealthMonitor, HealthTestParameters
from ceremony.mixer import GenerationState
from custody.durable_file import replace_atomically
from custody.errors import StorageError, UsageError

log = logging.getLogger(__name__)

WRITE_INTERVAL = 1.0  # seconds between writes while generating
FILE_MODE = 0o644  # node_exporter runs as its own user; the file holds no secret
MAX_PREVIOUS_BYTES = 1 << 20  # the earlier file is read for its alarm counts only
TESTS = ("rct", "apt")


class Family(NamedTuple):
    name: str
    type: str
    help: str


FAMILIES = (
    Family(
        "reddoor_entropy_source_bytes_total",
        "counter",
        "Raw bytes read from the entropy source during this ceremony's generation, start-up "
        "test samples included.",
    ),
    Family(
        "reddoor_entropy_source_rate_bytes_per_second",
        "gauge",
        "Bytes the source delivered per second spent reading it: the sources step's "
        "measurement, then over the interval since the previous write during generation.",
    ),
    Family(
        "reddoor_entropy_health_value",
        "gauge",
        "Highest value a SP 800-90B health test has seen on the raw source in this ceremony: "
        "rct, the longest run of one value; apt, the most times a 1024-sample window held its "
        "first value. The test alarms when it reaches the cutoff.",
    ),
    Family(
        "reddoor_entropy_health_cutoff",
        "gauge",
        "The health test's cutoff C: a value reaching it is an alarm.",
    ),
    Family(
        "reddoor_entropy_health_alarms_total",
        "counter",
        "Health-test alarms on the source, counted across ceremonies on this station (carried "
        "over from the previous file). Each alarm stopped its ceremony.",
    ),
    Family(
        "reddoor_entropy_pad_size_bytes",
        "gauge",
        "Size of the pad the ceremony generates.",
    ),
    Family(
        "reddoor_entropy_pad_bytes",
        "gauge",
        "Pad bytes generated so far in this ceremony (mixed, health-tested).",
    ),
    Family(
        "reddoor_entropy_pad_statistic",
        "gauge",
        "Statistics of the pad bytes generated so far (docs/entropy.md, Pad statistics): "
        "monobit_ones_fraction, monobit_z, monobit_p_value, chi_square, chi_square_p_value, "
        "mcv_min_entropy_bits_per_byte, most_common_fraction.",
    ),
    Family(
        "reddoor_ceremony_last_write_timestamp_seconds",
        "gauge",
        "Unix time at which the ceremony wrote this file.",
    ),
)
METRIC_NAMES = frozenset(f.name for f in FAMILIES)

_ALARM_LINE = re.compile(r"^reddoor_entropy_health_alarms_total\{(.*)\} (\S+)(?: \S+)?$")
_LABEL = re.compile(r'\s*(\w+)="((?:[^"\\]|\\.)*)"\s*,?')


def health_test_label(test_name: str) -> str:
    """`HealthTestFailure.test` ("start-up repetition count test", ...) → "rct" or "apt"."""
    if RCT_NAME in test_name:
        return "rct"
    if APT_NAME in test_name:
        return "apt"
    raise ValueError(f"not a health test: {test_name!r}")


def source_labels(names: Sequence[str]) -> list[str]:
    """A label per source, in order; a name given twice (practice: `--source os` twice) gets
    `#2`, `#3`, so that no two series share labels (node_exporter rejects such a file)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


def check_path(path: Path, what: str = "--metrics-textfile") -> Path:
    """Refuse a textfile path that cannot work, before the ceremony starts (UsageError naming
    `what`: the option, or the setting it came from)."""
    path = path.expanduser()
    if not path.name.endswith(".prom"):
        raise UsageError(
            f"{what} {path}: the name must end in .prom (node_exporter's textfile collector "
            "reads only *.prom files)"
        )
    if path.is_dir():
        raise UsageError(f"{what} {path} is a directory; give a file path")
    parent = path.resolve().parent
    if not parent.is_dir():
        raise UsageError(f"{what}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{what}: directory {parent} is not writable")
    return path.resolve()


def write_textfile(path: Path, text: str) -> None:
    """Replace `path` with `text`: a temporary file beside it (a dot name ending in .tmp, which
    the textfile collector ignores), written, fsynced, made 0644 and renamed over `path`."""
    try:
        replace_atomically(path, text.encode("utf-8"), FILE_MODE, exact_mode=True)
    except OSError as exc:
        raise StorageError(f"cannot write the metrics textfile {path}: {exc.strerror}") from None


def read_alarm_counts(path: Path) -> dict[tuple[str, str], int]:
    """The alarm counters of an earlier file at `path` ({} when there is none or it is not
    ours): (source, test) → count."""
    try:
        with open(path, "rb") as f:
            text = f.read(MAX_PREVIOUS_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return {}
    counts: dict[tuple[str, str], int] = {}
    for line in text.splitlines():
        m = _ALARM_LINE.match(line)
        if not m:
            continue
        labels = {k: _unescape(v) for k, v in _LABEL.findall(m.group(1))}
        try:
            value = float(m.group(2))
        except ValueError:
            continue
        ours = set(labels) == {"source", "test"} and labels["test"] in TESTS
        if ours and math.isfinite(value) and value >= 0 and value == int(value):
            counts[(labels["source"], labels["test"])] = int(value)
    return counts


class EntropyMetrics:
    """The figures of one ceremony run, rendered and written to `path`.

    The ceremony calls `started`, `sources_opened`, `observe` (as mixer.generate's observer)
    and `stopped`. A failed write is logged (once) and never stops the ceremony: losing a metric
    must not cost a pad generated for hours.
    """

    def __init__(
        self,
        path: Path,
        *,
        interval: float = WRITE_INTERVAL,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.interval = interval
        self._clock = clock
        self._monotonic = monotonic
        self._last_write: float | None = None
        self._warned = False
        self._alarms: dict[tuple[str, str], int] = {}
        self._reset(None)

    def _reset(self, pad_size: int | None) -> None:
        self._pad_size = pad_size
        self._pad_bytes: int | None = None
        self._bytes: dict[str, int] = {}
        self._rates: dict[str, float] = {}
        self._values: dict[tuple[str, str], int] = {}
        self._cutoffs: dict[tuple[str, str], int] = {}
        self._statistics: dict[str, float] = {}
        self._state: GenerationState | None = None
        self._read: dict[str, tuple[int, float]] = {}  # at the previous write: bytes, seconds
        self._alarmed: set[str] = set()

    # -- what the ceremony calls ----------------------------------------------------------------
    def started(self, pad_size: int) -> None:
        """A ceremony run starts: carry the earlier file's alarm counts over, write."""
        for key, count in read_alarm_counts(self.path).items():
            self._alarms[key] = max(self._alarms.get(key, 0), count)
        self._reset(pad_size)
        self.write()

    def sources_opened(self, names: Sequence[str], rates: Sequence[float]) -> None:
        """The sources are open and measured: every source's series exist (alarms at their
        count, 0 for a new source) before any health test runs on it."""
        parameters = HealthTestParameters()
        for label, rate in zip(source_labels(names), rates, strict=True):
            self._bytes.setdefault(label, 0)
            self._rates[label] = rate
            self._track(label, parameters.rct_cutoff, parameters.apt_cutoff)
        self.write()

    def observe(self, state: GenerationState, final: bool) -> None:
        """mixer.generate's observer: record, and write at most once per `interval`; always on
        its first call (before any sample is read: the sources' counters are then in the file
        even when `sources_opened` was not called, as on a resume past the sources step) and
        when `final`. Counts an alarm once, when the failed monitor is first seen."""
        first = state is not self._state
        if first:
            self._state = state
            self._read = {}
            self._alarmed = set()
        labels = source_labels([r.name for r in state.readings])
        for label, reading in zip(labels, state.readings, strict=True):
            failure = reading.monitor.failure
            if failure is not None and label not in self._alarmed:
                self._alarmed.add(label)
                key = (label, health_test_label(failure.test))
                self._alarms[key] = self._alarms.get(key, 0) + 1
        if first or final or self._due():
            self._record(state, labels)
            self.write()

    def stopped(self) -> None:
        """The ceremony run ended (closed, failed or interrupted): the last write."""
        self.write()

    # -- figures --------------------------------------------------------------------------------
    def _track(self, label: str, rct_cutoff: int, apt_cutoff: int) -> None:
        for test, cutoff in (("rct", rct_cutoff), ("apt", apt_cutoff)):
            self._cutoffs[(label, test)] = cutoff
            self._values.setdefault((label, test), 0)
            self._alarms.setdefault((label, test), 0)

    def _due(self) -> bool:
        return self._last_write is None or self._monotonic() - self._last_write >= self.interval

    def _record(self, state: GenerationState, labels: Sequence[str]) -> None:
        self._pad_size = state.size
        self._pad_bytes = state.done
        for label, r in zip(labels, state.readings, strict=True):
            monitor: HealthMonitor = r.monitor
            self._track(label, monitor.rct_cutoff, monitor.apt_cutoff)
            self._values[(label, "rct")] = monitor.longest_run
            self._values[(label, "apt")] = monitor.highest_apt_count
            self._bytes[label] = r.bytes_read
            before_bytes, before_seconds = self._read.get(label, (0, 0.0))
            seconds = r.read_seconds - before_seconds
            if seconds > 0:
                self._rates[label] = (r.bytes_read - before_bytes) / seconds
            self._read[label] = (r.bytes_read, r.read_seconds)
        if state.statistics is not None:
            self._statistics = _pad_statistics(state.statistics.result())

    # -- the file -------------------------------------------------------------------------------
    def render(self, now: float | None = None) -> str:
        """The exposition text: every family with HELP and TYPE, samples in a stable order."""
        samples: dict[str, list[tuple[dict[str, str], int | float]]] = {
            f.name: [] for f in FAMILIES
        }
        by_source = samples["reddoor_entropy_source_bytes_total"]
        for label, n in sorted(self._bytes.items()):
            by_source.append(({"source": label}, n))
        for label, rate in sorted(self._rates.items()):
            samples["reddoor_entropy_source_rate_bytes_per_second"].append(
                ({"source": label}, rate)
            )
        for name, table in (
            ("reddoor_entropy_health_value", self._values),
            ("reddoor_entropy_health_cutoff", self._cutoffs),
            ("reddoor_entropy_health_alarms_total", self._alarms),
        ):
            for (label, test), count in sorted(table.items()):
                samples[name].append(({"source": label, "test": test}, count))
        if self._pad_size is not None:
            samples["reddoor_entropy_pad_size_bytes"].append(({}, self._pad_size))
        if self._pad_bytes is not None:
            samples["reddoor_entropy_pad_bytes"].append(({}, self._pad_bytes))
        for stat, value in sorted(self._statistics.items()):
            samples["reddoor_entropy_pad_statistic"].append(({"statistic": stat}, value))
        samples["reddoor_ceremony_last_write_timestamp_seconds"].append(
            ({}, self._clock() if now is None else now)
        )
        lines = []
        for f in FAMILIES:
            lines += [f"# HELP {f.name} {f.help}", f"# TYPE {f.name} {f.type}"]
            lines += [f"{f.name}{_labels(lab)} {_number(v)}" for lab, v in samples[f.name]]
        return "\n".join(lines) + "\n"

    def write(self) -> None:
        self._last_write = self._monotonic()
        try:
            write_textfile(self.path, self.render())
        except StorageError as exc:
            if not self._warned:
                self._warned = True
                log.warning("%s; the ceremony continues without its metrics file", exc.message)


def _pad_statistics(result: dict[str, object]) -> dict[str, float]:
    """The gauges of a `PadStatistics.result()`; chi-square only where it is valid."""
    out: dict[str, float] = {}
    mono = result.get("monobit")
    if isinstance(mono, dict):
        out["monobit_ones_fraction"] = float(mono["ones_fraction"])
        out["monobit_z"] = float(mono["z"])
        out["monobit_p_value"] = float(mono["p_value"])
    chi = result.get("byte_chi_square")
    if isinstance(chi, dict) and chi.get("valid"):
        out["chi_square"] = float(chi["statistic"])
        out["chi_square_p_value"] = float(chi["p_value"])
    mcv = result.get("mcv_min_entropy")
    if isinstance(mcv, dict):
        out["mcv_min_entropy_bits_per_byte"] = float(mcv["bits_per_byte"])
        out["most_common_fraction"] = float(mcv["most_common_fraction"])
    return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _number(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))
