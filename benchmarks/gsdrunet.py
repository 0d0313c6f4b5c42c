"""GS-DRUNet timings: parameters, forward N(x) and GS step D(x) = x - grad g(x) per preset.

The peer measured in the same run is the plain DRUNet-light forward of the same preset,
so the printed ratio ``GS step / forward`` says what the gradient step costs on top of
the network (the paper reports 10.4 ms vs 6.3 ms on a GPU, ratio 1.65). With ``--train``
it also times one training step of each kind (GS needs a double backward).

Usage::

    python benchmarks/gsdrunet.py [--presets small paper] [--size 256] [--repeats 5]
                                  [--threads N] [--device cpu|cuda] [--train]

No assertions: it prints numbers and ratios only.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from pnp_lessons.denoisers.gsdrunet import DRUNetDenoiser, DRUNetLight, GSDenoiser, count_parameters
from pnp_lessons.runtime import describe_device, get_device


def timeit(f, repeats: int, device) -> float:
    """Median wall time of ``f()`` in ms, after one warm-up call."""
    f()
    ts = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t = time.perf_counter()
        f()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        ts.append(time.perf_counter() - t)
    return 1000 * statistics.median(ts)


def train_step(den, x, sigma, opt):
    out = den.denoise(x + sigma.view(-1, 1, 1, 1) * torch.randn_like(x), sigma)
    loss = ((out - x) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="*", default=["small", "paper"])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default=None)
    ap.add_argument("--train", action="store_true", help="also time a training step (batch 16 of 64x64 crops)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = get_device(a.device)
    print(f"device: {describe_device(dev)}, torch {torch.__version__}, image {a.size}x{a.size}, "
          f"median of {a.repeats}")
    print(f"{'preset':<7} {'ch':>2} {'params':>11} {'forward ms':>11} {'GS step ms':>11} {'GS/forward':>10}"
          f" {'NHWC fwd ms':>11} {'NHWC GS ms':>10} {'NHWC speed-up':>13}"
          + (f" {'train plain s':>13} {'train GS s':>10} {'ratio':>6}" if a.train else ""))
    for preset in a.presets:
        for ch in (1, 3):
            torch.manual_seed(0)
            net = DRUNetLight.from_preset(preset, ch).to(dev).eval()
            plain, gs = DRUNetDenoiser(net), GSDenoiser(net)
            x = torch.rand(1, ch, a.size, a.size, device=dev)
            with torch.no_grad():
                t_fwd = timeit(lambda plain=plain, x=x: plain.denoise(x, 25 / 255), a.repeats, dev)
                t_gs = timeit(lambda gs=gs, x=x: gs.denoise(x, 25 / 255), a.repeats, dev)
            # the layout load_denoiser uses on the CPU (weights.py, _place), against the default, same run
            net.to(memory_format=torch.channels_last)
            with torch.no_grad():
                c_fwd = timeit(lambda plain=plain, x=x: plain.denoise(x, 25 / 255), a.repeats, dev)
                c_gs = timeit(lambda gs=gs, x=x: gs.denoise(x, 25 / 255), a.repeats, dev)
            net.to(memory_format=torch.contiguous_format)
            line = (f"{preset:<7} {ch:>2} {count_parameters(net):>11,} {t_fwd:>11.1f} {t_gs:>11.1f} "
                    f"{t_gs / t_fwd:>10.2f} {c_fwd:>11.1f} {c_gs:>10.1f} {t_gs / c_gs:>12.2f}x")
            if a.train:
                xb = torch.rand(16, ch, 64, 64, device=dev)
                sb = torch.rand(16, device=dev) * 50 / 255
                opt = torch.optim.Adam(net.parameters(), 1e-4)
                net.train()
                reps = max(2, a.repeats // 2)
                tp = timeit(lambda m=plain, xb=xb, sb=sb, opt=opt: train_step(m, xb, sb, opt), reps, dev) / 1000
                tg = timeit(lambda m=gs, xb=xb, sb=sb, opt=opt: train_step(m, xb, sb, opt), reps, dev) / 1000
                net.eval()
                line += f" {tp:>13.2f} {tg:>10.2f} {tg / tp:>6.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
