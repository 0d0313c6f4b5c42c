"""PnP-ISTA with a fixed NLM W: milliseconds per iteration against a memory-bandwidth bound.

    python benchmarks/pnp_ista.py [--size 256] [--window 21] [--iters 20]

With W frozen, one iteration is x ← W(x − γ Aᵀ(Ax − y)): one pass over the stencil of W
(window²·n float32 weights) plus O(n) work. The bound is the time to stream W's bytes once at the
copy rate measured in the same run (``torch.Tensor.copy_`` of a buffer the size of W, counting read +
write bytes); the printed ratio is ms per iteration / bound (1 = at the bandwidth limit). Measured
with torch on one thread (the same thread that runs the iteration) and, when a CUDA GPU is present,
on the GPU too. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pnp_lessons.denoisers.nlm import nlm_weights  # noqa: E402
from pnp_lessons.images import sample  # noqa: E402
from pnp_lessons.operators import Inpainting  # noqa: E402
from pnp_lessons.solvers.pnp_ista import default_guide, pnp_ista  # noqa: E402


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def copy_rate(nbytes: int, dev, repeats: int = 5) -> float:
    """Bytes moved per second (read + write) by copy_ of a float32 buffer of ``nbytes``."""
    a = torch.ones(nbytes // 4, device=dev)
    b = torch.empty_like(a)
    b.copy_(a)
    _sync(dev)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        b.copy_(a)
        _sync(dev)
        ts.append(time.perf_counter() - t)
    return 2 * nbytes / min(ts)


def bench(size: int, window: int, patch: int, iters: int, dev):
    x = sample("camera", size=size, grey=True).to(dev)
    op = Inpainting(ratio=0.8, seed=0)
    y = op.observe(x, 10 / 255, seed=1)
    guide = default_guide(op, y)
    t = time.perf_counter()
    W = nlm_weights(guide, patch_size=patch, window=window, h=10 / 255)
    _sync(dev)
    build = time.perf_counter() - t
    gen = pnp_ista(op, y, W, gamma=0.9, x0=guide, tol=0, max_iter=iters + 3)
    for _ in range(3):          # warm-up
        next(gen)
    _sync(dev)
    ts = []
    for _ in range(iters):
        t = time.perf_counter()
        next(gen)
        _sync(dev)
        ts.append(time.perf_counter() - t)
    # the W pass alone (what the bound models)
    z = guide.clone()
    W.apply(z)
    _sync(dev)
    tw = []
    for _ in range(iters):
        t = time.perf_counter()
        W.apply(z)
        _sync(dev)
        tw.append(time.perf_counter() - t)
    rate = copy_rate(W.nbytes, dev)
    bound = W.nbytes / rate
    it_ms, w_ms = statistics.median(ts) * 1e3, statistics.median(tw) * 1e3
    print(f"{str(dev):>5} {size:>4}² window {window:>2}: W {W.nbytes / 2**20:7.1f} MiB (built in {build:.2f} s); "
          f"copy rate {rate / 1e9:6.1f} GB/s -> bound {bound * 1e3:7.2f} ms; "
          f"iteration {it_ms:7.2f} ms (ratio {it_ms / (bound * 1e3):5.2f}), W pass alone {w_ms:7.2f} ms "
          f"(ratio {w_ms / (bound * 1e3):5.2f})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, nargs="*", default=[256])
    ap.add_argument("--window", type=int, nargs="*", default=[21, 11])
    ap.add_argument("--patch", type=int, default=7)
    ap.add_argument("--iters", type=int, default=20)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    print(f"PnP-ISTA (inpainting, fixed NLM W) on camera, torch {torch.__version__}, 1 CPU thread; "
          "medians over iterations")
    for size in a.size:
        for window in a.window:
            bench(size, window, a.patch, a.iters, torch.device("cpu"))
    if torch.cuda.is_available():
        for size in a.size:
            for window in a.window:
                bench(size, window, a.patch, a.iters, torch.device("cuda"))
    else:
        print("no CUDA GPU here: GPU timing skipped")


if __name__ == "__main__":
    main()
