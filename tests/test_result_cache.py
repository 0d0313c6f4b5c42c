"""The result cache shared by a server's kernels (pnp_lessons/result_cache.py): a replay is the run it stored, only
finished runs are stored, damaged files and full budgets cost the cache and never the page, and two playgrounds
(two students' kernels) share their runs through one directory."""

from __future__ import annotations

import os

import pytest
import torch

from conftest import wait_until
from pnp_lessons import problems as P
from pnp_lessons import result_cache as R
from pnp_lessons.operators import Denoising
from pnp_lessons.solvers import ista

SMALL = dict(size=40, max_iter=12)


def _run(n=6, lam=0.1):
    torch.manual_seed(0)
    return ista(Denoising(), torch.rand(1, 1, 8, 8), lam, max_iter=n, tol=0)


def test_a_replay_gives_back_every_summary_and_the_first_and_last_images(tmp_path):
    cache = R.ResultCache(tmp_path)
    key = cache.key({"lam": 0.1}, ("toy",), "cpu")
    computed = list(cache.record(key, _run()))
    replayed = cache.replay(key)
    assert replayed is not None and replayed.replayed
    again = list(replayed)
    assert [r.summary() for r in again] == [r.summary() for r in computed]
    assert torch.equal(again[0].x, computed[0].x) and torch.equal(again[-1].x, computed[-1].x)
    assert all(r.x is None for r in again[1:-1]), "only the images a page shows are kept"
    assert again[-1].status == computed[-1].status == "max_iter" and again[-1].message == computed[-1].message
    assert (cache.hits, cache.stored) == (1, 1)


def test_a_run_that_did_not_end_by_itself_is_not_stored(tmp_path):
    cache = R.ResultCache(tmp_path)
    key = cache.key({"lam": 0.2}, ("toy",), "cpu")
    it = cache.record(key, _run(n=10))
    for rec in it:
        if rec.k == 3:          # a newer move cancels the run between two iterations
            break
    it.close()
    assert cache.replay(key) is None and cache.stored == 0


def test_keys_separate_settings_problems_devices_and_code():
    k = R.ResultCache.key
    base = k({"gamma": 0.9, "sigma": 15.0}, ("camera", 128), "cpu")
    assert base == k({"sigma": 15.0, "gamma": 0.9}, ("camera", 128), "cpu"), "order of the settings is irrelevant"
    assert base != k({"gamma": 0.95, "sigma": 15.0}, ("camera", 128), "cpu")
    assert base != k({"gamma": 0.9, "sigma": 15.0}, ("upload:0123456789ab", 128), "cpu")
    assert base != k({"gamma": 0.9, "sigma": 15.0}, ("camera", 128), "cuda")
    assert len(R.code_version()) == 16


def test_a_damaged_file_is_a_miss_and_is_removed(tmp_path):
    cache = R.ResultCache(tmp_path)
    key = cache.key({"lam": 0.1}, ("toy",), "cpu")
    list(cache.record(key, _run()))
    path = tmp_path / f"{key}.pt"
    path.write_bytes(path.read_bytes()[:100])
    assert cache.replay(key) is None and not path.exists()
    path.write_bytes(b"not a run at all")
    assert cache.replay(key) is None and not path.exists()


def test_the_cache_stays_within_its_budget_dropping_the_least_recently_used(tmp_path):
    cache = R.ResultCache(tmp_path)
    keys = [cache.key({"lam": lam}, ("toy",), "cpu") for lam in (0.1, 0.2, 0.3)]
    list(cache.record(keys[0], _run(lam=0.1)))
    one = cache.size_bytes()
    cache.max_bytes = int(2.5 * one)
    list(cache.record(keys[1], _run(lam=0.2)))
    os.utime(tmp_path / f"{keys[1]}.pt", (1, 1))          # keys[1] is now the least recently used
    assert cache.replay(keys[0]) is not None               # and a read makes keys[0] recent
    list(cache.record(keys[2], _run(lam=0.3)))
    assert cache.size_bytes() <= cache.max_bytes
    assert cache.replay(keys[1]) is None and cache.replay(keys[0]) is not None and cache.replay(keys[2]) is not None
    with pytest.raises(ValueError, match="max_bytes"):
        R.ResultCache(tmp_path, max_bytes=0)


