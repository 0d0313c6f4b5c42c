"""NLM against scikit-image's ``denoise_nl_means``: speed ratio and quality (PSNR) on Set12.

Speed (default)::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/nlm.py     # 256² and 512² grey, patch 7, window 21

times ``denoise_nl_means(fast_mode=True)`` (patch_size 7, patch_distance 10) and our
``nlm_denoise`` on the same noisy images, interleaved in one run, with both CPU backends of ours
(the fused numba kernel and the torch ops, forced by ``PNP_LESSONS_NLM_BACKEND``), each with one
thread (a like-for-like comparison with the single-threaded Cython peer) and with ``threads=2``
worker threads. It prints the medians of wall time and process CPU time and the ratios
skimage / ours (> 1: we are faster). Every method is called once per size before the timed runs
(warm-up; numba's first call compiles its kernel, or loads it from numba's on-disk cache, and the
time of that first call is printed). On a CUDA machine it also prints the GPU time (torch
backend). Timings are never asserted.

Quality::

    python benchmarks/nlm.py --quality [--images 01,05,08] [--sigmas 15,25] [--backend torch]

denoises Set12 at σ = 15 and 25 (/255) with both methods over a grid of h / σ, picks each
method's best h / σ (one value per σ over the whole set) and prints the mean PSNR and the gap.
``--backend`` picks our CPU backend (default ``auto``: numba when installed).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pnp_lessons.denoisers import nlm as nlm_module  # noqa: E402
from pnp_lessons.denoisers.nlm import BACKEND_ENV, nlm_backend, nlm_denoise  # noqa: E402
from pnp_lessons.images import data_root  # noqa: E402

PATCH, WINDOW = 7, 21


def _load_set12(names=None):
    from PIL import Image

    folder = data_root() / "Set12"
    files = sorted(folder.glob("*.png"))
    if names:
        files = [f for f in files if f.stem in names]
    if not files:
        raise SystemExit(f"no Set12 images found in {folder}")
    return [(f.stem, np.asarray(Image.open(f).convert("L"), dtype=np.float32) / 255) for f in files]


def _noisy(x, sigma, seed=0):
    rng = np.random.default_rng(seed)
    return (x + sigma * rng.standard_normal(x.shape)).astype(np.float32)


def _psnr(a, b):
    return float(10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - b) ** 2)))


def _skimage(y, sigma, h):
    from skimage.restoration import denoise_nl_means

    return denoise_nl_means(y, patch_size=PATCH, patch_distance=WINDOW // 2, h=h, sigma=sigma, fast_mode=True)


@contextlib.contextmanager
def _backend(name):
    """Force our CPU backend (``auto``, ``numba`` or ``torch``) through PNP_LESSONS_NLM_BACKEND."""
    old = os.environ.get(BACKEND_ENV)
    os.environ[BACKEND_ENV] = name
    try:
        yield
    finally:
        if old is None:
            del os.environ[BACKEND_ENV]
        else:
            os.environ[BACKEND_ENV] = old


def _ours(y, sigma, h, threads=1, device="cpu", patch=PATCH, backend="auto"):
    t = torch.from_numpy(y)[None, None].to(device)
    with _backend(backend):
        return nlm_denoise(t, sigma, patch, WINDOW, h=h, threads=threads)[0, 0].cpu()


def _numba_available():
    with _backend("auto"):
        return nlm_backend("cpu") == "numba"


def speed(repeats: int = 5):
    from skimage import __version__ as sk_version
    from skimage import data

    torch.set_num_threads(1)
    cam = data.camera().astype(np.float32) / 255               # 512 × 512
    sigma = 25 / 255
    h, h_peer = 0.6 * sigma, 0.8 * sigma
    cases = {"256x256": _noisy(cam[::2, ::2].copy(), sigma), "512x512": _noisy(cam, sigma)}
    methods = {"skimage fast_mode": lambda y: _skimage(y, sigma, h_peer)}
    has_numba = _numba_available()
    if has_numba:
        import numba

        methods["ours numba 1 thr"] = lambda y: _ours(y, sigma, h, backend="numba")
    methods["ours torch 1 thr"] = lambda y: _ours(y, sigma, h, backend="torch")
    if has_numba:
        methods["ours numba 2 thr"] = lambda y: _ours(y, sigma, h, threads=2, backend="numba")
    methods["ours torch 2 thr"] = lambda y: _ours(y, sigma, h, threads=2, backend="torch")

    print(f"NLM speed, patch {PATCH}, window {WINDOW} (patch_distance {WINDOW // 2}), grey, σ = 25/255")
    print(f"torch {torch.__version__}, numpy {np.__version__}, scikit-image {sk_version}, "
          + (f"numba {numba.__version__}" if has_numba else "numba not installed (numba rows skipped)"))
    if has_numba:
        t = time.perf_counter()
        methods["ours numba 1 thr"](cases["256x256"])
        first = time.perf_counter() - t
        stats = nlm_module._numba_kernel.accumulate.stats
        if sum(stats.cache_misses.values()):
            how = "compiled the kernel and saved it to numba's on-disk cache"
        elif sum(stats.cache_hits.values()):
            how = "loaded the kernel from numba's on-disk cache"
        else:
            how = "compiled the kernel (no writable on-disk cache)"
        print(f"first numba call (256², {how}): {first:.2f} s")
    print(f"warm-up: one untimed call of every method per size, then medians of {repeats} interleaved runs")
    print(f"{'size':>8}  {'method':<18} {'wall s':>7} {'cpu s':>7} {'skimage/ours wall':>18} "
          f"{'skimage/ours cpu':>17}")
    m = statistics.median
    for name, y in cases.items():
        for f in methods.values():                                   # warm-up (JIT, caches)
            f(y)
        wall = {k: [] for k in methods}
        cpu = {k: [] for k in methods}
        for _ in range(repeats):
            for k, f in methods.items():
                t, c = time.perf_counter(), time.process_time()
                f(y)
                wall[k].append(time.perf_counter() - t)
                cpu[k].append(time.process_time() - c)
        pw, pc = m(wall["skimage fast_mode"]), m(cpu["skimage fast_mode"])
        for k in methods:
            w, c = m(wall[k]), m(cpu[k])
            print(f"{name:>8}  {k:<18} {w:7.3f} {c:7.3f} {pw / w:17.2f}x {pc / c:16.2f}x")
    if torch.cuda.is_available():
        for name, y in cases.items():
            _ours(y, sigma, h, device="cuda")
            torch.cuda.synchronize()
            ts = []
            for _ in range(repeats):
                t = time.perf_counter()
                _ours(y, sigma, h, device="cuda")
                torch.cuda.synchronize()
                ts.append(time.perf_counter() - t)
            print(f"{name:>8} GPU ({torch.cuda.get_device_name()}): {statistics.median(ts) * 1e3:.1f} ms")
    else:
        print("no CUDA GPU here: GPU timing skipped")


def quality(names=None, sigmas=(15, 25), patches=(6, 7, 5), ours_grid=None, peer_grid=None, backend="auto"):
    torch.set_num_threads(1)
    images = _load_set12(names)
    ours_grid = ours_grid or [0.6, 0.7, 0.8, 0.9, 1.0]
    peer_grid = peer_grid or [0.5, 0.6, 0.7, 0.8, 0.9]
    print(f"NLM quality on Set12 ({len(images)} images), window {WINDOW}; skimage patch_size={PATCH}, "
          f"patch_distance={WINDOW // 2}, fast_mode=True, sigma given; grid of h/σ, best mean PSNR per σ.")
    with _backend(backend):
        print(f"ours: CPU backend {nlm_backend('cpu')} ({BACKEND_ENV}={backend})")
    print("NB: skimage's fast mode sums the patch distance over a 6×6 support for patch_size=7 "
          "(integral-image corners ±3 give rows −2..3), so ours with patch 6 has the same support.")
    summary = []
    for s255 in sigmas:
        sigma = s255 / 255
        noisy = [(n, x, _noisy(x, sigma, seed=i)) for i, (n, x) in enumerate(images)]
        peer = {f: [_psnr(_skimage(y, sigma, f * sigma), x) for _, x, y in noisy] for f in peer_grid}
        fp = max(peer, key=lambda f: np.mean(peer[f]))
        print(f"\nσ = {s255}/255")
        print("  skimage   h/σ: " + "  ".join(f"{f:.2f}:{np.mean(v):.2f}" for f, v in peer.items()))
        best = {}
        for p in patches:
            ours = {f: [_psnr(_ours(y, sigma, f * sigma, patch=p, backend=backend).numpy(), x) for _, x, y in noisy]
                    for f in ours_grid}
            fo = max(ours, key=lambda f: np.mean(ours[f]))
            best[p] = (fo, ours[fo])
            print(f"  ours p={p}  h/σ: " + "  ".join(f"{f:.2f}:{np.mean(v):.2f}" for f, v in ours.items()))
        print(f"  {'image':>6} {'noisy':>7} "
              f"" + " ".join(f"{'ours p=' + str(p):>9}" for p in patches) + f" {'skimage':>8}")
        for i, (n, x, y) in enumerate(noisy):
            print(f"  {n:>6} {_psnr(y, x):7.2f} " + " ".join(f"{best[p][1][i]:9.2f}" for p in patches)
                  + f" {peer[fp][i]:8.2f}")
        for p in patches:
            fo, v = best[p]
            gap = np.mean(v) - np.mean(peer[fp])
            print(f"  mean ours p={p}: {np.mean(v):.2f} dB (h = {fo}σ)  skimage {np.mean(peer[fp]):.2f} dB "
                  f"(h = {fp}σ)  ours − skimage = {gap:+.2f} dB")
            summary.append((s255, p, np.mean(v), fo, np.mean(peer[fp]), fp, gap))
    print("\n| σ·255 | ours patch | ours (best h/σ) | skimage patch_size=7 (best h/σ) | ours − skimage |")
    print("|---|---|---|---|---|")
    for s255, p, o, fo, pk, fp, gap in summary:
        print(f"| {s255} | {p} | {o:.2f} dB ({fo}) | {pk:.2f} dB ({fp}) | {gap:+.2f} dB |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quality", action="store_true", help="PSNR on Set12 instead of speed")
    ap.add_argument("--images", default=None, help="comma-separated Set12 names, e.g. 01,05,08")
    ap.add_argument("--sigmas", default="15,25", help="noise levels ·255")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--backend", choices=("auto", "numba", "torch"), default="auto",
                    help="our CPU backend for --quality (the speed run times both)")
    a = ap.parse_args(argv)
    if a.quality:
        quality(a.images.split(",") if a.images else None, [int(s) for s in a.sigmas.split(",")],
                backend=a.backend)
    else:
        speed(a.repeats)


if __name__ == "__main__":
    main()
