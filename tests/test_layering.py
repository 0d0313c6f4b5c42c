"""The house rule "math never imports widgets", enforced.

* Every module below the widgets imports with ``ipywidgets`` blocked (a lesson's computations, the solvers, the
  registry, the playground's problems, the experiments …).
* No import, at module level or inside a function, runs back up the floors below. A floor may import its own floor
  and any floor under it; the widgets (``pnp_lessons/widgets/`` and each lesson's ``widgets.py``) stand above
  everything but the command line.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "pnp_lessons"

#: The floors, from the ground up: a module's floor is the first whose patterns match its dotted name.
FLOORS = [
    ("core", ["runtime", "checks", "params", "metrics", "figures"]),
    ("data", ["images", "operators"]),
    ("prox", ["prox"]),
    ("denoisers", ["denoisers", "denoisers.*"]),
    ("algorithms", ["solvers", "solvers.*", "analysis", "train", "train.*"]),
    ("content", ["problems", "result_cache", "follow", "exercises", "grading", "lessons", "lessons.*", "experiments",
                 "experiments.*", "site", "site.*"]),
    ("widgets", ["widgets", "widgets.*", "lessons.*.widgets"]),
    ("entry", ["cli", "serving"]),
]


def _modules() -> dict[str, Path]:
    out = {}
    for f in PKG.rglob("*.py"):
        rel = f.relative_to(PKG).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    out.pop("", None)
    return out


def _floor(name: str) -> int:
    import fnmatch

    hits = [i for i, (_, patterns) in enumerate(FLOORS) if any(fnmatch.fnmatchcase(name, p) for p in patterns)]
    if hits:
        return max(hits)            # the most specific rule wins: lessons.l03_x.widgets is a widget, not content
    raise AssertionError(f"pnp_lessons.{name} stands on no floor: add it to FLOORS in tests/test_layering.py")


def _imports(name: str, path: Path) -> list[tuple[str, int]]:
    """(imported pnp_lessons module, line) for every import in the file, function-level ones included."""
    tree = ast.parse(path.read_text())
    pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    known = _modules()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("pnp_lessons"):
                mod = node.module[len("pnp_lessons"):].lstrip(".")
            else:
                continue
            for a in node.names:                # `from . import analysis` names a module
                sub = f"{mod}.{a.name}".strip(".")
                out.append((sub if sub in known else mod, node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("pnp_lessons."):
                    out.append((a.name[len("pnp_lessons."):], node.lineno))
    return [(m, ln) for m, ln in out if m]


def test_every_module_stands_on_a_floor():
    for name in _modules():
        _floor(name)


def test_no_import_runs_back_up_the_floors():
    bad = []
    for name, path in sorted(_modules().items()):
        mine = _floor(name)
        for target, line in _imports(name, path):
            theirs = _floor(target)
            if theirs > mine:
                bad.append(f"pnp_lessons/{path.relative_to(PKG)}:{line} ({FLOORS[mine][0]}) imports "
                           f"pnp_lessons.{target} ({FLOORS[theirs][0]})")
    assert not bad, "imports running back up the floors:\n" + "\n".join(bad)


def test_no_module_below_the_widgets_names_ipywidgets():
    widget_floor = [n for n, _ in FLOORS].index("widgets")
    bad = []
    for name, path in sorted(_modules().items()):
        if _floor(name) >= widget_floor:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(m.split(".")[0] in ("ipywidgets", "traitlets") for m in mods):
                bad.append(f"pnp_lessons/{path.relative_to(PKG)}:{node.lineno}")
    assert not bad, "widget imports below the widgets floor: " + ", ".join(bad)


@pytest.mark.slow
def test_every_module_below_the_widgets_imports_with_ipywidgets_blocked():
    widget_floor = [n for n, _ in FLOORS].index("widgets")
    names = sorted(f"pnp_lessons.{n}" for n in _modules() if _floor(n) < widget_floor)
    code = (
        "import importlib, sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('ipywidgets', 'traitlets'):\n"
        "            raise ImportError(f'{name} is blocked: a module below the widgets imported it')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for n in {names!r}:\n"
        "    importlib.import_module(n)\n"
        "print(len(sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
