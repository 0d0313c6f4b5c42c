"""``pnp-lessons`` command line.

Subcommands live in a registry: a module adds one with::

    @command("name", help="one line")
    def _add_name(parser):          # fill the argparse sub-parser
        parser.add_argument(...)
        return run_name             # the function called with the parsed args

Heavy imports (torch models, data) happen inside the run functions, so ``pnp-lessons --help``
stays fast.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable

#: name -> (help, builder); the builder fills a sub-parser and returns the run function.
COMMANDS: dict[str, tuple[str, Callable]] = {}


def command(name: str, help: str = ""):
    """Register a subcommand builder (see the module docstring).

    Examples
    --------
    >>> "train" in COMMANDS and "evaluate-denoisers" in COMMANDS
    True
    """

    def deco(builder):
        COMMANDS[name] = (help, builder)
        return builder

    return deco


# ----------------------------------------------------------------------------- train


@command("train", help="train a GS-DRUNet / DRUNet-light denoiser and export it to data/weights")
def _add_train(p: argparse.ArgumentParser):
    p.add_argument("--name", default="gsdrunet-small-grey", help="run and weight-file name")
    p.add_argument("--train-dir", required=True, nargs="+",
                   help="folder(s) of training images (e.g. ../shared/data/Train400); several are pooled")
    p.add_argument("--val-dir", default=None, help="folder of validation images (e.g. ../shared/data/Set12)")
    p.add_argument("--kind", choices=("gs", "drunet"), default="gs")
    p.add_argument("--preset", choices=("small", "paper"), default="small")
    p.add_argument("--channels", type=int, choices=(1, 3), default=1)
    p.add_argument("--crop", type=int, default=128, help="crop size (reference: 128)")
    p.add_argument("--batch", type=int, default=16, help="batch per process (reference: 16)")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--max-minutes", type=float, default=None, help="wall-clock budget for training")
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (reference: 1e-4)")
    p.add_argument("--lr-milestones", type=float, nargs="*", default=[0.5, 0.75, 0.9],
                   help="progress fractions where the lr is halved")
    p.add_argument("--clip", type=float, default=1e-2, help="gradient-norm clip (reference: 1e-2)")
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--val-limit", type=int, default=4, help="validation images (0: all)")
    p.add_argument("--ckpt-every", type=int, default=200)
    p.add_argument("--run-dir", default="runs", help="checkpoints go to RUN_DIR/NAME/last.pt (resumed)")
    p.add_argument("--export-dir", default="data/weights", help="'' to skip the export")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--amp", choices=("auto", "on", "off"), default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--notes", default="", help="free text stored in the card")
    p.add_argument("--init-from", default=None,
                   help="start from these weights (a shipped name or a checkpoint path), e.g. to continue on a GPU; "
                        "grey weights may start a colour run (--channels 3) of the same size")

    p.add_argument("--sigma-focus", type=float, nargs=3, default=None, metavar=("LO", "HI", "FRACTION"),
                   help="draw FRACTION of the training noise levels from U[LO, HI]/255 instead of the "
                        "reference's U[0, 50]/255 (a fine-tuning option; 0..255 scale)")

    def run(a):
        from .train import TrainConfig, describe, train

        train_dir = a.train_dir[0] if len(a.train_dir) == 1 else tuple(a.train_dir)
        cfg = TrainConfig(
            name=a.name, train_dir=train_dir, val_dir=a.val_dir, kind=a.kind, preset=a.preset,
            channels=a.channels, crop=a.crop, batch=a.batch, steps=a.steps, max_minutes=a.max_minutes,
            lr=a.lr, lr_milestones=tuple(a.lr_milestones), clip=a.clip, val_every=a.val_every,
            val_limit=a.val_limit or None, ckpt_every=a.ckpt_every, run_dir=a.run_dir,
            export_dir=a.export_dir or None, seed=a.seed, device=a.device,
            amp={"auto": None, "on": True, "off": False}[a.amp], threads=a.threads,
            progress=not a.no_progress, notes=a.notes, init_from=a.init_from,
            sigma_focus=tuple(a.sigma_focus) if a.sigma_focus else None,
        )
        print(describe(cfg), flush=True)
        res = train(cfg)
        print(f"trained {res['steps']} steps in {res['wall_s'] / 60:.1f} min", flush=True)
        if res["export"]:
            print("exported:", res["export"]["weights"], res["export"]["card"], flush=True)
        return 0

    return run


# ----------------------------------------------------------------------------- evaluate-denoisers


@command("evaluate-denoisers", help="paper-style PSNR table of the denoisers (NLM, TV, BM3D, DRUNet-light, GS-DRUNet)")
def _add_eval(p: argparse.ArgumentParser):
    p.add_argument("--data-root", default=None, help="folder holding Set12/BSD68/CBSD68 (default: ../shared/data)")
    p.add_argument("--sets", nargs="*", default=None, help="test sets (default: Set12 BSD68, or CBSD68 with --colour)")
    p.add_argument("--colour", action="store_true", help="colour denoisers on CBSD68")
    p.add_argument("--sigmas", type=float, nargs="*", default=[5, 15, 25, 50], help="noise levels on the 0..255 scale")
    p.add_argument("--limit", nargs="*", default=None,
                   help="first N images of each set: N, or SET=N per set (e.g. BSD68=12)")
    p.add_argument("--methods", nargs="*", default=None,
                   help="subset of rows: label prefixes (nlm tv bm3d gs-drunet) or weight names (gsdrunet-small-grey)")
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--markdown", default=None, help="also write the table to this Markdown file")
    p.add_argument("--cache", default=None, help="JSON file of computed cells, reused and extended")
    p.add_argument("--time-size", type=int, default=256, help="image size of the timing column")
    p.add_argument("--only-cached", action="store_true", help="compute nothing: table from --cache, '–' elsewhere")
    p.add_argument("--no-clip", action="store_true",
                   help="PSNR of the output as it is, not clipped to [0, 1] (the reference's protocol)")
    p.add_argument("--self-ensemble", action="store_true",
                   help="add the x8 dihedral self-ensemble of each GS-DRUNet (still a gradient step; "
                        "eight gradient evaluations per image)")
    p.add_argument("--card", default=None, metavar="NAME",
                   help="write the evaluation of the weights NAME (with the other rows as peers) into their card "
                        "NAME.json in $PNP_LESSONS_WEIGHTS or data/weights")

    def run(a):
        from .denoisers.evaluate import evaluate_denoisers

        limit = None
        for tok in a.limit or []:
            if "=" in tok:
                name, n = tok.split("=", 1)
                limit = (limit if isinstance(limit, dict) else {}) | {name: int(n)}
            else:
                limit = int(tok)
        try:
            if a.card:
                from .denoisers.weights import list_shipped, read_card

                if a.card not in list_shipped():
                    raise ValueError(f"--card {a.card!r}: no such weights; present: {list_shipped() or 'none'}")
                card = read_card(a.card)
                channels = card.get("channels")
                if channels != (3 if a.colour else 1):
                    raise ValueError(f"--card {a.card!r} has {channels} channel(s): evaluate it "
                                     + ("without" if a.colour else "with") + " --colour")
                if a.methods and not any(m.lower() == a.card.lower() for m in a.methods):
                    a.methods = [*a.methods, a.card]
            res = evaluate_denoisers(data_root=a.data_root, sets=a.sets, colour=a.colour, sigmas=a.sigmas,
                                     limit=limit, only_cached=a.only_cached, methods=a.methods, device=a.device,
                                     seed=a.seed, markdown=a.markdown, cache=a.cache, time_size=a.time_size,
                                     self_ensemble=a.self_ensemble, clip=not a.no_clip)
            if a.card:
                from .denoisers.card import evaluation_block, write_evaluation
                from .denoisers.evaluate import _label

                command = "pnp-lessons " + " ".join(shlex.quote(t) for t in getattr(a, "_argv", sys.argv[1:]))
                block = evaluation_block(res, _label(a.card), command, dtype=card.get("dtype", ""))
                print(f"evaluation written into {write_evaluation(a.card, block)}")
        except ValueError as e:  # a bad --methods / --sets / --card: say which, no traceback
            print(f"pnp-lessons evaluate-denoisers: error: {e}", file=sys.stderr)
            return 2
        return 0

    return run


# ----------------------------------------------------------------------------- restore


@command("restore", help="run any solver of the registry on a sample image (the playground without a browser)")
def _add_restore(p: argparse.ArgumentParser):
    p.add_argument("--list", action="store_true", help="list the solvers, their parameters and sources, then stop")
    p.add_argument("--solver", default="pnp-ista", help="a key of pnp_lessons.solvers.registry (see --list)")
    p.add_argument("--operator", default="inpaint", choices=("denoise", "inpaint", "deblur", "sr"))
    p.add_argument("--denoiser", default=None, help="tv, nlm or gs:<shipped weights> (default: the playground's)")
    p.add_argument("--image", default="camera", help="a scikit-image sample (pnp_lessons.images.SAMPLES)")
    p.add_argument("--out", default=None, help="write the result here (PNG)")
    for key in ("size", "noise", "missing", "kernel_size", "kernel_std", "gamma", "sigma", "lam", "max_iter"):
        from .params import PARAMS

        q = PARAMS[key]
        p.add_argument(f"--{key.replace('_', '-')}", default=None, metavar=q.symbol,
                       help=f"{q.label}, {q.min:g} … {q.max:g}")
    p.add_argument("--kernel", default=None, choices=("gaussian", "uniform", "motion"))
    p.add_argument("--factor", type=int, default=None, choices=(2, 3, 4))
    p.add_argument("--seed", type=int, default=None)

    def run(a):
        from .params import PARAMS, SettingsError
        from .solvers import registry

        if a.list:
            for spec in registry.solvers():
                params = ", ".join(PARAMS[k].label for k in spec.params)
                print(f"{spec.key:10s} {spec.label}: {params}; denoiser: {spec.denoiser or 'none'}\n"
                      f"{'':10s} {spec.reference}")
            return 0
        from .images import to_png_bytes
        from .metrics import psnr
        from .problems import (ProblemCache, available_denoisers, describe, start, suggested_parameters,
                               validate_settings)
        from .solvers import run as run_solver

        given = {k: v for k, v in vars(a).items() if v is not None and not k.startswith("_")
                 and k not in ("list", "out", "command")}
        try:
            if "denoiser" not in given and registry.SOLVERS.get(a.solver) and registry.get(a.solver).denoiser == "gs":
                gs = [k for k, _, ok, _ in available_denoisers() if ok and k.startswith("gs:")]
                given["denoiser"] = gs[0] if gs else "gs:"        # the shipped GS-DRUNet (or the note that none is)
            # the solver's suggestion for this problem, then what was typed (each value checked as the playground does)
            s = validate_settings({**suggested_parameters(validate_settings(given)), **given})
            problem, it = start(s, ProblemCache())
            res = run_solver(it)
        except (SettingsError, KeyError) as e:
            print(f"pnp-lessons restore: error: {e}", file=sys.stderr)
            return 2
        print(f"{describe(s)}: {res.status} after {res.iterations} iterations, PSNR {res.last.psnr:.2f} dB "
              f"(observation {psnr(problem.y_display, problem.x_true):.2f} dB)")
        if a.out:
            with open(a.out, "wb") as f:
                f.write(to_png_bytes(res.x.clamp(0, 1)))
            print(f"wrote {a.out}")
        return 0 if res.status != "diverged" else 1

    return run


@command("site", help="build the lessons as a static site (no kernel, no network): make site")
def _add_site(p):
    p.add_argument("--out", default="site", help="output folder (default: site)")
    p.add_argument("--full", action="store_true", help="execute in full mode instead of CI-fast mode (slower)")
    p.add_argument("--pages", nargs="*", default=None,
                   help="notebooks to build, relative to notebooks/ (default: the lessons and the playground)")

    def run(a):
        from .site import build_site

        try:
            pages = build_site(a.out, fast=not a.full, pages=a.pages)
        except (FileNotFoundError, RuntimeError) as e:
            print(f"pnp-lessons site: error: {e}", file=sys.stderr)
            return 1
        print(f"wrote {len(pages)} pages to {a.out}/ (open {a.out}/index.html in a browser)")
        return 0

    return run


@command("release", help="write the lessons as nbgrader assignments: instructor versions and student versions")
def _add_release(p):
    p.add_argument("--course", default="course", help="nbgrader course folder (default: course)")
    p.add_argument("--lessons", nargs="*", default=None, help="lesson notebooks, e.g. 03_plug_and_play (default: all)")

    def run(a):
        from .grading import build_course

        try:
            released = build_course(a.course, a.lessons)
        except (RuntimeError, FileNotFoundError, ValueError) as e:
            print(f"pnp-lessons release: error: {e}", file=sys.stderr)
            return 1
        for path in released:
            print(f"student version: {path}")
        print(f"instructor versions in {a.course}/source/; grade submissions with `nbgrader autograde` there")
        return 0

    return run


# ----------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="pnp-lessons", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_, builder) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(_run=builder(sp))
    return parser


def main(argv=None) -> int:
    """Run ``pnp-lessons`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args._argv = list(sys.argv[1:] if argv is None else argv)  # the command, as typed (kept in cards)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
