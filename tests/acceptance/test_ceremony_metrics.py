"""`reddoor ceremony run --metrics-textfile PATH`: whole practice ceremonies through the CLI
(SoftHSM2, a directory "USB"), their node_exporter textfile parsed with prometheus_client, and
once served by a real node_exporter (Debian `prometheus-node-exporter`, which `make test`
installs as root)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ceremony.entropy_metrics import METRIC_NAMES
from ceremony.health_tests import STARTUP_SAMPLES
from custody.pad.store import PAD_NAME
from tests.ceremony.test_ceremony_support import (
    PASS_A,
    PASS_B,
    killed,
    make_facility,
    nothing_left,
    one_line,
    run_ceremony,
    run_cli,
)
from tests.custody.link.diode_site import wait_until
from tests.custody.link.fixtures import free_endpoint

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]
NODE_EXPORTER = "prometheus-node-exporter"  # Debian's name for node_exporter


def parse_text(text: str) -> Series:
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def parse(path: Path) -> Series:
    return parse_text(path.read_text())


def node_exporter_scrape(directory: Path) -> str:
    """Serve `directory` with node_exporter's textfile collector alone, on a free loopback
    port, and return one scrape of /metrics."""
    binary = shutil.which(NODE_EXPORTER) or shutil.which("node_exporter")
    if binary is None:
        if os.geteuid() != 0:
            pytest.skip(f"{NODE_EXPORTER} not installed (`make test` installs it as root)")
        pytest.fail(f"{NODE_EXPORTER} not installed: run `make test-packages` as root")
    address = free_endpoint().removeprefix("tcp/")
    proc = subprocess.Popen(
        [
            binary,
            "--collector.disable-defaults",
            "--collector.textfile",
            f"--collector.textfile.directory={directory}",
            f"--web.listen-address={address}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body: list[str] = []

        def scraped() -> bool:
            try:
                with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as r:
                    body.append(r.read().decode())
                    return True
            except OSError:
                assert proc.poll() is None, "node_exporter exited"
                return False

        wait_until(scraped)
        return body[0]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def value(series: Series, name: str, **labels: str) -> float:
    return series[(name, frozenset(labels.items()))]


def alarms(series: Series) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["source"], dict(labels)["test"]): v
        for (name, labels), v in series.items()
        if name == "reddoor_entropy_health_alarms_total"
    }


def textfile_dir(tmp_path: Path) -> Path:
    d = tmp_path / "textfile"  # node_exporter --collector.textfile.directory
    d.mkdir()
    return d


def only_the_textfile(d: Path, path: Path) -> None:
    """The directory holds the .prom file and nothing else: no temporary file left over."""
    assert sorted(p.name for p in d.iterdir()) == [path.name]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_practice_ceremony_writes_its_entropy_metrics(tmp_path):
    f = make_facility(tmp_path)
    d = textfile_dir(tmp_path)
    prom = d / "reddoor-entropy.prom"
    proc = run_ceremony(f, "--metrics-textfile", str(prom), size="2M", sources=("os", "pkcs11"))
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout)
    series = parse(prom)
    assert {name for name, _ in series} == set(METRIC_NAMES)
    size = out["size"]
    assert size == 2 << 20
    assert value(series, "reddoor_entropy_pad_size_bytes") == size
    assert value(series, "reddoor_entropy_pad_bytes") == size
    token_source = next(
        dict(labels)["source"]
        for (name, labels), _ in series.items()
        if name == "reddoor_entropy_source_bytes_total" and dict(labels)["source"] != "os"
    )
    assert token_source.startswith("pkcs11:")
    for source in ("os", token_source):
        read = value(series, "reddoor_entropy_source_bytes_total", source=source)
        assert read == size + STARTUP_SAMPLES  # every pad byte, plus the start-up samples
        assert value(series, "reddoor_entropy_source_rate_bytes_per_second", source=source) > 0
        for test in ("rct", "apt"):
            cutoff = value(series, "reddoor_entropy_health_cutoff", source=source, test=test)
            highest = value(series, "reddoor_entropy_health_value", source=source, test=test)
            assert 0 < highest < cutoff
        assert alarms(series)[(source, "rct")] == alarms(series)[(source, "apt")] == 0
    # the statistics are those of the whole pad, as the ledger recorded them
    chi = value(series, "reddoor_entropy_pad_statistic", statistic="chi_square")
    assert abs(chi - ledger_chi_square(f)) <= 1e-4 * chi
    only_the_textfile(d, prom)
    # never a pad byte, never an officer name or passphrase
    raw = prom.read_bytes()
    assert raw.isascii()
    pad = (f.usb / PAD_NAME).read_bytes()
    for i in range(0, len(pad) - 16, 65_537):
        assert pad[i : i + 16] not in raw
        assert pad[i : i + 8].hex().encode() not in raw.lower()
    for secret in (b"alice", b"bob", PASS_A.encode(), PASS_B.encode()):
        assert secret not in raw


def ledger_chi_square(f) -> float:
    """The byte chi-square statistic the ledger recorded for the pad (pad.generated)."""
    log = run_cli("ledger", "log", "--json", env=f.env()).stdout.decode().splitlines()
    event = next(json.loads(line) for line in log if json.loads(line)["type"] == "pad.generated")
    return float(event["payload"]["statistics"]["byte_chi_square"]["statistic"])


def test_a_stuck_source_leaves_one_alarm_in_the_file(tmp_path):
    f = make_facility(tmp_path)
    d = textfile_dir(tmp_path)
    prom = d / "reddoor-entropy.prom"
    proc = run_ceremony(f, "--metrics-textfile", str(prom), sources=("os", "test:stuck"))
    assert proc.returncode == 33, proc.stderr.decode()
    assert "health test failed" in one_line(proc)
    nothing_left(f)
    series = parse(prom)
    assert alarms(series) == {
        ("os", "rct"): 0,
        ("os", "apt"): 0,
        ("test-stuck", "rct"): 1,
        ("test-stuck", "apt"): 0,
    }
    assert value(series, "reddoor_entropy_health_value", source="test-stuck", test="rct") >= 6
    assert value(series, "reddoor_entropy_pad_bytes") == 0
    only_the_textfile(d, prom)
    # node_exporter reads the file without error and serves every series of it
    served = parse_text(node_exporter_scrape(d))
    assert value(served, "node_textfile_scrape_error") == 0
    assert {k: v for k, v in served.items() if k[0].startswith("reddoor_")} == series


def test_counter_is_zero_before_the_alarm_and_carries_across_ceremonies(tmp_path):
    """Killed at the start of generation, the file already holds the stuck source's counter at
    0 (what Prometheus must scrape before the alarm for `increase()` to see it); the resumed
    ceremony raises it to 1; the next ceremony's alarm to 2."""
    f = make_facility(tmp_path)
    d = textfile_dir(tmp_path)
    prom = d / "reddoor-entropy.prom"
    proc = run_ceremony(
        f,
        "--metrics-textfile",
        str(prom),
        sources=("test:stuck",),
        env={"REDDOOR_CEREMONY_KILL": "generate:start"},
    )
    assert killed(proc), proc.stderr.decode()
    series = parse(prom)
    assert alarms(series) == {("test-stuck", "rct"): 0, ("test-stuck", "apt"): 0}
    assert value(series, "reddoor_entropy_health_cutoff", source="test-stuck", test="rct") == 6
    assert value(series, "reddoor_entropy_source_rate_bytes_per_second", source="test-stuck") > 0

    proc = run_cli(
        "ceremony",
        "resume",
        *f.officer_args(),
        "--bag-serial",
        "RD-000123",
        "--metrics-textfile",
        str(prom),
        env=f.env(),
    )
    assert proc.returncode == 33, proc.stderr.decode()
    assert alarms(parse(prom))[("test-stuck", "rct")] == 1

    proc = run_ceremony(f, "--metrics-textfile", str(prom), sources=("test:stuck",))
    assert proc.returncode == 33, proc.stderr.decode()
    assert alarms(parse(prom)) == {("test-stuck", "rct"): 2, ("test-stuck", "apt"): 0}
    only_the_textfile(d, prom)


def test_a_textfile_path_that_cannot_work_is_refused_before_anything_starts(tmp_path):
    f = make_facility(tmp_path)
    for path, message in (
        (tmp_path / "missing" / "reddoor.prom", "does not exist"),
        (tmp_path / "reddoor.txt", "must end in .prom"),
    ):
        proc = run_ceremony(f, "--metrics-textfile", str(path))
        assert proc.returncode == 2, proc.stderr.decode()
        assert message in one_line(proc)
    status = json.loads(run_cli("ceremony", "status", "--json", env=f.env()).stdout)
    assert status["ceremony_id"] is None  # no ceremony was begun
