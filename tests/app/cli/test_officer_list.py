"""`reddoor officer list` on a home with no officers says so, and how to enrol them."""

from __future__ import annotations

from pathlib import Path


def test_officer_list_on_a_fresh_home_says_no_officers_yet(tmp_path: Path, cli) -> None:
    home = tmp_path / "home"
    assert cli("init", "--home", str(home), "--practice").returncode == 0
    proc = cli("officer", "list", "--home", str(home))
    assert proc.returncode == 0
    assert proc.stdout.decode().startswith("no officers yet")
    assert "reddoor officer add" in proc.stdout.decode()
    json_out = cli("officer", "list", "--home", str(home), "--json")
    assert json_out.stdout.decode().strip() == "[]"  # the JSON contract is unchanged
