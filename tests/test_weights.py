"""Weights: shipped files, export/load round trip, reference checkpoint mapping, safe loading."""

import argparse
import json
import re

import pytest
import torch
from safetensors.torch import load_file, save_file

from pnp_lessons.denoisers import weights as W
from pnp_lessons.denoisers.gsdrunet import DRUNetLight, GSDenoiser, count_parameters


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def reference_state_dict(channels: int, nc=(64, 128, 256, 512), nb=2, seed=0) -> dict:
    """Key names and shapes of the reference UNetRes / deepinv DRUNet (GS-DRUNet light),
    written out from the reference code's structure (not from our module), each tensor
    filled with distinct random values."""
    c0, c1, c2, c3 = nc
    shapes = {"m_head.weight": (c0, channels + 1, 3, 3)}
    for k, (ci, co) in enumerate([(c0, c1), (c1, c2), (c2, c3)], start=1):
        for i in range(nb):
            shapes[f"m_down{k}.{i}.res.0.weight"] = (ci, ci, 3, 3)
            shapes[f"m_down{k}.{i}.res.2.weight"] = (ci, ci, 3, 3)
        shapes[f"m_down{k}.{nb}.weight"] = (co, ci, 2, 2)  # Conv2d(ci, co, 2, stride 2)
    for i in range(nb):
        shapes[f"m_body.{i}.res.0.weight"] = (c3, c3, 3, 3)
        shapes[f"m_body.{i}.res.2.weight"] = (c3, c3, 3, 3)
    for k, (ci, co) in {3: (c3, c2), 2: (c2, c1), 1: (c1, c0)}.items():
        shapes[f"m_up{k}.0.weight"] = (ci, co, 2, 2)  # ConvTranspose2d weight is (in, out, kh, kw)
        for i in range(nb):
            shapes[f"m_up{k}.{i + 1}.res.0.weight"] = (co, co, 3, 3)
            shapes[f"m_up{k}.{i + 1}.res.2.weight"] = (co, co, 3, 3)
    shapes["m_tail.weight"] = (channels, c0, 3, 3)
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=g) * 0.01 for k, s in shapes.items()}


def check_landed(den, ref: dict):
    """Every reference tensor sits in the module of the same role in DRUNetLight."""
    net = den.net
    params = dict(net.named_parameters())
    assert len(params) == len(ref)
    for k, v in ref.items():
        assert torch.equal(params[k].detach().cpu(), v), k
    nb = net.nb
    # roles, spelled out for a few keys
    assert torch.equal(net.m_head.weight, ref["m_head.weight"])
    assert torch.equal(net.m_down2[nb].weight, ref[f"m_down2.{nb}.weight"]) and net.m_down2[nb].stride == (2, 2)
    assert isinstance(net.m_up1[0], torch.nn.ConvTranspose2d)
    assert torch.equal(net.m_up1[0].weight, ref["m_up1.0.weight"])
    assert torch.equal(net.m_body[nb - 1].res[2].weight, ref[f"m_body.{nb - 1}.res.2.weight"])
    assert torch.equal(net.m_tail.weight, ref["m_tail.weight"])


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("style", ["deepinv", "lightning", "safetensors"])
def test_from_checkpoint_paper_size_reference_keys(tmp_path, channels, style):
    ref = reference_state_dict(channels)
    assert sum(v.numel() for v in ref.values()) == count_parameters(DRUNetLight.from_preset("paper", channels))
    prefixed = {"student_grad.model." + k: v for k, v in ref.items()}
    if style == "deepinv":  # deepinv.models.GSDRUNet(...).state_dict()
        path = tmp_path / "GSDRUNet_torch.ckpt"
        torch.save(prefixed, path)
    elif style == "lightning":  # GSPnP GradMatch Lightning checkpoint
        path = tmp_path / "GSDRUNet.ckpt"
        sd = dict(prefixed)
        sd["train_PSNR.sum_squared_error"] = torch.tensor(0.0)  # unrelated entries are ignored
        torch.save({"epoch": 1200, "global_step": 10, "pytorch-lightning_version": "1.5.0",
                    "state_dict": sd, "hyper_parameters": argparse.Namespace(grayscale=channels == 1, act_mode="E"),
                    "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-4}]}]}, path)
    else:
        path = tmp_path / "gs.safetensors"
        save_file(prefixed, str(path))
    den = W.from_checkpoint(path, device="cpu")
    assert isinstance(den, GSDenoiser)
    assert den.config == {"channels": channels, "nc": [64, 128, 256, 512], "nb": 2}
    check_landed(den, ref)


def test_from_checkpoint_small_bare_and_plain_kind(tmp_path):
    ref = reference_state_dict(1, nc=(8, 8, 16, 16), nb=3)
    path = tmp_path / "bare.pth"
    torch.save(ref, path)
    den = W.from_checkpoint(path, kind="drunet", device="cpu")
    assert den.config == {"channels": 1, "nc": [8, 8, 16, 16], "nb": 3}
    check_landed(den, ref)
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(den.denoise(x, 0.1), den.net(x, 0.1))


class Evil:  # any class that is not allow-listed
    pass


def test_from_checkpoint_refuses_arbitrary_pickles(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": Evil()}, path)
    with pytest.raises(ValueError, match="not unpickled for safety"):
        W.from_checkpoint(path)


def test_from_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="path .* does not exist"):
        W.from_checkpoint(tmp_path / "missing.ckpt")
    p = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(2)}, p)
    with pytest.raises(KeyError, match="no DRUNet-light weights found"):
        W.from_checkpoint(p)
    ref = reference_state_dict(1, nc=(4, 4, 4, 4), nb=1)
    del ref["m_up2.1.res.0.weight"]
    torch.save(ref, p)
    with pytest.raises(KeyError, match="missing"):
        W.from_checkpoint(p)


