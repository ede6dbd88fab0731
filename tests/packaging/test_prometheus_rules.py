"""The alert rules and the Grafana dashboard in packaging/ (issue 15, "Alerts and dashboard").

promtool (Debian package `prometheus`, which `make test` installs as root) checks the rules and
runs their unit tests; this file checks what promtool cannot: that every alert is tested both
firing and not firing, that the rules and the dashboard name only the metrics the gateway, router,
bridges and ceremony station export (the station's as read back from a textfile it writes), that
the dashboard's queries parse (promtool again, as recording rules), and that docs/operations.md
explains every alert.

There is no YAML parser in the project's dependencies, so the two YAML files are read line by line;
the parsers are strict about the layout they expect and are tied to promtool's own count of rules.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ceremony.entropy_metrics import EntropyMetrics
from ceremony.entropy_sources import OsSource
from ceremony.mixer import generate
from tests.conftest import REPO

RULES_DIR = REPO / "packaging" / "prometheus"
RULES = RULES_DIR / "reddoor-alerts.yml"
RULE_TESTS = RULES_DIR / "reddoor-alerts.test.yml"
DASHBOARD = REPO / "packaging" / "grafana" / "reddoor-dashboard.json"
OPERATIONS = REPO / "docs" / "operations.md"


def textfile_metrics() -> frozenset[str]:
    """The names in a real node_exporter textfile of the ceremony station: `EntropyMetrics`
    (what `ceremony run --metrics-textfile` writes) observing a real generation from the OS
    CSPRNG, the file read back with prometheus_client's parser. Sample names, so counters keep
    their `_total` as PromQL sees them."""
    with tempfile.TemporaryDirectory() as d:
        metrics = EntropyMetrics(Path(d) / "reddoor-entropy.prom")
        metrics.started(1 << 16)
        metrics.sources_opened(["os"], [1.0])
        generate([OsSource()], 1 << 16, lambda _: None, practice=True, observe=metrics.observe)
        metrics.stopped()
        text = metrics.path.read_text()
    return frozenset(s.name for f in text_string_to_metric_families(text) for s in f.samples)


# The metric-name contract of issue 15 (the metrics helper's spec, docs/operations.md "Metrics"
# once merged). Kept here so a renamed metric breaks this test rather than silently emptying an
# alert: an alert on a metric nobody exports never fires. Histograms are named by their base name.
# The ceremony station's names are not listed: they are read back from a textfile it writes.
SERVED_METRICS = frozenset(
    {
        # gateway
        "reddoor_pad_bytes_left",
        "reddoor_pad_bytes_total",
        "reddoor_pad_queries_left",
        "reddoor_queries_total",
        "reddoor_answer_latency_seconds",
        "reddoor_backend_latency_seconds",
        "reddoor_backend_errors_total",
        "reddoor_frames_refused_total",
        "reddoor_cover_frames_sent_total",
        "reddoor_cover_frames_received_total",
        "reddoor_retransmissions_total",
        "reddoor_ledger_events_appended_total",
        "reddoor_ledger_last_checkpoint_timestamp_seconds",
        "reddoor_ledger_last_verify_success",
        "reddoor_ledger_last_verify_timestamp_seconds",
        "reddoor_ledger_last_verify_duration_seconds",
        "reddoor_ledger_events_since_checkpoint",
        "reddoor_ledger_events",
        "reddoor_gateway_up",
        # router
        "reddoor_router_up",
        "reddoor_router_sessions",
        # diode bridges
        "reddoor_diode_datagrams_sent_total",
        "reddoor_diode_bytes_sent_total",
        "reddoor_diode_blocks_sent_total",
        "reddoor_diode_dropped_total",
        "reddoor_diode_datagrams_received_total",
        "reddoor_diode_datagrams_lost_total",
        "reddoor_diode_duplicates_total",
        "reddoor_diode_junk_total",
        "reddoor_diode_fec_repaired_blocks_total",
        "reddoor_diode_blocks_lost_total",
        "reddoor_diode_published_total",
        "reddoor_diode_heartbeat_age_seconds",
        # Prometheus' own scrape result
        "up",
    }
)
SPEC_METRICS = SERVED_METRICS | textfile_metrics()
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Every identifier an expression may hold besides metric names: functions, aggregations,
# operators. Label names are removed with the {...} and by/without (...) they sit in.
PROMQL_WORDS = frozenset(
    {
        "sum",
        "max",
        "min",
        "avg",
        "count",
        "rate",
        "increase",
        "absent",
        "time",
        "predict_linear",
        "histogram_quantile",
        "and",
        "or",
        "unless",
        "on",
        "ignoring",
        "bool",
        "offset",
    }
)


# -- reading the files ---------------------------------------------------------------------------
def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def alert_exprs(text: str) -> dict[str, str]:
    """Alert name -> its expression, from a rules file laid out as packaging/prometheus/ has it:
    `- alert: NAME`, then `expr: ONE LINE` or `expr: |` with the lines indented below it."""
    lines = text.splitlines()
    found: dict[str, str] = {}
    for i, line in enumerate(lines):
        m = re.fullmatch(r"\s*- alert: (\w+)\s*", line)
        if not m:
            continue
        j = next(k for k in range(i + 1, len(lines)) if re.match(r"\s*expr:", lines[k]))
        key, _, value = lines[j].partition("expr:")
        value = value.strip()
        if value in ("|", "|-", ">", ">-"):
            body = []
            for nxt in lines[j + 1 :]:
                if nxt.strip() and _indent(nxt) <= len(key):
                    break
                body.append(nxt.strip())
            value = " ".join(b for b in body if b)
        assert m.group(1) not in found, f"alert {m.group(1)} defined twice"
        found[m.group(1)] = value
    return found


class Case(NamedTuple):
    alert: str
    fires: bool
    series: frozenset[str]  # the metric names of the case's input series


def rule_test_cases(text: str) -> list[Case]:
    """Every `alert_rule_test` entry of a promtool test file. The file's convention: a case that
    must not fire says `exp_alerts: []`; one that must fire lists them."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    cases: list[Case] = []
    name: str | None = None
    series: set[str] = set()
    for i, line in enumerate(lines):
        if re.fullmatch(r"  - interval: \w+\s*", line):  # a new group of input series
            series = set()
        elif m := re.fullmatch(r"\s*- series: '([a-zA-Z_:][a-zA-Z0-9_:]*)\{.*'\s*", line):
            series.add(m.group(1))
        elif m := re.fullmatch(r"\s*alertname: (\w+)\s*", line):
            assert name is None, f"alertname {name} has no exp_alerts line"
            name = m.group(1)
        elif m := re.fullmatch(r"\s*exp_alerts:\s*(\[\])?\s*", line):
            assert name is not None, f"exp_alerts without alertname: {line!r}"
            fires = m.group(1) is None
            if fires:
                assert lines[i + 1].strip().startswith("- exp_labels:"), lines[i + 1]
            cases.append(Case(name, fires, frozenset(series)))
            name = None
    assert name is None, f"alertname {name} has no exp_alerts line"
    assert len(cases) == sum("eval_time:" in ln for ln in lines)
    assert len(cases) == sum(re.fullmatch(r"\s*alertname: \w+\s*", ln) is not None for ln in lines)
    assert sum("- series:" in ln for ln in lines) == sum(
        re.fullmatch(r"\s*- series: '[a-zA-Z_:][a-zA-Z0-9_:]*\{.*'\s*", ln) is not None
        for ln in lines
    ), "every input series is written as 'name{labels}' on one line"
    return cases


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (histogram series by their base name)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # label lists
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    words = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", expr)) - PROMQL_WORDS
    return {_base(w) for w in words}


