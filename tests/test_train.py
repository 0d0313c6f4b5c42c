"""Training pipeline: a tiny run on synthetic images, loss goes down, resume, export -> load."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from pnp_lessons.denoisers.weights import load_denoiser
from pnp_lessons.train import TrainConfig, load_image_folder, lr_at, random_crops, train, validate


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    """Six smooth 40x40 grey images with edges (piecewise-constant + gradient)."""
    d = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:40] / 40.0
    for i in range(6):
        a = 0.3 + 0.4 * (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1))
        a[rng.integers(5, 20) : rng.integers(25, 38), rng.integers(5, 20) : rng.integers(25, 38)] += 0.3
        Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8)).save(d / f"{i}.png")
    return d


def tiny_cfg(image_dir, tmp_path, **kw):
    base = dict(name="tiny-grey", train_dir=str(image_dir), val_dir=str(image_dir), kind="gs", preset="small",
                nc=(8, 8, 8, 8), nb=1, crop=24, batch=4, steps=40, lr=3e-3, val_every=0, val_limit=2,
                ckpt_every=20, run_dir=str(tmp_path / "runs"), export_dir=str(tmp_path / "w"), progress=False,
                threads=None, seed=0)
    base.update(kw)
    return TrainConfig(**base)


def test_tiny_gs_training_lowers_loss_and_round_trips(image_dir, tmp_path):
    seen = []
    cfg = tiny_cfg(image_dir, tmp_path)
    res = train(cfg, callback=lambda step, loss: seen.append((step, loss)))
    assert [s for s, _ in seen] == list(range(1, 41))  # callback once per step
    losses = np.array([v for _, v in seen])
    assert losses[-10:].mean() < 0.5 * losses[:5].mean(), losses
    # export -> load round-trips exactly (fp16 on disk, loaded as float32)
    exp = res["export"]
    stored = load_file(exp["weights"])
    den = load_denoiser("tiny-grey", device="cpu", folder=tmp_path / "w")
    for k, v in res["net"].state_dict().items():
        assert torch.equal(den.net.state_dict()[k], stored[k].float())
        assert torch.equal(stored[k], v.half())
    card = json.loads((tmp_path / "w" / "tiny-grey.json").read_text())
    assert card["training"]["steps"] == 40 and card["training"]["crop"] == 24 and card["training"]["seed"] == 0
    assert set(card["validation"]["psnr_fp32"]) == {"5", "15", "25", "50"}
    assert card["nc"] == [8, 8, 8, 8] and card["kind"] == "gs"


def test_resume_continues_from_checkpoint(image_dir, tmp_path):
    cfg = tiny_cfg(image_dir, tmp_path, steps=6, ckpt_every=3, export_dir=None, lr=1e-3)
    r1 = train(cfg)
    assert r1["steps"] == 6 and (tmp_path / "runs" / "tiny-grey" / "last.pt").exists()
    cfg.steps = 9
    r2 = train(cfg)
    assert r2["steps"] == 9
    assert [s for s, _ in r2["history"]] == list(range(1, 10))
    assert r2["history"][:6] == r1["history"]
    # checkpoints hold plain tensors and numbers only
    ck = torch.load(tmp_path / "runs" / "tiny-grey" / "last.pt", weights_only=True)
    assert ck["step"] == 9


def test_max_minutes_stops_the_run(image_dir, tmp_path):
    res = train(tiny_cfg(image_dir, tmp_path, steps=1000, max_minutes=1e-9, export_dir=None))
    assert res["steps"] <= 1


def test_plain_drunet_kind_trains(image_dir, tmp_path):
    res = train(tiny_cfg(image_dir, tmp_path, kind="drunet", steps=3, export_dir=None))
    assert res["steps"] == 3 and res["denoiser"].kind == "drunet"


def test_helpers(image_dir):
    imgs = load_image_folder(image_dir, 1, limit=2)
    assert len(imgs) == 2 and imgs[0].shape == (1, 1, 40, 40)
    b = random_crops(imgs, 5, 16, torch.Generator().manual_seed(0))
    assert b.shape == (5, 1, 16, 16)
    with pytest.raises(ValueError, match="crop size 64 is larger"):
        random_crops(imgs, 1, 64, torch.Generator())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image_folder(image_dir / "nope")
    cfg = TrainConfig(lr=1e-4)
    assert lr_at(cfg, 0.0) == 1e-4 and lr_at(cfg, 0.95) == pytest.approx(1.25e-5)


def test_validate_reports_every_sigma(image_dir):
    from pnp_lessons.denoisers.gsdrunet import DRUNetLight, GSDenoiser

    v = validate(GSDenoiser(DRUNetLight(1, (4, 4, 4, 4), 1)), load_image_folder(image_dir, 1, 1))
    assert sorted(v) == [5, 15, 25, 50] and all(np.isfinite(list(v.values())))


def test_cli_train_and_bad_kind(image_dir, tmp_path, capsys):
    from pnp_lessons.cli import main

    rc = main(["train", "--name", "cli-grey", "--train-dir", str(image_dir), "--crop", "16", "--batch", "2",
               "--steps", "2", "--run-dir", str(tmp_path / "r"), "--export-dir", str(tmp_path / "w"),
               "--no-progress", "--val-every", "0"])
    assert rc == 0
    assert "exported:" in capsys.readouterr().out
    with pytest.raises(ValueError, match="kind must be 'gs' or 'drunet'"):
        train(tiny_cfg(image_dir, tmp_path, kind="nlm"))


def test_several_training_folders_are_pooled(image_dir, tmp_path):
    """``--train-dir A B``: every image of both folders is drawn from, and the card names both."""
    from pnp_lessons.cli import main
    from pnp_lessons.train import load_training_images

    other = tmp_path / "Other"
    other.mkdir()
    Image.fromarray(np.full((30, 50), 200, np.uint8)).save(other / "flat.png")
    pooled = load_training_images([str(image_dir), str(other)])
    assert len(pooled) == 7 and pooled[-1].shape == (1, 1, 30, 50)
    assert len(load_training_images(str(image_dir))) == 6
    with pytest.raises(ValueError, match="names no folder"):
        load_training_images([])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_training_images([str(image_dir), str(tmp_path / "missing")])
    rc = main(["train", "--name", "pool-grey", "--train-dir", str(image_dir), str(other), "--crop", "16",
               "--batch", "2", "--steps", "2", "--run-dir", str(tmp_path / "r"), "--export-dir", str(tmp_path / "w"),
               "--no-progress", "--val-every", "0"])
    assert rc == 0
    card = json.loads((tmp_path / "w" / "pool-grey.json").read_text())
    assert card["training"]["data"] == f"{image_dir.name}+Other" and card["training"]["images"] == 7


def test_init_from_exported_weights(image_dir, tmp_path):
    first = train(tiny_cfg(image_dir, tmp_path, steps=2, name="a-grey"))
    path = first["export"]["weights"]
    second = train(tiny_cfg(image_dir, tmp_path, steps=0, name="b-grey", export_dir=None, init_from=path))
    for k, v in second["net"].state_dict().items():
        assert torch.equal(v, first["net"].state_dict()[k].half().float())
    with pytest.raises(ValueError, match="init_from .* has config"):
        train(tiny_cfg(image_dir, tmp_path, steps=0, name="c-grey", nc=(4, 4, 4, 4), init_from=path))


def test_a_run_started_from_weights_keeps_their_history_in_the_card(image_dir, tmp_path):
    """Stage 2 from stage 1's export, stage 3 from stage 2's: the card lists both earlier stages."""
    w = tmp_path / "w"
    one = train(tiny_cfg(image_dir, tmp_path, steps=2, name="s-grey", crop=16))
    card1 = json.loads((w / "s-grey.json").read_text())
    assert "stage_1" not in card1["training"] and "init_from" not in card1["training"]
    # same name and folder: the export overwrites the card the history is read from
    train(tiny_cfg(image_dir, tmp_path, steps=3, name="s-grey", run_dir=str(tmp_path / "r2"),
                   init_from=one["export"]["weights"]))
    card2 = json.loads((w / "s-grey.json").read_text())
    t2 = card2["training"]
    assert t2["steps"] == 3 and t2["stage"] == 2 and t2["total_steps"] == 5
    assert t2["init_from"] == "s-grey.safetensors"
    assert t2["stage_1"]["steps"] == 2 and t2["stage_1"]["crop"] == 16 and t2["crop"] == 24
    train(tiny_cfg(image_dir, tmp_path, steps=1, name="s-grey", run_dir=str(tmp_path / "r3"),
                   init_from=str(w / "s-grey.safetensors")))
    t3 = json.loads((w / "s-grey.json").read_text())["training"]
    assert (t3["stage"], t3["total_steps"]) == (3, 6)
    assert [t3["stage_1"]["steps"], t3["stage_2"]["steps"]] == [2, 3]
    assert "stage_1" not in t3["stage_2"]  # stages are not nested
    # resuming stage 3 to more steps, after its export overwrote the card: still 3 stages, not 4
    train(tiny_cfg(image_dir, tmp_path, steps=2, name="s-grey", run_dir=str(tmp_path / "r3"),
                   init_from=str(w / "s-grey.safetensors")))
    t3b = json.loads((w / "s-grey.json").read_text())["training"]
    assert (t3b["stage"], t3b["steps"], t3b["total_steps"]) == (3, 2, 7)
    assert [t3b["stage_1"]["steps"], t3b["stage_2"]["steps"]] == [2, 3]


def test_a_colour_run_can_start_from_grey_weights(image_dir, tmp_path):
    """``--channels 3 --init-from <grey weights>``: the colour network starts as the grey denoiser
    of the channel mean in every channel, and its card records the grey stages and the mapping."""
    grey = train(tiny_cfg(image_dir, tmp_path, steps=2, name="g-grey", crop=16))
    path = grey["export"]["weights"]
    train(tiny_cfg(image_dir, tmp_path, steps=1, lr=0.0, name="g-colour", channels=3,
                         init_from=path, run_dir=str(tmp_path / "rc")))
    D_grey = load_denoiser("g-grey", device="cpu", folder=tmp_path / "w")
    D_col = load_denoiser("g-colour", device="cpu", folder=tmp_path / "w")
    x = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = D_grey.denoise(x.mean(1, keepdim=True), 0.1).expand(-1, 3, -1, -1)
        torch.testing.assert_close(D_col.denoise(x, 0.1), want, rtol=0, atol=5e-4)  # w/3 stored in fp16
    t = json.loads((tmp_path / "w" / "g-colour.json").read_text())["training"]
    assert t["stage"] == 2 and t["stage_1"]["channels"] == 1 and t["stage_1"]["steps"] == 2
    assert t["init_from"] == "g-grey.safetensors" and "grey->colour" in t["init_adaptation"]
    with pytest.raises(ValueError, match="init_from .* has config"):  # other widths: still refused
        train(tiny_cfg(image_dir, tmp_path, steps=0, name="h-colour", channels=3, nc=(4, 4, 4, 4),
                       init_from=path, run_dir=str(tmp_path / "rh")))


def test_sigma_focus_draws_the_named_share_and_the_card_says_so(image_dir, tmp_path):
    """``--sigma-focus LO HI FRACTION``: that share of the noise levels comes from U[LO, HI]; without
    it the draw is the reference's U[0, 50]/255, number for number; the card and later stages say which."""
    from pnp_lessons.cli import main
    from pnp_lessons.train import draw_sigma

    ref = torch.rand(6, generator=torch.Generator().manual_seed(3)) * (50 / 255)
    assert torch.equal(draw_sigma(TrainConfig(), 6, torch.Generator().manual_seed(3)), ref)
    s = draw_sigma(TrainConfig(sigma_focus=(10, 20, 0.6)), 40_000, torch.Generator().manual_seed(0)) * 255
    assert float(s.min()) >= 0 and float(s.max()) <= 50
    inside = ((s >= 10) & (s <= 20)).float().mean()
    assert float(inside) == pytest.approx(0.6 + 0.4 * 10 / 50, abs=0.01)  # the focus share + the uniform part
    every = draw_sigma(TrainConfig(sigma_focus=(10, 20, 1.0)), 1000, torch.Generator()) * 255
    assert float(every.min()) >= 10 and float(every.max()) <= 20
    for bad, match in [((20, 10, 0.5), "lo < hi"), ((0, 300, 0.5), "lo < hi <= 255"),
                       ((0, 25, 0.0), "fraction must be in"), ((0, 25), r"\(lo, hi, fraction\)")]:
        with pytest.raises(ValueError, match=match):
            train(tiny_cfg(image_dir, tmp_path, sigma_focus=bad))
    w = tmp_path / "w"
    rc = main(["train", "--name", "focus-grey", "--train-dir", str(image_dir), "--crop", "16", "--batch", "2",
               "--steps", "2", "--run-dir", str(tmp_path / "r"), "--export-dir", str(w), "--no-progress",
               "--val-every", "0", "--sigma-focus", "0", "25", "0.5"])
    assert rc == 0
    t = json.loads((w / "focus-grey.json").read_text())["training"]
    assert t["sigma_train"] == "U[0, 50.0]/255 per sample, but 50 % of the samples from U[0, 25]/255 instead"
    # the next stage (reference draw) keeps the earlier stage's sigma_train in its history
    rc = main(["train", "--name", "focus-grey", "--train-dir", str(image_dir), "--crop", "16", "--batch", "2",
               "--steps", "1", "--run-dir", str(tmp_path / "r2"), "--export-dir", str(w), "--no-progress",
               "--val-every", "0", "--init-from", str(w / "focus-grey.safetensors")])
    t2 = json.loads((w / "focus-grey.json").read_text())["training"]
    assert t2["sigma_train"] == "U[0, 50.0]/255 per sample"
    assert t2["stage_1"]["sigma_train"] == t["sigma_train"]
