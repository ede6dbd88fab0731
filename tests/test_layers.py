"""The tree is the architecture: every import runs down the layers of docs/architecture.md.

Read from the source (every import statement, also those inside functions, which is where a
cycle would hide), not from what happens to be loaded: a lower layer that imports a higher one
fails here, with the file and the line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Lowest first. A module may import its own layer and every layer listed before it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("resources", ("resources",)),  # data files only: imports nothing of the project
    (
        "foundation",
        tuple(
            f"custody.{m}"
            for m in (
                "errors",
                "canonical_json",
                "durable_file",
                "bounded_read",
                "merkle",
                "fingerprint_words",
                "rate_limited_log",
                "hsm",
            )
        ),
    ),
    ("pad", ("custody.pad",)),
    ("ledger", ("custody.ledger",)),
    ("link", ("custody.link",)),
    ("lifecycle", ("custody.lifecycle",)),
    ("documents", ("custody.documents",)),
    ("ceremony", ("ceremony",)),
    ("cli", ("app.cli",)),
    ("gui", ("app.gui",)),
]
# Siblings import neither each other: pad and ledger; the two faces of app (what both need
# lives below them, or in app/hardening.py beside them).
SIBLINGS = {("pad", "ledger"), ("ledger", "pad"), ("gui", "cli"), ("cli", "gui")}
# The CLI opens the desktop application when no command is given (app.cli.main, lazily): the
# one way up from cli to gui. The application is a client of the CLI's helpers nowhere.
ALLOWED_UP = {("app/cli/main.py", "app.gui.launch")}


def _layer_of(module: str) -> int | None:
    for i, (_name, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    if module in ("custody", "app"):
        return 0  # the package's own __init__ (version, docstring)
    return None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            # `from custody import pad` names a sub-package: count it as an import of it
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def _violations() -> list[str]:
    found = []
    for top in ("resources", "custody", "ceremony", "app"):
        for path in sorted((REPO / top).rglob("*.py")):
            here = _layer_of(_module_name(path))
            if here is None:
                continue
            rel = str(path.relative_to(REPO))
            for line, target in _imports(path):
                there = _layer_of(target)
                if there is None:
                    continue
                sideways = (LAYERS[here][0], LAYERS[there][0]) in SIBLINGS
                if there <= here and not sideways:
                    continue
                if any(rel == r and (target + ".").startswith(t + ".") for r, t in ALLOWED_UP):
                    continue
                found.append(
                    f"{rel}:{line}: {LAYERS[here][0]} imports {target} ({LAYERS[there][0]})"
                )
    return found


def test_imports_run_down_the_layers() -> None:
    assert _violations() == []


def test_every_module_has_a_layer() -> None:
    loose = [
        str(p.relative_to(REPO))
        for top in ("resources", "custody", "ceremony", "app")
        for p in (REPO / top).rglob("*.py")
        if _layer_of(_module_name(p)) is None
        and _module_name(p) not in ("app.__main__", "app.hardening")
    ]
    assert loose == []


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("custody/pad/frame.py", "custody.link.gateway"),
        ("custody/ledger/chain.py", "custody.pad.store"),
        ("custody/link/gateway.py", "custody.lifecycle.states"),
        ("custody/hsm.py", "custody.ledger.home"),
        ("ceremony/steps.py", "app.gui.widgets"),
    ],
)
def test_the_check_sees_an_upward_import(source: str, target: str) -> None:
    """The rule bites: each of these would be reported."""
    here = _layer_of(_module_name(REPO / source))
    there = _layer_of(target)
    assert here is not None and there is not None
    assert there > here or (LAYERS[here][0], LAYERS[there][0]) in SIBLINGS
