"""The solver registry: every entry runs from the playground's settings, and a solver registered by a newcomer
(CONTRIBUTING.md, "Add a solver") appears in the playground's menu, greys out the parameters it does not read and
runs — with no other file touched."""

import pytest
import torch

from conftest import wait_until
from pnp_lessons import problems as P
from pnp_lessons.params import PARAMS
from pnp_lessons.solvers import registry
from pnp_lessons.solvers.base import Tracker

SMALL = dict(size=32, max_iter=3)


def test_entries_are_well_formed():
    specs = registry.solvers()
    assert [s.key for s in specs] == ["pnp-ista", "pnp-hqs", "gs-pnp", "fista-tv"]
    for spec in specs:
        assert set(spec.params) <= set(PARAMS), spec.key
        assert spec.reference, f"{spec.key} cites no source"
        for k, v in P.suggested_parameters(dict(solver=spec.key)).items():
            assert PARAMS[k].min <= v <= PARAMS[k].max, (spec.key, k, v)


@pytest.mark.parametrize("key", ["pnp-ista", "pnp-hqs", "fista-tv"])
@pytest.mark.parametrize("operator", ["inpaint", "deblur"])
def test_every_entry_runs_from_the_playground_settings(key, operator):
    s = dict(SMALL, solver=key, operator=operator, denoiser="tv")
    problem, it = P.start(s, P.ProblemCache("cpu"))
    recs = list(it)
    assert len(recs) == 3 and torch.isfinite(recs[-1].x).all()
    assert recs[-1].psnr is not None
    assert P.describe(P.validate_settings(s)).startswith(registry.get(key).label)


def test_pnp_hqs_reads_sigma_and_lambda_not_gamma():
    used = P.relevant_params(P.validate_settings(dict(solver="pnp-hqs")))
    assert {"sigma", "lam"} <= used and "gamma" not in used


def test_unknown_solver_and_duplicate_key_are_refused():
    with pytest.raises(P.SettingsError, match="solver must be one of"):
        P.validate_settings(dict(solver="admm"))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.get("pnp-ista"))
    with pytest.raises(ValueError, match="denoiser must be"):
        registry.SolverSpec("x", "X", (), "some", lambda s, pb, D: iter(()))


def _toy_gradient_descent(s, pb, D):
    """x ← x − γ/‖AᵀA‖ · Aᵀ(Ax − y): the recipe's toy solver."""
    x = pb.x0.clone()
    tracker = Tracker(x, pb.x_true, 1e-6, s["max_iter"])
    step = s["gamma"] / pb.op.norm()
    while True:
        x_new = x - step * pb.op.A_adjoint(pb.op.A(x) - pb.y)
        rec = tracker.record(x_new, x, None)
        yield rec
        if rec.done:
            return
        x = x_new


@pytest.fixture
def toy():
    spec = registry.register(registry.SolverSpec(
        "toy-gd", "Toy gradient descent", ("gamma",), None, _toy_gradient_descent,
        suggest=lambda s: {"gamma": 1.0}, reference="a test"))
    yield spec
    registry.unregister("toy-gd")


def test_a_registered_toy_solver_appears_in_the_playground_menu_and_runs(toy):
    from pnp_lessons.widgets.controls import Controls

    c = Controls(P.ProblemCache("cpu"), defaults=dict(SMALL))
    assert ("Toy gradient descent", "toy-gd") in list(c.solver.options)
    c.solver.value = "toy-gd"
    assert c.params["gamma"].value == 1.0                 # its suggestion applied
    assert c.denoiser.disabled                            # it plugs no denoiser
    assert c.params["sigma"].slider.disabled and "not used by Toy gradient descent" in c.params["sigma"].note.value
    problem, it = P.start(c.settings, c.cache)
    recs = list(it)
    assert 1 <= len(recs) <= SMALL["max_iter"] and recs[-1].done and recs[-1].psnr > 10


