"""The GS-PnP experiment command: the paper's protocol (observations as the reference draws them), its table,
CSV and convergence figure, and a cache that lets an interrupted grid resume (CI-sized grid)."""

import csv
import json

import numpy as np
import pytest
import torch


@pytest.mark.data
@pytest.mark.slow
def test_gs_pnp_experiment_fast_grid_and_resume(data_root, tmp_path):
    from pnp_lessons.experiments.gs_pnp import main

    out = main(["--grid", "fast", "--out", str(tmp_path), "--device", "cpu", "--no-progress"])
    table = (tmp_path / "table.md").read_text()
    assert "| deblur | 7.65 |" in table and "| SR ×2 | 2.55 |" in table
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert {r["method"] for r in rows} == {"GS-PnP", "PnP-ISTA-NLM", "TV"}
    assert (tmp_path / "convergence.png").stat().st_size > 5000
    # GS-PnP restores: better than the bicubic / blurred input by a clear margin, and ahead of both baselines
    gs = {r["family"]: float(r["psnr"]) for r in rows if r["method"] == "GS-PnP"}
    assert min(gs.values()) > 22 and out["grid"] == "fast"
    for r in rows:
        if r["method"] != "GS-PnP":
            assert gs[r["family"]] > float(r["psnr"])
    # every run is cached: a second call (and a shard of it) runs nothing and tabulates the same numbers
    cached = [json.loads(line) for f in tmp_path.glob("cases-*.jsonl") for line in f.read_text().splitlines()]
    assert len(cached) == len(rows) == out["todo"]
    again = main(["--grid", "fast", "--out", str(tmp_path), "--device", "cpu", "--no-progress", "--shard", "1/2"])
    assert [r["psnr"] for r in again["rows"]] == [r["psnr"] for r in out["rows"]]
    assert len([line for f in tmp_path.glob("cases-*.jsonl") for line in f.read_text().splitlines()]) == len(rows)


@pytest.mark.data
@pytest.mark.slow
def test_workers_share_one_queue_and_reproduce_the_single_process_runs(data_root, tmp_path, capsys):
    """`--workers 2` runs the grid in two spawned processes fed from one queue: every run once, one cache line
    each, the same numbers as one process computing alone; an interrupted grid resumes under workers too."""
    from pnp_lessons.experiments.gs_pnp import main

    common = ["--grid", "fast", "--device", "cpu", "--no-progress", "--threads", "1", "--data", str(data_root)]
    alone = main(common + ["--out", str(tmp_path / "alone")])
    # half the runs cached, as an interrupted grid leaves them; the workers run the other half
    shared = tmp_path / "shared"
    shared.mkdir()
    lines = [line for f in sorted((tmp_path / "alone").glob("cases-*.jsonl")) for line in f.read_text().splitlines()]
    (shared / "cases-deblur.jsonl").write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    capsys.readouterr()
    both = main(common + ["--out", str(shared), "--workers", "2"])
    ran = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ") and " dB, " in line]
    assert len(ran) == len(lines) - len(lines) // 2
    cached = [json.loads(line) for f in shared.glob("cases-*.jsonl") for line in f.read_text().splitlines()]
    assert sorted(r["key"] for r in cached) == sorted(r["key"] for r in alone["rows"])     # each run exactly once
    for a, b in zip(alone["rows"], both["rows"], strict=True):
        assert a["key"] == b["key"]
        assert (a["psnr"], a["iterations"], a["status"]) == (b["psnr"], b["iterations"], b["status"]), a["key"]
    assert (shared / "table.md").read_text().split("\n\n")[0] == (tmp_path / "alone" / "table.md").read_text().split(
        "\n\n")[0]
    with pytest.raises(SystemExit, match="--workers must be a whole number >= 1, got 0"):
        main(common + ["--out", str(shared), "--workers", "0"])


