"""The project's own promises: packaging agrees with environment.yml, notebooks are clean."""

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PIP = {"pytorch": "torch"}
CONDA_ONLY = {"python", "pip"}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_agrees_with_pyproject():
    deps = {_name(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = set(), []
    for d in env["dependencies"]:
        if isinstance(d, dict):
            pip += d.get("pip", [])
        else:
            conda.add(CONDA_TO_PIP.get(_name(d), _name(d)))
    assert "-e ." in pip, "environment.yml must install this package with pip: -e ."
    assert conda - CONDA_ONLY == deps, (
        f"only in environment.yml: {sorted(conda - CONDA_ONLY - deps)}; only in pyproject: {sorted(deps - conda)}")
    for name in ("python", "pytorch", "jupyterlab", "ipywidgets", "voila", "matplotlib", "numpy"):
        assert CONDA_TO_PIP.get(name, name) in conda | {"python"}


def test_torch_is_pinned_in_exactly_one_place():
    pins = []
    for path in [ROOT / "pyproject.toml", ROOT / "environment.yml", ROOT / "Makefile"]:
        pins += [path.name for line in path.read_text().splitlines() if re.search(r"torch\s*==", line)]
    assert pins == ["pyproject.toml"]


def notebooks():
    return sorted((ROOT / "notebooks").rglob("*.ipynb"))


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs_and_start_with_one_h1(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, f"{path.name} has outputs"
    first = "".join(nb["cells"][0]["source"])
    assert nb["cells"][0]["cell_type"] == "markdown" and first.startswith("# ")
    h1 = [ln for c in nb["cells"] if c["cell_type"] == "markdown" for ln in "".join(c["source"]).splitlines()
          if ln.startswith("# ")]
    assert len(h1) == 1, f"{path.name} has {len(h1)} H1 headings"
    assert re.search(r"learning goals", first, re.I), f"{path.name} must state its learning goals first"
    # nbformat 4.5 cells carry a unique id (a missing one is a warning today, an error in later nbformat)
    ids = [c.get("id") for c in nb["cells"]]
    assert None not in ids and len(set(ids)) == len(ids), f"{path.name}: cell ids missing or repeated: {ids}"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