def _base(name: str) -> str:
    for suffix in HISTOGRAM_SUFFIXES:
        stem = name.removesuffix(suffix)
        if stem != name and stem in SPEC_METRICS:
            return stem
    return name


def test_metric_names_finds_names_and_skips_the_rest() -> None:
    expr = (
        'sum without (reason) (rate(reddoor_frames_refused_total{reason!="replay"}[5m])) > 0.1 '
        "or histogram_quantile(0.99, sum by (le) (rate(reddoor_answer_latency_seconds_bucket[5m])))"
        ' and on (instance) up{job="x"} == 0 or reddoor_not_a_metric_total'
    )
    assert metric_names(expr) == {
        "reddoor_frames_refused_total",
        "reddoor_answer_latency_seconds",
        "up",
        "reddoor_not_a_metric_total",
    }


# -- promtool ------------------------------------------------------------------------------------
def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.geteuid() != 0:
            pytest.skip(
                "promtool not installed (Debian package prometheus; `make test` installs it "
                "when run as root)"
            )
        pytest.fail("promtool not installed: run `make test-packages` as root (package prometheus)")
    return found


def _run(*args: str, cwd: Path = RULES_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


def test_promtool_check_rules_passes_and_counts_every_alert() -> None:
    out = _run("check", "rules", RULES.name)
    assert out.returncode == 0, out.stdout + out.stderr
    m = re.search(r"SUCCESS: (\d+) rules found", out.stdout)
    assert m, out.stdout
    # Every rule is an alert, and the line parser above saw each one.
    assert int(m.group(1)) == len(alert_exprs(RULES.read_text()))


def test_promtool_unit_tests_pass() -> None:
    out = _run("test", "rules", RULE_TESTS.name)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """The unit tests bite: with RedDoorPadCritical's threshold moved, its cases fail."""
    rules = RULES.read_text()
    moved = rules.replace(
        "expr: reddoor_pad_bytes_left / reddoor_pad_bytes_total < 0.01",
        "expr: reddoor_pad_bytes_left / reddoor_pad_bytes_total < 0.001",
    )
    assert moved != rules
    (tmp_path / RULES.name).write_text(moved)
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    out = _run("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert out.returncode != 0
    assert "RedDoorPadCritical" in out.stdout + out.stderr


# -- the rules, read -----------------------------------------------------------------------------
def test_every_alert_is_tested_firing_and_not_firing() -> None:
    alerts = set(alert_exprs(RULES.read_text()))
    cases = rule_test_cases(RULE_TESTS.read_text())
    assert {c.alert for c in cases} <= alerts, "a test names an alert the rules lack"
    untested = {
        name: [
            what
            for what, fires in (("firing", True), ("not firing", False))
            if not any(c.alert == name and c.fires == fires for c in cases)
        ]
        for name in alerts
    }
    assert {k: v for k, v in untested.items() if v} == {}


def test_no_case_is_quiet_for_want_of_data() -> None:
    """A case that must not fire is fed every metric its alert reads: otherwise it would pass
    because the series are missing, not because the condition is false."""
    exprs = alert_exprs(RULES.read_text())
    starved = [
        (c.alert, sorted(metric_names(exprs[c.alert]) - c.series))
        for c in rule_test_cases(RULE_TESTS.read_text())
        if not c.fires and metric_names(exprs[c.alert]) - c.series
    ]
    assert starved == []


def test_rules_use_only_the_spec_metric_names() -> None:
    exprs = alert_exprs(RULES.read_text())
    assert len(exprs) >= 10
    unknown = {name: metric_names(e) - SPEC_METRICS for name, e in exprs.items()}
    assert {k: v for k, v in unknown.items() if v} == {}


def test_every_alert_has_severity_and_runbook_annotations() -> None:
    text = RULES.read_text()
    blocks = re.split(r"\n\s*- alert: ", text)[1:]
    assert len(blocks) == len(alert_exprs(text))
    for block in blocks:
        name = block.split()[0]
        assert re.search(r"severity: (page|ticket)\n", block), name
        assert "summary:" in block and "description:" in block, name
        # the description points at this alert's runbook entry in docs/operations.md
        assert "docs/operations.md" in block and name in block.split("description:")[1], name


def test_operations_doc_explains_every_alert() -> None:
    doc = OPERATIONS.read_text(encoding="utf-8")
    section = doc.split("## Alerts and dashboards", 1)[1].split("\n## ", 1)[0]
    missing = [a for a in alert_exprs(RULES.read_text()) if f"`{a}`" not in section]
    assert missing == []


# -- the dashboard -------------------------------------------------------------------------------
def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def _panels(dash: dict) -> list[dict]:
    out = []
    for p in dash["panels"]:
        out += [p, *p.get("panels", [])]  # a collapsed row keeps its panels inside it
    return [p for p in out if p["type"] != "row"]


def _exprs(dash: dict) -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in _panels(dash) for t in p["targets"]]


def test_dashboard_datasource_is_the_variable() -> None:
    dash = _dashboard()
    assert 36 <= dash["schemaVersion"] <= 41
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["pad"]["type"] == "query"
    assert "reddoor_pad_bytes_left" in variables["pad"]["definition"]
    variable = {"type": "prometheus", "uid": "${datasource}"}
    assert variables["pad"]["datasource"] == variable
    panels = _panels(dash)
    assert len(panels) >= 15
    for p in panels:
        assert p["datasource"] == variable, p["title"]
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["datasource"] == variable, p["title"]
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])


