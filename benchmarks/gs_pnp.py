"""GS-PnP milliseconds per iteration at 256² (grey and colour) for each shipped model, on CPU and,
when present, CUDA.

Peer measured in the same run: one plain forward pass of the same network (the cost of a
classical PnP denoiser call). The ratio "iteration / forward" says how many forward passes one
GS-PnP iteration costs (one forward + one backward for g and ∇g at the new point, plus the FFT prox).

Colour rows use the shipped colour model when there is one; otherwise an *untrained* network of
the same preset, labelled as such (timing only: the arithmetic does not depend on the weights).

    .venv/bin/python benchmarks/gs_pnp.py [--iters 10] [--size 256]
"""

from __future__ import annotations

import argparse
import time

import torch

from pnp_lessons.denoisers.gsdrunet import DRUNetLight, GSDenoiser
from pnp_lessons.denoisers.weights import list_shipped, load_denoiser, read_card
from pnp_lessons.operators import Blur, gaussian_kernel
from pnp_lessons.solvers import gs_pnp


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def time_iterations(D, C, size, dev, iters):
    x = torch.rand(1, C, size, size, generator=torch.Generator().manual_seed(0)).to(dev)
    op = Blur(gaussian_kernel(9, 1.6))
    y = op.observe(x, 7.65 / 255, seed=0)
    gen = gs_pnp(op, y, D, sigma=1.8 * 7.65 / 255, lam=0.075, max_iter=iters + 2, tol=0)
    next(gen)  # warm-up (allocations, cuDNN autotune)
    sync(dev)
    t = time.perf_counter()
    n = 0
    for _it in gen:
        n += 1
        if n == iters:
            break
    sync(dev)
    return (time.perf_counter() - t) / n * 1e3


def time_forward(D, C, size, dev, reps):
    x = torch.rand(1, C, size, size).to(dev)
    with torch.no_grad():
        D.net(x, 0.05)
        sync(dev)
        t = time.perf_counter()
        for _ in range(reps):
            D.net(x, 0.05)
        sync(dev)
    return (time.perf_counter() - t) / reps * 1e3


def models(dev):
    shipped = list_shipped()
    for name in shipped:
        D = load_denoiser(name, device=dev)
        if hasattr(D, "potential"):
            yield name, D, read_card(name).get("channels", D.channels)
    for preset in ("small", "paper"):
        for C in (1, 3):
            if not any(read_card(n).get("preset") == preset and read_card(n).get("channels") == C for n in shipped):
                yield f"untrained {preset} ({'grey' if C == 1 else 'colour'}; timing only)", \
                    GSDenoiser(DRUNetLight.from_preset(preset, C)).to(dev).eval(), C


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--skip-paper-on-cpu", action="store_true", help="skip the 17 M-parameter rows on CPU")
    args = ap.parse_args(argv)
    devs = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"GS-PnP at {args.size}², {args.iters} iterations; torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    print(f"{'device':<8} {'model':<48} {'ms/iter':>9} {'ms/forward':>11} {'iter/forward':>13}")
    for dev in devs:
        for name, D, C in models(dev):
            if dev.type == "cpu" and args.skip_paper_on_cpu and "paper" in name:
                continue
            it = time_iterations(D, C, args.size, dev, args.iters)
            fw = time_forward(D, C, args.size, dev, max(3, args.iters))
            label = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
            print(f"{label[:8]:<8} {name:<48} {it:9.1f} {fw:11.1f} {it / fw:13.2f}")


if __name__ == "__main__":
    main()