def test_the_command_line_reads_the_registry(toy, tmp_path, capsys):
    from pnp_lessons.cli import main

    assert main(["restore", "--list"]) == 0
    assert "toy-gd" in capsys.readouterr().out
    out = tmp_path / "x.png"
    assert main(["restore", "--solver", "toy-gd", "--size", "32", "--max-iter", "3", "--out", str(out)]) == 0
    assert "Toy gradient descent" in capsys.readouterr().out and out.stat().st_size > 100
    assert main(["restore", "--solver", "fista-tv", "--noise", "5", "--size", "32", "--max-iter", "2"]) == 0
    assert "noise σ·255 = 5.0" in capsys.readouterr().out
    assert main(["restore", "--solver", "nope"]) == 2
    assert "solver must be one of" in capsys.readouterr().err


# --------------------------------------------------------------------------- a state is a link
def test_a_link_carries_the_settings_there_and_back():
    s = P.validate_settings(dict(solver="pnp-hqs", operator="deblur", kernel="uniform", kernel_size=7, sigma=22.5,
                                 lam=0.3, noise=5.0, seed=3))
    q = P.settings_to_query(s)
    back, notes = P.settings_from_query(q)
    assert not notes and P.validate_settings(back) == s
    assert P.settings_to_query(P.default_settings()) == ""


def test_a_link_with_bad_values_keeps_the_good_ones_and_says_why():
    kept, notes = P.settings_from_query("gamma=1.2&gamma2=3&sigma=nan&solver=admm&size=64&image=upload:abc")
    assert kept == {"gamma": 1.2, "size": 64}
    assert len(notes) == 4 and any("gamma2" in n for n in notes) and any("σ·255" in n for n in notes)
    # the order in the link does not matter: the solver is checked against the denoiser it names
    kept, notes = P.settings_from_query("solver=fista-tv&denoiser=tv&operator=sr&factor=3")
    assert kept == {"solver": "fista-tv", "denoiser": "tv", "operator": "sr", "factor": 3} and not notes


def test_the_playground_opens_from_a_link_and_offers_its_own():
    from pnp_lessons.widgets import Playground

    app = Playground(query="solver=fista-tv&gamma=1.3&size=40&sigma=999", autostart=False)
    try:
        s = app.controls.settings
        assert s["solver"] == "fista-tv" and s["gamma"] == 1.3 and s["size"] == 40 and s["sigma"] == 15.0
        assert "sigma" not in app.share.value and "solver=fista-tv" in app.share.value
        assert "σ·255 (denoiser strength) must be between" in app.link_note.value
        app.controls.set_values(gamma=0.7)
        assert "gamma=0.70" in app.share.value and app.link_note.value == ""
    finally:
        app.close()


# --------------------------------------------------------------------------- the theory on the slider
@pytest.mark.parametrize("settings, state, words", [
    (dict(solver="pnp-ista", operator="inpaint", denoiser="nlm", gamma=0.9), "holds", "Theorem 5"),
    (dict(solver="pnp-ista", operator="inpaint", denoiser="nlm", gamma=1.5), "holds", "row sum"),
    (dict(solver="pnp-ista", operator="inpaint", denoiser="nlm", gamma=2.2), "outside", "γ = 2.2 ≥ 2"),
    (dict(solver="pnp-ista", operator="deblur", denoiser="nlm", gamma=0.5), "outside", "Theorem 4"),
    (dict(solver="pnp-ista", operator="denoise", denoiser="nlm", gamma=1.5), "holds", "|1 − γ| = 0.50"),
    (dict(solver="pnp-ista", operator="inpaint", denoiser="tv", gamma=1.5), "holds", "forward–backward"),
    (dict(solver="pnp-ista", operator="inpaint", denoiser="tv", gamma=2.2), "outside", "2/‖AᵀA‖"),
    (dict(solver="pnp-hqs", denoiser="nlm"), "none", "no guarantee"),
    (dict(solver="fista-tv", gamma=0.9), "holds", "O(1/k²)"),
    (dict(solver="fista-tv", gamma=1.5), "outside", "1/L"),
])
def test_the_badge_states_what_the_theorem_says(settings, state, words):
    s = P.validate_settings(dict(SMALL, **settings))
    problem = P.ProblemCache("cpu").problem(s)
    got, text = P.guarantee(s, problem)
    assert got == state and words in text, (got, text)