def test_dashboard_uses_only_the_spec_metric_names() -> None:
    dash = _dashboard()
    unknown = {
        title: sorted(metric_names(e) - SPEC_METRICS)
        for title, e in _exprs(dash)
        if metric_names(e) - SPEC_METRICS
    }
    assert unknown == {}
    # the panels the issue asks for, by the metric each one draws
    used = set().union(*(metric_names(e) for _, e in _exprs(dash)))
    for needed in (
        "reddoor_pad_bytes_left",
        "reddoor_queries_total",
        "reddoor_answer_latency_seconds",
        "reddoor_backend_latency_seconds",
        "reddoor_frames_refused_total",
        "reddoor_cover_frames_sent_total",
        "reddoor_retransmissions_total",
        "reddoor_diode_datagrams_sent_total",
        "reddoor_diode_datagrams_received_total",
        "reddoor_diode_datagrams_lost_total",
        "reddoor_diode_fec_repaired_blocks_total",
        "reddoor_diode_heartbeat_age_seconds",
        "reddoor_ledger_last_checkpoint_timestamp_seconds",
        "reddoor_ledger_last_verify_success",
        "reddoor_entropy_health_value",
        "reddoor_entropy_health_cutoff",
        "reddoor_entropy_health_alarms_total",
        "reddoor_entropy_source_rate_bytes_per_second",
        "reddoor_entropy_pad_statistic",
    ):
        assert needed in used, needed
    assert any("$pad" in e for _, e in _exprs(dash))


def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """Each query, with Grafana's variables given values, as a recording rule for promtool."""
    values = {"$__rate_interval": "5m", "$__range": "6h", "$pad": ".*"}
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for i, (_title, expr) in enumerate(_exprs(_dashboard())):
        for var, value in values.items():
            expr = expr.replace(var, value)
        assert "$" not in expr, expr
        lines += [f"      - record: dashboard:query_{i}", f"        expr: {json.dumps(expr)}"]
    (tmp_path / "dashboard.yml").write_text("\n".join(lines) + "\n")
    out = _run("check", "rules", "dashboard.yml", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
