"""Runs per hour of the paper grid's protocol: ``--workers N`` (N processes of one torch thread, one queue)
against one process with N torch threads, on the same full-size CBSD10 runs in the same call.

The slice: the paper grid's deblurring protocol (full-size images, the reference's noise and stopping rule) on
``--images`` images with the second Levin kernel and the 9×9 uniform one at 7.65/255, GS-PnP and both baselines
(12 runs with the defaults). Each configuration writes its own fresh cache in a temporary folder, so nothing is
resumed; the two must agree run for run (PSNR to 0.01 dB, iterations within 2: a different thread count
changes the sums' rounding, which can move the stopping rule by an iteration).

    .venv/bin/python benchmarks/grid_workers.py [--workers 2] [--images 2] [--model gsdrunet-small-grey]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from pnp_lessons.experiments import gs_pnp


def timed(argv: list[str]) -> tuple[float, dict]:
    t = time.perf_counter()
    out = gs_pnp.main(argv)
    return time.perf_counter() - t, out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--model", default="gsdrunet-small-grey")
    ap.add_argument("--data", default=None)
    args = ap.parse_args(argv)
    # a slice of the paper grid: its protocol (full size, max_iter 400), fewer images and kernels
    gs_pnp.GRIDS["bench"] = dict(gs_pnp.GRIDS["paper"], images=args.images, deblur_kernels=[1, 8],
                                 deblur_noise=[7.65], sr_kernels=[], sr_factors=[], inpaint_kept=[])
    common = ["--grid", "bench", "--part", "deblur", "--model", args.model, "--device", "cpu", "--no-progress"]
    if args.data:
        common += ["--data", args.data]
    n = args.workers
    with tempfile.TemporaryDirectory() as tmp:
        t_threads, alone = timed(common + ["--out", str(Path(tmp) / "threads"), "--threads", str(n)])
        t_workers, shared = timed(common + ["--out", str(Path(tmp) / "workers"), "--workers", str(n), "--threads", "1"])
    runs = len(alone["rows"])
    pairs = list(zip(alone["rows"], shared["rows"], strict=True))
    worst_db = max(abs(a["psnr"] - b["psnr"]) for a, b in pairs)
    worst_it = max(abs(a["iterations"] - b["iterations"]) for a, b in pairs)
    print(f"\n{runs} runs of the paper protocol ({args.images} full-size CBSD10 images, levin-2 and uniform at "
          f"7.65/255, GS-PnP + PnP-ISTA-NLM + TV), model {args.model}, {os.cpu_count()} CPUs")
    print(f"  one process, {n} torch threads : {t_threads:7.1f} s  ({runs / t_threads * 3600:6.0f} runs/h)")
    print(f"  --workers {n}, 1 thread each    : {t_workers:7.1f} s  ({runs / t_workers * 3600:6.0f} runs/h)")
    print(f"  ratio (threads / workers)     : {t_threads / t_workers:.2f}x")
    print(f"  largest difference, run for run: {worst_db:.4f} dB, {worst_it} iterations")
    if worst_db > 0.01 or worst_it > 2:
        sys.exit("the two configurations disagree beyond rounding: see the tables above")


if __name__ == "__main__":
    main()