def test_theorem_5_is_not_claimed_when_a_window_sees_no_observed_pixel():
    s = P.validate_settings(dict(SMALL, solver="pnp-ista", operator="inpaint", denoiser="nlm", gamma=0.5,
                                 missing=95.0, seed=1))
    problem = P.ProblemCache("cpu").problem(s)
    from pnp_lessons.solvers.guarantees import every_window_sees_an_observed_pixel

    assert not every_window_sees_an_observed_pixel(problem.op.mask_for(problem.y), 11)   # 95 % missing, 32²
    state, text = P.guarantee(s, problem)
    assert state == "outside" and "Proposition 3" in text


def test_the_playground_shows_the_badge_of_the_running_settings():
    from pnp_lessons.widgets import Playground

    app = Playground(defaults=dict(SMALL, max_iter=2), autostart=True, debounce=0.01)
    try:
        assert app.wait(60)
        assert "guarantee holds" in app.badge.value and "Theorem 5" in app.badge.value
        app.controls.set_values(gamma=1.5)     # past Theorem 5's range: the row sums of this W, else its ρ(P)
        assert app.wait(60)
        assert wait_until(lambda: "ρ(P) =" in app.badge.value or "row sum" in app.badge.value)
        assert "guarantee holds" in app.badge.value
        app.controls.set_values(gamma=2.5)
        assert app.wait(60)
        assert "outside the proven range" in app.badge.value and "ρ(P) =" in app.badge.value
    finally:
        app.close()


def test_charts_flag_the_iterations_where_backtracking_rejected_a_step():
    from pnp_lessons.figures import svg_chart

    svg = svg_chart("F", [([3.0, 2.0, 1.5, 1.4], "#000", False)], marks=[2, 4])
    assert svg.count("<path ") == 2 and "rejected trial steps" in svg
    assert "<path " not in svg_chart("F", [([3.0, 2.0], "#000", False)])


def test_a_small_images_fixed_w_gets_its_spectral_radius_on_the_badge():
    from pnp_lessons.widgets import Playground

    app = Playground(defaults=dict(size=32, max_iter=3, operator="deblur", kernel_size=5, gamma=1.0),
                     autostart=True, debounce=0.01)
    try:
        assert app.wait(60)
        assert wait_until(lambda: "ρ(P) =" in app.badge.value)
        s = app.controls.settings
        rho = P.estimate_rho(s, app.cache.problem(P.validate_settings(s)), app.cache)
        assert 0 < rho < 1 and "guarantee holds" in app.badge.value and "Theorem 1" in app.badge.value
    finally:
        app.close()
    big = P.validate_settings(dict(size=128))
    assert P.estimate_rho(big, P.ProblemCache("cpu").problem(big), P.ProblemCache("cpu")) is None




def test_the_row_sum_bound_is_checked_on_the_weights_as_computed():
    from pnp_lessons.solvers import guarantees

    s = dict(operator="inpaint", denoiser="nlm", gamma=1.5)
    assert guarantees.pnp_ista(s, inf_norm=0.97)[0] == "holds"
    state, text = guarantees.pnp_ista(s, inf_norm=1.0)     # a row of W with no weight on an observed pixel
    assert state == "outside" and "row-sum bound fails" in text
    state, text = guarantees.pnp_ista(s, inf_norm=1 - 1.4e-11)   # the default 128² playground's W at γ = 1.5
    assert state == "holds" and "1 − 1.4e-11" in text and "no run will show" in text
    settings = P.validate_settings(dict(SMALL, gamma=1.5))
    cache = P.ProblemCache("cpu")
    problem = cache.problem(settings)
    value = P.inf_norm_of_w(settings, problem, cache)      # 32², h = 15/255: a sharp W, ‖P‖∞ just below 1
    assert 0 < value < 1 and "‖P‖∞ = 1 − " in P.guarantee(settings, problem, inf_norm=value)[1]



def test_the_playground_maps_where_the_iterate_is_wrong():
    from pnp_lessons.widgets import Playground

    app = Playground(defaults=dict(SMALL, max_iter=3), autostart=True, debounce=0.01)
    try:
        assert app.wait(60)
        cap = app.panel.error.caption_text
        assert "magma" in cap and "mean" in cap and app.panel.error.image.value[:4] == b"\x89PNG"
        assert app.panel.error.image.tooltip == cap                      # the caption is its text alternative
    finally:
        app.close()