@pytest.mark.data
def test_an_interrupted_grid_says_what_is_cached_and_resumes(data_root, tmp_path, monkeypatch):
    """Ctrl-C during a grid: the runs finished so far stay in the cache, the message says how many and how to go
    on, and the same command then runs only the rest."""
    from pnp_lessons.experiments import gs_pnp

    real, calls = gs_pnp.run_method, []

    def interrupted_at_the_third(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(gs_pnp, "run_method", interrupted_at_the_third)
    argv = ["--grid", "fast", "--part", "deblur", "--out", str(tmp_path), "--device", "cpu", "--no-progress",
            "--data", str(data_root)]
    with pytest.raises(SystemExit, match=r"interrupted: 2 of 3 runs finished and are cached in .*resumes"):
        gs_pnp.main(argv)
    assert len(gs_pnp.load_cache(tmp_path)) == 2
    monkeypatch.setattr(gs_pnp, "run_method", real)
    again = gs_pnp.main(argv)
    assert len(again["rows"]) == again["todo"] == 3 and len(gs_pnp.load_cache(tmp_path)) == 3


@pytest.mark.data
@pytest.mark.slow
def test_fit_baselines_in_grey_scores_every_grid_value_on_training_images(data_root, capsys):
    """`--fit-baselines --channels 1` fits on the luminance of CBSD432 images (never CBSD68) and picks the best
    of each parameter grid (one image, a 40² crop here; the documented fit uses 4 images at 192²)."""
    from pnp_lessons.experiments.gs_pnp import fit_baselines, main

    res = fit_baselines(data_root, channels=1, images=1, crop=40)
    assert res["channels"] == 1 and res["images"][0] in {p.name for p in (data_root / "CBSD432").glob("*.jpg")}
    for name, values in (("TV", (2.5, 5.0, 10.0, 20.0, 40.0)), ("PnP-ISTA-NLM", (0.5, 0.75, 1.0, 1.5, 2.0))):
        scores = res[name]["scores"]
        assert tuple(scores) == values and all(15 < v < 50 for v in scores.values()), (name, scores)
        assert scores[res[name]["best"]] == max(scores.values())
    with pytest.raises(SystemExit):
        main(["--fit-baselines", "--channels", "2", "--data", str(data_root)])
    assert "--channels: invalid choice: 2" in capsys.readouterr().err     # the error names the bad argument


@pytest.mark.data
def test_observations_are_the_references(data_root):
    """Blur and SR degradations equal scipy.ndimage.convolve(mode='wrap') (then [::s, ::s]) as the reference's
    deblur.py / SR.py compute them, and the noise is np.random.seed(0); normal(0, ν, (H, W, C))."""
    from scipy import ndimage

    from pnp_lessons.experiments.gs_pnp import Case, deblur_kernels, observe
    from pnp_lessons.operators import Blur, SuperResolution, load_kernels

    x = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(0))
    xn = x[0].permute(1, 2, 0).double().numpy()
    name, k, task = deblur_kernels(data_root)[3]                      # an asymmetric Levin kernel
    y = observe(Case("deblur", task, name, "t", 7.65 / 255, Blur(k), x))
    np.random.seed(0)
    ref = ndimage.convolve(xn, k.double().numpy()[:, :, None], mode="wrap")
    ref = ref + np.random.normal(0, 7.65 / 255, ref.shape)
    assert np.abs(y[0].permute(1, 2, 0).double().numpy() - ref).max() < 1e-5
    k12 = load_kernels(data_root / "kernels" / "kernels_12.mat")[5]
    y = observe(Case("sr", "sr", "k5", "t", 2.55 / 255, SuperResolution(k12, 2), x, factor=2))
    np.random.seed(0)
    ref = ndimage.convolve(xn, k12.double().numpy()[:, :, None], mode="wrap")[0::2, 0::2]
    ref = ref + np.random.normal(0, 2.55 / 255, ref.shape)
    assert np.abs(y[0].permute(1, 2, 0).double().numpy() - ref).max() < 1e-5


def test_bicubic_start_is_shifted_like_the_reference():
    """SR starts from bicubic upsampling moved by (s − 1)/2 pixels (the reference's shift_pixel): A keeps x[::s],
    and the shifted upsampling puts low-resolution pixel j back on high-resolution pixel j·s."""
    from pnp_lessons.operators import SuperResolution, gaussian_kernel

    for s in (2, 3):
        hr = torch.arange(48.0).reshape(1, 1, 1, 48).repeat(1, 1, 48, 1)
        lr = hr[..., ::s, ::s]
        op = SuperResolution(gaussian_kernel(3, 0.5), s)
        inner = slice(2, 16 - 2)
        assert torch.allclose(op.bicubic_up(lr)[..., ::s, ::s][..., inner], lr[..., inner], atol=1e-4)
        assert not torch.allclose(op.bicubic_up(lr, shift=False)[..., ::s, ::s][..., inner], lr[..., inner], atol=0.1)