def test_export_load_round_trip_exact(tmp_path):
    torch.manual_seed(0)
    net = DRUNetLight(1, (4, 8, 8, 8), 1)
    paths = W.export_weights(net, "tiny-grey", kind="gs", preset="custom", out_dir=tmp_path,
                             training={"steps": 3}, validation={"psnr": {"25": 20.0}})
    assert W.list_shipped(tmp_path) == ["tiny-grey"]
    stored = load_file(paths["weights"])
    assert all(v.dtype == torch.float16 for v in stored.values())
    den = W.load_denoiser("tiny-grey", device="cpu", folder=tmp_path)
    assert isinstance(den, GSDenoiser) and not den.training
    for k, v in den.net.state_dict().items():
        assert v.dtype == torch.float32
        assert torch.equal(v, stored[k].float())  # exactly what was exported
        assert torch.equal(v, net.state_dict()[k].half().float())
    card = json.loads((tmp_path / "tiny-grey.json").read_text())
    assert card == den.card
    for key in ("preset", "channels", "nc", "nb", "parameters", "training", "validation", "sha256"):
        assert key in card
    assert W.load_denoiser("tiny-grey", device="cpu", folder=tmp_path, kind="drunet").kind == "drunet"


def test_load_denoiser_missing_name_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no weights named 'nope'"):
        W.load_denoiser("nope", folder=tmp_path)
    with pytest.raises(ValueError, match="name must use letters"):
        W.export_weights(DRUNetLight(1, (4, 4, 4, 4), 1), "../bad", out_dir=tmp_path)


def test_download_only_on_request_and_offline_message(tmp_path):
    cached = tmp_path / "GSDRUNet_torch.ckpt"
    cached.write_bytes(b"x")
    assert W.download("deepinv-gsdrunet-colour", cache=tmp_path) == cached  # no network needed
    with pytest.raises(ConnectionError, match="You may be offline"):
        W.download("https://127.0.0.1:9/none.ckpt", cache=tmp_path, timeout=2)
    with pytest.raises(ValueError, match="name_or_url must be one of"):
        W.download("ftp://example/x")
    assert not (tmp_path / "none.ckpt").exists()


def test_importing_downloads_nothing(monkeypatch):
    import importlib
    import urllib.request

    def boom(*a, **k):
        raise AssertionError("network access at import")

    monkeypatch.setattr(urllib.request, "urlopen", boom)
    importlib.reload(W)