def test_an_unwritable_directory_costs_the_cache_not_the_run(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    cache = R.ResultCache(blocker / "cache")
    key = cache.key({"lam": 0.1}, ("toy",), "cpu")
    assert [r.k for r in cache.record(key, _run())] == [1, 2, 3, 4, 5, 6]
    assert cache.stored == 0 and cache.replay(key) is None


def test_the_environment_names_the_directory_or_turns_it_off(monkeypatch, tmp_path):
    monkeypatch.setenv(R.ENV, "off")
    assert R.from_env() is None
    monkeypatch.setenv(R.ENV, str(tmp_path))
    assert R.from_env().root == tmp_path
    monkeypatch.delenv(R.ENV)
    monkeypatch.setattr(R.tempfile, "gettempdir", lambda: str(tmp_path))
    mine = R.from_env()
    assert mine.root == tmp_path / f"pnp-lessons-results-{os.getuid()}" and (mine.root.stat().st_mode & 0o777) == 0o700
    mine.root.chmod(0o777)                     # others could put runs there: not used
    assert R.from_env() is None
    if os.getuid() == 0:                       # someone else's directory under the same name: not used
        mine.root.chmod(0o700)
        os.chown(mine.root, 65534, 65534)
        assert R.from_env() is None


def test_start_replays_what_another_kernels_run_stored(tmp_path):
    cache = R.ResultCache(tmp_path)
    s = dict(P.default_settings(), **SMALL)
    _, first = P.start(s, P.ProblemCache(), cache)
    computed = list(first)
    _, second = P.start(s, P.ProblemCache(), cache)        # another kernel: its own problem cache, same directory
    assert getattr(second, "replayed", False)
    assert [r.summary() for r in second] == [r.summary() for r in computed]
    _, other = P.start(dict(s, seed=s["seed"] + 1), P.ProblemCache(), cache)
    assert not getattr(other, "replayed", False), "another noise draw is another problem"


def test_two_students_playgrounds_share_a_run_and_the_second_says_it_was_replayed(tmp_path):
    from pnp_lessons.widgets import Playground

    cache_dir = tmp_path / "results"
    a = Playground(defaults=dict(SMALL), debounce=0.01, autostart=True, results=R.ResultCache(cache_dir))
    b = None
    try:
        assert a.wait(120)
        assert "replayed" not in a.info.value and "iterations in" in a.info.value
        b = Playground(defaults=dict(SMALL), debounce=0.01, autostart=True, results=R.ResultCache(cache_dir))
        assert b.wait(120)
        assert "replayed" in b.info.value, b.info.value
        fa, fb = a.runner.last_frame, b.runner.last_frame
        # a replay shows its last frame only (its first record's image would be on screen for one frame interval)
        assert fb.frame_index == 1 and fb.final and fa.frame_index >= 1
        assert torch.equal(a.result, b.result), "the replayed image is the computed one"
        assert fa.history == fb.history and fa.status == fb.status
        assert a.panel.iterate.caption_text == b.panel.iterate.caption_text
        assert a.curves.value == b.curves.value
        # a new γ is computed by the student who asks first, then replayed for the other
        b.controls.params["gamma"].slider.value = 1.2
        assert b.wait(120) and "replayed" not in b.info.value and "γ = 1.20" in b.panel.iterate.caption_text
        a.controls.params["gamma"].slider.value = 1.2
        assert a.wait(120) and wait_until(lambda: "replayed" in a.info.value, 5)
        assert torch.equal(a.result, b.result)
    finally:
        a.close()
        if b is not None:
            b.close()