@pytest.mark.data
def test_sr_run_past_the_cap_never_increases_F(data_root):
    """--past-cap: an SR case of the paper grid run with the stopping rule off. Whatever the PSNR does, F must not
    increase (the descent of Theorem 1, enforced by the backtracking), F = f + λg at every k, and every curve
    has one value per iteration."""
    from pnp_lessons.experiments.gs_pnp import past_cap

    r = past_cap(data_root, "3096", "k0", 2.55, 12, crop=64)
    assert r["iterations"] == 12 and r["status"] == "max_iter"
    for name in ("F", "f", "g", "tau", "psnr_z", "psnr_x"):
        assert len(r[name]) == 12, name
    F = np.array(r["F"])
    assert np.all(np.diff(F) <= 1e-6 * np.abs(F[:-1])), F
    assert np.allclose(F, np.array(r["f"]) + r["lam"] * np.array(r["g"]), rtol=1e-4)
    assert abs(r["sigma"] - 2 * 2.55 / 255) < 1e-9 and r["lam"] == 0.065   # the reference's SR setting
    with pytest.raises(ValueError, match="image"):
        past_cap(data_root, "not-an-image", "k0", 2.55, 2, crop=64)
    with pytest.raises(ValueError, match="label"):
        past_cap(data_root, "3096", "kernel 1", 2.55, 2, crop=64)


@pytest.mark.data
def test_results_md_quotes_the_committed_grid_cache(data_root, tmp_path):
    """docs/results.md's table of the paper grid is, line for line, what `--table-only` computes from the cached
    runs committed beside it: a number in the docs cannot drift from the runs it claims to summarise."""
    import re
    import shutil
    from pathlib import Path

    from pnp_lessons.experiments.gs_pnp import main

    repo = Path(__file__).resolve().parents[1]
    doc = (repo / "docs" / "results.md").read_text()
    quotes = {}
    # the colour grid between <!-- grid-table --> markers, the grey grid between <!-- grid-table grey --> markers
    for model, marker in (("gsdrunet-small-colour", "grid-table"), ("gsdrunet-small-grey", "grid-table grey")):
        cache = repo / "docs" / "results" / "gs_pnp_paper" / model
        out = tmp_path / model
        out.mkdir()
        for f in cache.glob("cases-*.jsonl"):
            shutil.copy(f, out / f.name)
        main(["--grid", "paper", "--model", model, "--table-only", "--out", str(out),
              "--data", str(data_root), "--device", "cpu"])
        quoted = doc.split(f"<!-- {marker} -->\n", 1)[1].split("<!-- /grid-table -->", 1)[0]
        assert f"model `{model}`" in quoted
        assert quoted == (out / "table.md").read_text(), model
        assert quoted == (cache / "table.md").read_text(), model
        quotes[model] = quoted

    def complete_cells(quoted):
        """(task, noise, method) -> "mean (n runs)" for every cell of the grid table whose runs are all done."""
        cells = {}
        for line in quoted.splitlines():
            m = re.match(r"\| (deblur|SR ×2|SR ×3) \| ([\d.]+) \| (.*) \|$", line)
            if m:
                for method, cell in zip(("GS-PnP", "PnP-ISTA-NLM", "TV"), m.group(3).split(" | "), strict=True):
                    full = re.match(r"([\d.]+) / \d+ \((\d+) of (\d+)\)", cell)
                    if full and full.group(2) == full.group(3):
                        cells[(m.group(1), m.group(2), method)] = f"{full.group(1)} ({full.group(2)} runs)"
        return cells

    # lesson 07 quotes every complete cell of both grids' deblurring and SR rows with the same mean: the colour
    # tables first, then, after "Grey model:", the grey ones; each table runs from its heading to the next
    nb = json.loads((repo / "notebooks" / "07_gs_pnp.ipynb").read_text())
    lesson = next("".join(c["source"]) for c in nb["cells"] if "--grid paper" in "".join(c["source"]))
    colour, grey = lesson.split("Grey model:")
    headings = {"deblur": "Deblurring:", "SR ×2": "Super-resolution ×2", "SR ×3": "Super-resolution ×3"}
    # both grids are complete: 15 cells each (deblurring, SR ×2, SR ×3: three GS-PnP cells and two baselines)
    for model, text in (("gsdrunet-small-colour", colour), ("gsdrunet-small-grey", grey)):
        cells = complete_cells(quotes[model])
        assert len(cells) == 15, model
        for (task, noise, method), cell in cells.items():
            table = text.split(headings[task])[1].split("Super-resolution")[0]
            row = next(r for r in table.splitlines() if r.startswith(f"| {method} "))
            column = {"2.55": 1, "7.65": 2, "12.75": 3}[noise]
            assert row.split(" | ")[column].strip(" |") == cell, (model, task, noise, method)
