"""The GS-PnP experiment command produces its table, CSV and convergence figure (CI-sized grid)."""

import csv

import pytest


@pytest.mark.data
@pytest.mark.slow
def test_gs_pnp_experiment_fast_grid(data_root, tmp_path):
    from pnp_lessons.experiments.gs_pnp import main

    out = main(["--grid", "fast", "--out", str(tmp_path), "--device", "cpu"])
    table = (tmp_path / "table.md").read_text()
    assert "| deblur | 7.65 |" in table and "| SR ×2 | 2.55 |" in table
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert {r["method"] for r in rows} == {"GS-PnP", "PnP-ISTA-NLM", "TV-FISTA"}
    assert (tmp_path / "convergence.png").stat().st_size > 5000
    # GS-PnP restores: better than the bicubic / blurred input by a clear margin
    gs = [float(r["psnr"]) for r in rows if r["method"] == "GS-PnP"]
    assert min(gs) > 22 and out["grid"] == "fast"
