"""Every path into the code that the docs name exists: a module moved without its docs fails here.

The docs (docs/*.md, README.md) and the code's own docstrings and comments name modules by path
(`custody/pad/store.py`, `app/gui/`). After the layout of issue 12 moved every module once, a
stale path is the first thing a newcomer would trip on. Only paths rooted at one of the four
top-level folders and ending in `.py` or `/` are checked; globs (`custody/*.py`), placeholders
(`<group>`) and elisions (`…`) do not match the pattern and are left alone.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROOTS = ("app", "ceremony", "custody", "tests")
# A path starts at a root folder (not in the middle of another path such as /etc/x/app/ or
# HOME/vault/) and ends in .py or in a slash.
PATH = re.compile(
    r"(?<![\w./<-])((?:" + "|".join(ROOTS) + r")/(?:[\w-]+/)*(?:[\w-]+\.py|))(?![\w*<…])"
)


def _docs() -> list[Path]:
    return [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]


def _code() -> list[Path]:
    """Docstrings and comments (and the odd string) of every module, the tests' included."""
    return sorted(p for root in ROOTS for p in (REPO / root).rglob("*.py"))


def named_paths(text: str) -> list[tuple[int, str]]:
    """(line number, path) of every path into the code that `text` names."""
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        found += [(n, m.group(1)) for m in PATH.finditer(line)]
    return found


def test_the_pattern_finds_paths_and_skips_globs_and_placeholders() -> None:
    text = (
        "see `custody/pad/store.py` and app/gui/, tests/app/cli/test_numeric_options.py::test_x;\n"
        "not custody/*.py, app/cli/<group>_commands.py, tests/custody/pad, /etc/reddoor/app/\n"
        "nor HOME/vault/ or tests/benchmarks/bench_*.py"
    )
    assert [p for _n, p in named_paths(text)] == [
        "custody/pad/store.py",
        "app/gui/",
        "tests/app/cli/test_numeric_options.py",
    ]


def _missing(paths: list[Path]) -> list[str]:
    return [
        f"{path.relative_to(REPO)}:{n}: {named}"
        for path in paths
        for n, named in named_paths(path.read_text(encoding="utf-8"))
        if not (REPO / named).exists()
    ]


def test_every_path_the_docs_name_exists() -> None:
    missing = _missing(_docs())
    assert not missing, "paths that no longer exist:\n" + "\n".join(missing)


def test_every_path_the_code_names_exists() -> None:
    missing = _missing(_code())
    assert not missing, "paths that no longer exist:\n" + "\n".join(missing)
