"""The entropy metrics textfile (ceremony/entropy_metrics.py): what mixer.generate's observer
records, the exposition text as prometheus_client parses it, the atomic 0644 write, the alarm
counts carried over from the earlier file, and the write throttle (with a clock the test moves).

Whole ceremonies through the CLI with --metrics-textfile: tests/acceptance/test_ceremony_metrics.py.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ceremony import entropy_metrics
from ceremony.entropy_doubles import ReplaySource, StuckSource, seeded_bytes
from ceremony.entropy_metrics import EntropyMetrics, read_alarm_counts, source_labels
from ceremony.entropy_sources import OsSource
from ceremony.errors import HealthTestFailure
from ceremony.health_tests import STARTUP_SAMPLES
from ceremony.mixer import generate
from custody.errors import StorageError, UsageError

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Series:
    """Every sample of an exposition text: (sample name, labels) → value."""
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, f"duplicate series {key}"
            out[key] = s.value
    return out


def value(series: Series, name: str, **labels: str) -> float:
    return series[(name, frozenset(labels.items()))]


def names(series: Series) -> set[str]:
    return {name for name, _ in series}


class Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    def __call__(self, chunk: memoryview) -> None:
        self.data += chunk


def ceremony_like(metrics: EntropyMetrics, sources, size: int, sink=None) -> None:
    """What a ceremony run does with its metrics: start, open the sources, generate, stop."""
    metrics.started(size)
    metrics.sources_opened([s.name for s in sources], [1000.0] * len(sources))
    try:
        generate(sources, size, sink or Sink(), practice=True, observe=metrics.observe)
    finally:
        metrics.stopped()


def test_healthy_generation_is_counted_exactly(tmp_path: Path):
    path = tmp_path / "reddoor-entropy.prom"
    size = 300_000
    sink = Sink()
    pad_source = ReplaySource(seeded_bytes(7), name="replay")
    ceremony_like(EntropyMetrics(path), [pad_source, OsSource()], size, sink)
    text = path.read_text()
    series = parse(text)
    assert names(series) == set(entropy_metrics.METRIC_NAMES)  # every family has samples
    for source in ("replay", "os"):
        assert value(series, "reddoor_entropy_source_bytes_total", source=source) == (
            size + STARTUP_SAMPLES
        )
        assert value(series, "reddoor_entropy_source_rate_bytes_per_second", source=source) > 0
        for test, cutoff in (("rct", 6), ("apt", 26)):
            got = value(series, "reddoor_entropy_health_value", source=source, test=test)
            assert 1 <= got < cutoff
            assert value(series, "reddoor_entropy_health_cutoff", source=source, test=test) == (
                cutoff
            )
            assert value(
                series, "reddoor_entropy_health_alarms_total", source=source, test=test
            ) == (0)
    assert value(series, "reddoor_entropy_pad_size_bytes") == size
    assert value(series, "reddoor_entropy_pad_bytes") == size
    stats = {
        dict(labels)["statistic"]: v
        for (name, labels), v in series.items()
        if name == "reddoor_entropy_pad_statistic"
    }
    assert set(stats) == {
        "monobit_ones_fraction",
        "monobit_z",
        "monobit_p_value",
        "chi_square",
        "chi_square_p_value",
        "mcv_min_entropy_bits_per_byte",
        "most_common_fraction",
    }
    assert 0.49 < stats["monobit_ones_fraction"] < 0.51
    assert 7 < stats["mcv_min_entropy_bits_per_byte"] <= 8
    # HELP and TYPE for every family, and not one pad byte, in bytes or in hex
    for f in entropy_metrics.FAMILIES:
        assert f"# TYPE {f.name} {f.type}\n" in text
        assert f"# HELP {f.name} " in text
    pad = bytes(sink.data)
    assert len(pad) == size
    raw = path.read_bytes()
    assert raw.isascii()
    for i in range(0, size - 8, 4099):
        assert pad[i : i + 8] not in raw
        assert pad[i : i + 8].hex().encode() not in raw.lower()


def test_a_stuck_source_counts_one_alarm_and_its_healthy_partner_none(tmp_path: Path):
    path = tmp_path / "reddoor-entropy.prom"
    with pytest.raises(HealthTestFailure):
        ceremony_like(EntropyMetrics(path), [OsSource(), StuckSource(0x5A)], 100_000)
    series = parse(path.read_text())
    alarms = {
        tuple(sorted(dict(labels).items())): v
        for (name, labels), v in series.items()
        if name == "reddoor_entropy_health_alarms_total"
    }
    assert alarms == {
        (("source", "os"), ("test", "apt")): 0,
        (("source", "os"), ("test", "rct")): 0,
        (("source", "stuck"), ("test", "apt")): 0,
        (("source", "stuck"), ("test", "rct")): 1,  # RCT fires first, at sample 5
    }
    # the stuck source's highest RCT value reached the cutoff; nothing was generated
    assert value(series, "reddoor_entropy_health_value", source="stuck", test="rct") >= 6
    assert value(series, "reddoor_entropy_pad_bytes") == 0


def test_alarm_counts_carry_over_to_the_next_ceremony(tmp_path: Path):
    """Each ceremony starts its file with the earlier file's counts, so Prometheus sees a rise
    (N to N+1), however soon the alarm comes."""
    path = tmp_path / "reddoor-entropy.prom"
    for expected in (1, 2):
        with pytest.raises(HealthTestFailure):
            ceremony_like(EntropyMetrics(path), [StuckSource(0x00)], 10_000)
        key = ("reddoor_entropy_health_alarms_total", "stuck", "rct")
        assert value(parse(path.read_text()), key[0], source=key[1], test=key[2]) == expected
    # a healthy ceremony with another source: the earlier series stay, with their counts
    metrics = EntropyMetrics(path)
    metrics.started(10_000)
    series = parse(path.read_text())
    assert value(series, "reddoor_entropy_health_alarms_total", source="stuck", test="rct") == 2
    assert value(series, "reddoor_entropy_health_alarms_total", source="stuck", test="apt") == 0
    assert ("reddoor_entropy_source_bytes_total", frozenset({("source", "stuck")})) not in series
    metrics.sources_opened(["os"], [5.0])
    series = parse(path.read_text())
    assert value(series, "reddoor_entropy_health_alarms_total", source="os", test="rct") == 0


def test_read_alarm_counts_takes_only_its_own_well_formed_lines(tmp_path: Path):
    path = tmp_path / "x.prom"
    assert read_alarm_counts(path) == {}  # no file yet
    path.write_text(
        "# TYPE reddoor_entropy_health_alarms_total counter\n"
        'reddoor_entropy_health_alarms_total{source="/dev/hwrng",test="rct"} 3\n'
        'reddoor_entropy_health_alarms_total{source="a\\"b\\\\c",test="apt"} 1 1700000000000\n'
        'reddoor_entropy_health_alarms_total{source="x",test="other"} 5\n'
        'reddoor_entropy_health_alarms_total{source="y",test="rct",extra="1"} 5\n'
        'reddoor_entropy_health_alarms_total{source="z",test="rct"} 1.5\n'
        'reddoor_entropy_health_alarms_total{source="w",test="rct"} NaN\n'
        'reddoor_entropy_health_alarms_total{source="v",test="rct"} -1\n'
        'reddoor_entropy_source_bytes_total{source="os"} 9\n'
        "garbage \xff\n"
    )
    assert read_alarm_counts(path) == {("/dev/hwrng", "rct"): 3, ('a"b\\c', "apt"): 1}


def test_label_values_are_escaped_and_parse_back(tmp_path: Path):
    path = tmp_path / "reddoor-entropy.prom"
    odd = 'fifo "one"\\two\nthree'
    metrics = EntropyMetrics(path)
    metrics.started(4096)
    metrics.sources_opened([odd, "os", "os"], [1.0, 2.0, 3.0])
    series = parse(path.read_text())
    assert value(series, "reddoor_entropy_source_rate_bytes_per_second", source=odd) == 1.0
    assert value(series, "reddoor_entropy_source_rate_bytes_per_second", source="os#2") == 3.0
    # and the escaped label reads back for the next ceremony's carry-over
    assert (odd, "rct") in read_alarm_counts(path)


def test_source_labels_tell_repeated_names_apart():
    assert source_labels(["os", "/dev/hwrng", "os", "os"]) == ["os", "/dev/hwrng", "os#2", "os#3"]


def test_writes_are_throttled_but_the_last_one_always_happens(tmp_path: Path, monkeypatch):
    path = tmp_path / "reddoor-entropy.prom"
    now = [100.0]
    written: list[str] = []
    real = entropy_metrics.write_textfile

    def counting(p: Path, text: str) -> None:
        written.append(text)
        real(p, text)

    monkeypatch.setattr(entropy_metrics, "write_textfile", counting)
    metrics = EntropyMetrics(path, interval=1.0, monotonic=lambda: now[0])
    metrics.started(1 << 20)
    assert len(written) == 1

    # A generation whose rounds all fall within the same second: the first call (before any
    # sample is read: every counter in the file, though sources_opened was skipped, as on a
    # resume past the sources step) and the final one write; none between.
    generate([OsSource()], 1 << 20, Sink(), practice=True, observe=metrics.observe)
    assert len(written) == 3
    first = parse(written[1])
    assert value(first, "reddoor_entropy_health_alarms_total", source="os", test="rct") == 0
    assert value(first, "reddoor_entropy_health_cutoff", source="os", test="apt") == 26
    assert value(first, "reddoor_entropy_source_bytes_total", source="os") == 0
    assert value(first, "reddoor_entropy_pad_bytes") == 0
    assert value(parse(written[-1]), "reddoor_entropy_pad_bytes") == 1 << 20

    # The clock moves one interval per round: every round writes.
    rounds = [0]

    def ticking(state, final):
        rounds[0] += 1
        now[0] += 1.0
        metrics.observe(state, final)

    before = len(written)
    generate([OsSource()], 1 << 20, Sink(), practice=True, observe=ticking)
    assert len(written) - before == rounds[0] >= 3  # the first call, every round, the final
    pad_bytes = [value(parse(t), "reddoor_entropy_pad_bytes") for t in written[before:]]
    assert pad_bytes == sorted(pad_bytes) and pad_bytes[-1] == 1 << 20


def test_the_file_is_replaced_atomically_0644_and_leaves_no_temporary_file(tmp_path: Path):
    path = tmp_path / "reddoor-entropy.prom"
    old = os.umask(0o077)  # as the reddoor command runs
    try:
        entropy_metrics.write_textfile(path, "a 1\n")
        with open(path) as reader:  # a reader in the middle of node_exporter's scrape
            entropy_metrics.write_textfile(path, "b 2\n")
            assert reader.read() == "a 1\n"  # the old file whole: a new inode was renamed in
    finally:
        os.umask(old)
    assert path.read_text() == "b 2\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_a_failed_write_raises_storage_error_and_leaves_nothing(tmp_path: Path, monkeypatch):
    path = tmp_path / "reddoor-entropy.prom"

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(entropy_metrics.os, "fsync", full)
    with pytest.raises(StorageError, match="No space left"):
        entropy_metrics.write_textfile(path, "a 1\n")
    assert list(tmp_path.iterdir()) == []


def test_metrics_that_cannot_be_written_warn_once_and_never_stop_the_ceremony(
    tmp_path: Path, caplog
):
    path = tmp_path / "gone" / "reddoor-entropy.prom"  # the directory disappeared
    metrics = EntropyMetrics(path)
    with caplog.at_level(logging.WARNING, logger="ceremony.entropy_metrics"):
        ceremony_like(metrics, [OsSource()], 100_000)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cannot write the metrics textfile" in warnings[0].getMessage()
    assert not path.parent.exists()


@pytest.mark.parametrize(
    "name,message",
    [
        ("metrics.txt", "must end in .prom"),
        ("missing/reddoor.prom", "does not exist"),
        ("adir.prom", "is a directory"),
    ],
)
def test_check_path_refuses_paths_that_cannot_work(tmp_path: Path, name: str, message: str):
    (tmp_path / "adir.prom").mkdir()
    with pytest.raises(UsageError, match=message):
        entropy_metrics.check_path(tmp_path / name)
    assert entropy_metrics.check_path(tmp_path / "ok.prom") == (tmp_path / "ok.prom").resolve()