@pytest.mark.parametrize("name", ["gsdrunet-small-grey", "gsdrunet-small-colour"])
def test_shipped_weights_load_offline_and_denoise(name):
    if name not in W.list_shipped():
        pytest.skip(f"{name} is not in data/weights yet")
    den = W.load_denoiser(name, device="cpu")
    card = den.card
    assert card["name"] == name and card["parameters"] == count_parameters(den.net) <= 1_000_000
    assert (W.weights_dir() / f"{name}.safetensors").stat().st_size < 2 * 1024 * 1024
    c = 3 if name.endswith("-colour") else 1
    assert card["channels"] == den.net.channels == c
    x = torch.zeros(1, c, 64, 64)
    x[..., 16:48, 16:48] = 0.8
    x[:, -1, 30:60, 4:40] = 0.3  # in colour, a patch of another hue
    y = x + 25 / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        d = den.denoise(y, 25 / 255)
    assert float(((d - x) ** 2).mean()) < 0.5 * float(((y - x) ** 2).mean())


def test_cpu_load_uses_channels_last_with_the_same_output(tmp_path):
    """Loaded on the CPU, the convolutions are stored NHWC (faster oneDNN kernels); the
    denoiser, its gradient and a NCHW input give the same values as the default layout."""
    net = DRUNetLight(1, (8, 8, 8, 8), 1)
    W.export_weights(net, "cl-grey", out_dir=tmp_path)
    den = W.load_denoiser("cl-grey", device="cpu", folder=tmp_path)
    conv = next(p for p in den.net.parameters() if p.dim() == 4 and p.shape[-1] > 1)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    ref = GSDenoiser(DRUNetLight(1, (8, 8, 8, 8), 1)).eval()
    ref.net.load_state_dict({k: v.contiguous() for k, v in den.net.state_dict().items()})
    x = torch.rand(2, 1, 20, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(den.denoise(x, 0.1), ref.denoise(x, 0.1), rtol=0, atol=1e-5)
        torch.testing.assert_close(den.potential(x, 0.1), ref.potential(x, 0.1), rtol=1e-5, atol=1e-7)
    assert den.denoise(x, 0.1).is_contiguous()  # what callers get back is a plain NCHW image


@pytest.mark.parametrize("name", ["gsdrunet-small-grey", "gsdrunet-small-colour"])
def test_shipped_card_history_adds_up(name):
    """The card's stages are stage_1..stage_N and its total_steps is their sum (a stage counted
    twice, or one card's figures copied into another stage, breaks this)."""
    from pnp_lessons.denoisers.card import card_stages

    if name not in W.list_shipped():
        pytest.skip(f"{name} is not in data/weights yet")
    card = W.read_card(name)
    stages = card_stages(card)
    steps = [s["steps"] for s in stages]
    assert all(isinstance(n, int) and n > 0 for n in steps), steps
    if len(stages) > 1:
        assert card["training"]["total_steps"] == sum(steps)
        assert len({json.dumps(s, sort_keys=True) for s in stages}) == len(stages)  # no stage repeated


def test_shipped_grey_card_records_the_issue_bars():
    """The grey weights' card holds the evaluation they shipped with (written by ``evaluate-denoisers
    --card``), and it meets issue 4's bars: beat NLM and match or beat BM3D on Set12 and BSD68 at
    sigma = 15, 25, 50, with BM3D and NLM measured in the same protocol (``peers_same_protocol``)."""
    if "gsdrunet-small-grey" not in W.list_shipped():
        pytest.skip("gsdrunet-small-grey is not in data/weights yet")
    ev = W.read_card("gsdrunet-small-grey")["evaluation"]
    sigmas = ev["sigmas"]
    for set_name in ("Set12", "BSD68"):
        ours = ev[next(k for k in ev if k.startswith(set_name + " ("))]
        for peer in ("NLM", "BM3D"):
            theirs = dict(zip(sigmas, ev["peers_same_protocol"][peer][set_name], strict=False))
            for g in ("15", "25", "50"):
                assert ours[g] >= theirs[g] if peer == "BM3D" else ours[g] > theirs[g], (set_name, peer, g)


def test_card_stages_errors_and_order():
    from pnp_lessons.denoisers.card import card_stages, chain_training

    t = {f"stage_{i}": {"steps": i} for i in range(1, 12)}  # stage_10 sorts after stage_9, not stage_1
    assert [s["steps"] for s in card_stages({"training": {**t, "steps": 99}})] == list(range(1, 12)) + [99]
    with pytest.raises(ValueError, match="stage_1..stage_N without gaps"):
        card_stages({"training": {"stage_1": {}, "stage_3": {}}})
    with pytest.raises(TypeError, match="card must be a dict"):
        card_stages("gsdrunet-small-grey")
    with pytest.raises(ValueError, match="'steps'"):
        chain_training({}, {}, "x")
    # an external checkpoint's card says nothing of its steps: no total is made up
    assert "total_steps" not in chain_training({"name": "authors"}, {"steps": 4}, "GSDRUNet.ckpt")


def test_lightning_attributedict_hyperparameters_are_read_as_dict(tmp_path, monkeypatch):
    import sys
    import types

    class AttributeDict(dict):
        pass

    AttributeDict.__module__ = "pytorch_lightning.utilities.parsing"
    AttributeDict.__qualname__ = "AttributeDict"
    for name in ("pytorch_lightning", "pytorch_lightning.utilities", "pytorch_lightning.utilities.parsing"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["pytorch_lightning.utilities.parsing"].AttributeDict = AttributeDict
    ref = reference_state_dict(1, nc=(4, 4, 8, 8), nb=1)
    path = tmp_path / "pl.ckpt"
    torch.save({"state_dict": {"student_grad.model." + k: v for k, v in ref.items()},
                "hyper_parameters": AttributeDict(grayscale=True, DRUNET_nb=1)}, path)
    for name in ("pytorch_lightning", "pytorch_lightning.utilities", "pytorch_lightning.utilities.parsing"):
        monkeypatch.delitem(sys.modules, name)  # the loader must not need Lightning installed
    check_landed(W.from_checkpoint(path, device="cpu"), ref)


def test_evaluate_denoisers_table(tmp_path, monkeypatch):
    from PIL import Image

    from pnp_lessons.cli import main
    from pnp_lessons.denoisers.evaluate import evaluate_denoisers

    (tmp_path / "data" / "Set12").mkdir(parents=True)
    for i in range(2):
        a = (torch.rand(24, 24, generator=torch.Generator().manual_seed(i)) * 255).to(torch.uint8).numpy()
        Image.fromarray(a).save(tmp_path / "data" / "Set12" / f"{i:02d}.png")
    W.export_weights(DRUNetLight(1, (4, 4, 4, 4), 1), "gsdrunet-small-grey", out_dir=tmp_path / "w")
    monkeypatch.setenv(W.ENV_VAR, str(tmp_path / "w"))
    from pnp_lessons.runtime import describe_device

    lines, threads, here = [], torch.get_num_threads(), describe_device("cpu")
    res = evaluate_denoisers(data_root=tmp_path / "data", sets=["Set12"], sigmas=[25], methods=["tv", "gs-drunet"],
                             device="cpu", out=lines.append, time_size=32, cache=tmp_path / "c.json",
                             markdown=tmp_path / "t.md")
    assert set(res["psnr"]) == {"TV", "GS-DRUNet small"}
    assert "| GS-DRUNet small |" in res["table"] and "Set12 σ=25" in res["table"]
    assert any("GS-DRUNet paper" in n and "not trained/shipped" in n for n in res["notes"])
    assert (tmp_path / "t.md").read_text().startswith("| Method |")
    cached = json.loads((tmp_path / "c.json").read_text())
    assert cached["TV|Set12|25|2|0"] == res["psnr"]["TV"]["Set12"][25]
    # second run reads the cache; the CLI prints the same table
    assert main(["evaluate-denoisers", "--data-root", str(tmp_path / "data"), "--sets", "Set12", "--sigmas", "25",
                 "--methods", "tv", "--cache", str(tmp_path / "c.json"), "--device", "cpu", "--time-size", "32"]) == 0
    # --self-ensemble adds the x8 row after the GS row, same weights, its own cache cell
    assert main(["evaluate-denoisers", "--data-root", str(tmp_path / "data"), "--sets", "Set12", "--sigmas", "25",
                 "--methods", "gs-drunet", "--cache", str(tmp_path / "c.json"), "--device", "cpu",
                 "--time-size", "32", "--self-ensemble"]) == 0
    cached = json.loads((tmp_path / "c.json").read_text())
    assert cached["GS-DRUNet small|Set12|25|2|0"] == res["psnr"]["GS-DRUNet small"]["Set12"][25]
    assert "GS-DRUNet small ×8|Set12|25|2|0" in cached
    assert cached["GS-DRUNet small ×8|Set12|25|2|0"] != cached["GS-DRUNet small|Set12|25|2|0"]
    # a table printed from the cache says where its times were measured, not where it is printed
    torch.set_num_threads(1 if threads != 1 else 2)
    n_before = len(lines)
    try:
        res = evaluate_denoisers(data_root=tmp_path / "data", sets=["Set12"], sigmas=[25], methods=["tv"],
                                 device="cpu", out=lines.append, time_size=32, cache=tmp_path / "c.json",
                                 only_cached=True)
    finally:
        torch.set_num_threads(threads)
    assert res["device"] == here
    assert any(f"times on {here}, torch" in line for line in lines[n_before:])
    cached = json.loads((tmp_path / "c.json").read_text())
    cached["TV|ms|cpu|32|on"] = "CPU (7 threads)"
    (tmp_path / "c.json").write_text(json.dumps(cached))
    res = evaluate_denoisers(data_root=tmp_path / "data", sets=["Set12"], sigmas=[25], methods=["tv", "gs-drunet"],
                             device="cpu", out=lines.append, time_size=32, cache=tmp_path / "c.json", only_cached=True,
                             self_ensemble=True)
    assert res["device"] == f"TV on CPU (7 threads); GS-DRUNet small, GS-DRUNet small ×8 on {here}"
    # rows are named by label prefix or by weight name; a name that matches nothing is an error, not an empty table
    res = evaluate_denoisers(data_root=tmp_path / "data", sets=["Set12"], sigmas=[25], methods=["gsdrunet-small-grey"],
                             device="cpu", out=lines.append, time_size=32, cache=tmp_path / "c.json")
    assert set(res["psnr"]) == {"GS-DRUNet small"}
    with pytest.raises(ValueError, match=r"\['gsdrunet-paper-grey'\] match no row.*GS-DRUNet paper: no weights"):
        evaluate_denoisers(data_root=tmp_path / "data", sets=["Set12"], sigmas=[25], methods=["gsdrunet-paper-grey"],
                           device="cpu", out=lines.append, time_size=32, cache=tmp_path / "c.json")
    assert main(["evaluate-denoisers", "--data-root", str(tmp_path / "data"), "--sets", "Set12", "--sigmas", "25",
                 "--methods", "nmm", "--device", "cpu"]) == 2



def test_colour_evaluation_adds_the_grey_weights_in_the_opponent_basis(tmp_path, monkeypatch):
    from PIL import Image

    from pnp_lessons.denoisers.colour import opponent_colour
    from pnp_lessons.denoisers.evaluate import evaluate_denoisers
    from pnp_lessons.metrics import psnr

    (tmp_path / "data" / "CBSD68").mkdir(parents=True)
    a = (torch.rand(24, 24, 3, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8).numpy()
    Image.fromarray(a).save(tmp_path / "data" / "CBSD68" / "00.png")
    W.export_weights(DRUNetLight(1, (4, 4, 4, 4), 1), "gsdrunet-small-grey", out_dir=tmp_path / "w")
    W.export_weights(DRUNetLight(3, (4, 4, 4, 4), 1), "gsdrunet-small-colour", out_dir=tmp_path / "w")
    monkeypatch.setenv(W.ENV_VAR, str(tmp_path / "w"))
    res = evaluate_denoisers(data_root=tmp_path / "data", colour=True, sigmas=[25], methods=["gs-drunet", "opponent"],
                             device="cpu", out=lambda *_: None, time_size=32)
    label = "Opponent GS-DRUNet small (grey weights)"
    assert set(res["psnr"]) == {"GS-DRUNet small", label}
    # the opponent row is the grey weights' OpponentGSDenoiser, under the table's protocol (clipped, seeded noise)
    x = torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255
    g = torch.Generator().manual_seed(25 * 100 * 1009)  # the table's noise for seed 0, sigma 25, image 0
    y = x + 25 / 255 * torch.randn(x.shape, generator=g)
    D = opponent_colour(W.load_denoiser("gsdrunet-small-grey", device="cpu"))
    want = psnr(D.denoise(y, 25 / 255).clamp(0, 1), x)
    assert res["psnr"][label]["CBSD68"][25] == pytest.approx(want, abs=1e-4)
    assert res["psnr"][label]["CBSD68"][25] != res["psnr"]["GS-DRUNet small"]["CBSD68"][25]


def test_evaluate_card_writes_the_measured_evaluation(tmp_path, monkeypatch, capsys):
    """``evaluate-denoisers --card NAME`` stores the row it measured, and its peers, in NAME's card."""
    from PIL import Image

    from pnp_lessons.cli import main
    from pnp_lessons.denoisers.card import card_stages

    for st, n in (("Set12", 2), ("BSD68", 3)):
        (tmp_path / "data" / st).mkdir(parents=True)
        for i in range(n):
            a = (torch.rand(24, 24, generator=torch.Generator().manual_seed(10 * n + i)) * 255).to(torch.uint8).numpy()
            Image.fromarray(a).save(tmp_path / "data" / st / f"{i:02d}.png")
    W.export_weights(DRUNetLight(1, (4, 4, 4, 4), 1), "gsdrunet-small-grey", out_dir=tmp_path / "w",
                     training={"steps": 7})
    W.export_weights(DRUNetLight(3, (4, 4, 4, 4), 1), "gsdrunet-small-colour", out_dir=tmp_path / "w")
    monkeypatch.setenv(W.ENV_VAR, str(tmp_path / "w"))
    before = W.read_card("gsdrunet-small-grey")
    argv = ["evaluate-denoisers", "--data-root", str(tmp_path / "data"), "--sets", "Set12", "BSD68",
            "--sigmas", "15", "25", "--methods", "tv", "--device", "cpu", "--time-size", "32",
            "--cache", str(tmp_path / "c.json"), "--card", "gsdrunet-small-grey"]
    assert main(argv) == 0
    card = W.read_card("gsdrunet-small-grey")
    ev = card["evaluation"]
    cached = json.loads((tmp_path / "c.json").read_text())
    # the figures are the table's, rounded to 0.01 dB; the row was added although --methods named only tv
    assert ev["Set12 (2 images)"] == {g: round(cached[f"GS-DRUNet small|Set12|{g}|2|0"], 2) for g in ("15", "25")}
    assert ev["BSD68 (3 images)"]["25"] == round(cached["GS-DRUNet small|BSD68|25|3|0"], 2)
    assert ev["peers_same_protocol"] == {"TV": {"Set12": [round(cached[f"TV|Set12|{g}|2|0"], 2) for g in ("15", "25")],
                                                "BSD68": [round(cached[f"TV|BSD68|{g}|3|0"], 2) for g in ("15", "25")]}}
    assert ev["command"].startswith("pnp-lessons evaluate-denoisers "
                                    "--data-root") and "--card gsdrunet-small-grey" in ev["command"]
    assert ev["noise_seed"] == 0 and ev["weights"] == "this file (float16)" and ev["ms_per_32x32"] > 0
    assert {k: v for k, v in card.items() if k != "evaluation"} == before  # nothing else touched
    assert card_stages(card)[-1]["steps"] == 7
    # wrong channels, unknown name, or an unmeasured cell: exit 2 with the reason, the cards left as they were
    base = argv[:argv.index("--sigmas")] + argv[argv.index("--methods"):argv.index("--card")]
    for extra, why in ((["--sigmas", "25", "--card", "gsdrunet-small-colour"], "has 3 channel"),
                       (["--sigmas", "25", "--card", "gsdrunet-tiny-grey"], "no such weights"),
                       (["--sigmas", "50", "--only-cached", "--card", "gsdrunet-small-grey"],
                        r"no Set12 PSNR at sigma \['50'\]")):
        capsys.readouterr()
        assert main(base + extra) == 2
        err = capsys.readouterr().err
        assert "error" in err and re.search(why, err), err
    assert W.read_card("gsdrunet-small-grey") == card
    assert "evaluation" not in W.read_card("gsdrunet-small-colour")
