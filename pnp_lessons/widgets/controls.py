"""Parameter controls: labelled sliders with an exact-value box, choices, upload, Reset.

Every slider is labelled with its symbol and meaning (``γ (step size)``, ``σ·255 (denoiser
strength)`` …, from :data:`~pnp_lessons.params.PARAMS`) and has a text box for an
exact value. Typed values are checked (not a number, NaN, negative, out of range, not a whole
number …): a refused value is *not applied*, the box goes back to the current value and a
message under the slider says why.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import ipywidgets as W
import traitlets

from ..images import SAMPLES, ImageError
from ..params import PARAMS, Param, SettingsError, parse_param
from ..solvers import registry
from ..problems import (CHOICES, ProblemCache, available_denoisers, available_solvers, default_settings,
                        relevant_params, suggested_parameters)

__all__ = ["ParamControl", "Controls"]

DESC = {"description_width": "185px"}


class ParamControl(W.VBox):
    """A slider for one numeric setting, with an exact-value box and a validation message.

    ``key`` names one of the playground's :data:`~pnp_lessons.params.PARAMS`, or is a
    :class:`~pnp_lessons.params.Param` of its own (the lessons' τ, λ, … sliders).
    ``value`` (a plain traitlet, observe it) follows the slider; :meth:`type_value` is what the
    text box does when the user presses Enter.
    """

    value = traitlets.Any()

    def __init__(self, key: str | Param, value=None, slider_width: str = "345px", continuous_update: bool = True):
        p = key if isinstance(key, Param) else PARAMS[key]
        self.key, self.param = p.key, p
        v = p.min if value is None else value
        common = dict(description=p.label, readout=False, continuous_update=continuous_update, style=DESC,
                      layout=W.Layout(width=slider_width))
        if p.integer:
            self.slider = W.IntSlider(value=int(v), min=int(p.min), max=int(p.max), step=int(p.step), **common)
        elif p.log:
            self.slider = W.FloatLogSlider(value=float(v), base=10, min=math.log10(p.min), max=math.log10(p.max),
                                           step=p.step, **common)
        else:
            self.slider = W.FloatSlider(value=float(v), min=p.min, max=p.max, step=p.step, **common)
        self.slider.add_class(f"pnp-slider-{p.key}")
        self.box = W.Text(value=p.format(v), continuous_update=False, layout=W.Layout(width="70px"),
                          tooltip=f"exact value of {p.symbol}: type it and press Enter")
        self.box.add_class(f"pnp-box-{p.key}")
        self.msg = W.HTML("")
        self.note = W.HTML("")
        self._sync = False
        super().__init__([W.HBox([self.slider, self.box]), self.note, self.msg],
                         layout=W.Layout(margin="0 0 2px 0"))
        self.value = self.param.tidy(v)
        self.slider.observe(self._on_slider, "value")
        self.box.observe(self._on_box, "value")

    # ---------------------------------------------------------------- events
    def _is_echo(self, new, cur) -> bool:
        """A change smaller than half a slider step: the browser snapping an exact value to the
        slider's grid (e.g. λ = 0.02 on a log grid, or a typed γ = 0.937), not a user's move."""
        if cur is None or self.param.integer:
            return False
        try:
            if self.param.log:
                return abs(math.log10(new) - math.log10(cur)) < 0.5 * self.slider.step
            return abs(new - cur) < 0.5 * self.slider.step
        except (ValueError, TypeError):
            return False

    def _on_slider(self, change):
        if self._sync:
            return
        new = self.param.tidy(change["new"])
        if self._is_echo(new, self.value):
            return  # keep the exact value; the slider only shows the nearest grid point
        self.msg.value = ""  # the field holds a valid value again: an earlier refusal no longer applies
        self.value = new
        self._sync = True
        try:
            self.box.value = self.param.format(new)
        finally:
            self._sync = False

    def _on_box(self, change):
        if self._sync:
            return
        self.type_value(change["new"])

    def type_value(self, text) -> bool:
        """Apply a typed value; returns False (and shows why) when it is refused."""
        try:
            v = parse_param(self.param, text)
        except SettingsError as e:
            self.msg.value = f"<div class='pnp-field-msg' role='alert'>{html.escape(str(e))}</div>"
            self._sync = True
            try:
                self.box.value = self.param.format(self.value)
            finally:
                self._sync = False
            return False
        self.msg.value = ""
        self.set(v)
        return True

    def set(self, v):
        """Set the exact value (the slider shows it, the box writes it) and clear any refusal message."""
        self.msg.value = ""
        self._sync = True
        try:
            self.slider.value = v
            self.box.value = self.param.format(v)
        finally:
            self._sync = False
        self.value = int(v) if self.param.integer else float(v)

    @property
    def message(self) -> str:
        """The current validation message as plain text ('' when none)."""
        import re

        return html.unescape(re.sub("<[^>]+>", "", self.msg.value))

    def set_enabled(self, enabled: bool, note: str = ""):
        self.slider.disabled = not enabled
        self.box.disabled = not enabled
        self.note.value = "" if enabled else (f"<div style='color:#777;font-size:11px;margin:-4px 0 0 190px'>"
                                              f"{html.escape(note)}</div>")

    @property
    def visible(self) -> bool:
        return self.layout.display != "none"

    @visible.setter
    def visible(self, value: bool):
        self.layout.display = None if value else "none"


def _section(title: str) -> W.HTML:
    return W.HTML(f"<div style='font-weight:600;margin-top:6px;border-bottom:1px solid "
                  f"#ddd'>{html.escape(title)}</div>")


class Controls(W.VBox):
    """All the playground's settings: image, operator, method, parameters, Reset to defaults.

    :attr:`settings` is the plain settings dict of :mod:`pnp_lessons.problems`;
    :meth:`on_change` registers a callback called with it after every change (one call for a
    Reset). Uploads are decoded into ``cache`` (size-capped; a bad file gives a message and the
    image stays as it was).
    """

    def __init__(self, cache: ProblemCache | None = None, defaults: dict | None = None):
        self.cache = cache if cache is not None else ProblemCache()
        self.defaults = dict(default_settings(), **(defaults or {}))
        d = self.defaults
        self._callbacks: list[Callable[[dict], None]] = []
        self._hold = 0
        self.read_only = False
        self.seed = d["seed"]

        # image
        self.image = W.Dropdown(options=[(n, n) for n in SAMPLES], value=d["image"], description="image",
                                style=DESC, layout=W.Layout(width="345px"))
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="Upload an image",
                                   layout=W.Layout(width="180px"))
        self.upload_msg = W.HTML("")
        self.params = {k: ParamControl(k, d[k]) for k in ("size", "missing", "kernel_size", "kernel_std", "noise",
                                                           "gamma", "sigma", "lam", "max_iter")}
        # operator
        self.operator = W.Dropdown(options=[(v, k) for k, v in CHOICES["operator"].items()], value=d["operator"],
                                   description="operator A", style=DESC, layout=W.Layout(width="345px"))
        self.kernel = W.Dropdown(options=[(v, k) for k, v in CHOICES["kernel"].items()], value=d["kernel"],
                                 description="blur kernel", style=DESC, layout=W.Layout(width="345px"))
        self.factor = W.Dropdown(options=[(v, k) for k, v in CHOICES["factor"].items()], value=d["factor"],
                                 description="SR factor", style=DESC, layout=W.Layout(width="345px"))
        # method
        self.solver = W.Dropdown(description="solver", style=DESC, layout=W.Layout(width="345px"))
        self.denoiser = W.Dropdown(description="denoiser D", style=DESC, layout=W.Layout(width="345px"))
        self.availability = W.HTML("")
        self.refresh_methods(d["solver"], d["denoiser"])
        self.reset_button = W.Button(description="Reset to defaults", icon="undo",
                                     tooltip="put every setting back to its default value")
        self.reset_button.on_click(lambda _: self.reset())

        P = self.params
        self.problem_box = W.VBox([P["missing"], self.kernel, P["kernel_size"], P["kernel_std"], self.factor])
        super().__init__([
            _section("Image"), self.image, W.HBox([self.upload]), self.upload_msg, P["size"],
            _section("Problem  y = A x + ε"), self.operator, self.problem_box, P["noise"],
            _section("Method"), self.solver, self.denoiser, self.availability,
            _section("Parameters"), P["gamma"], P["sigma"], P["lam"], P["max_iter"],
            self.reset_button,
        ], layout=W.Layout(width="430px", min_width="430px"))
        self.add_class("pnp-controls")

        for w in (self.image, self.operator, self.kernel, self.factor, self.denoiser):
            w.observe(self._changed, "value")
        for p in self.params.values():
            p.observe(self._changed, "value")
        self.solver.observe(self._solver_changed, "value")
        self.upload.observe(self._uploaded, "value")
        self._update_visibility()

    # ---------------------------------------------------------------- settings
    @property
    def settings(self) -> dict:
        """The current settings (plain dict, display units)."""
        s = {k: p.value for k, p in self.params.items()}
        s.update(image=self.image.value, operator=self.operator.value, kernel=self.kernel.value,
                 factor=self.factor.value, solver=self.solver.value, denoiser=self.denoiser.value or "tv",
                 seed=self.seed)
        return s

    def on_change(self, callback: Callable[[dict], None]):
        """Call ``callback(settings)`` after every change."""
        self._callbacks.append(callback)

    def _fire(self):
        if self._hold:
            return
        s = self.settings
        for cb in list(self._callbacks):
            cb(s)

    def _changed(self, change=None):
        self._update_visibility()
        self._fire()

    def set_values(self, **values):
        """Set several settings at once (one change notification)."""
        self._hold += 1
        try:
            for k, v in values.items():
                if k in self.params:
                    self.params[k].set(v)
                elif k == "seed":
                    self.seed = v
                elif k in ("solver", "denoiser"):
                    continue
                else:
                    getattr(self, k).value = v
            if "solver" in values or "denoiser" in values:
                self.refresh_methods(values.get("solver", self.solver.value),
                                     values.get("denoiser", self.denoiser.value))
        finally:
            self._hold -= 1
        self._changed()

    def reset(self):
        """Every setting back to its default, with one change notification."""
        for p in self.params.values():
            p.msg.value = ""
        self.upload_msg.value = ""
        d = dict(self.defaults)
        if d["image"] not in [v for _, v in self.image.options]:
            d["image"] = "camera"
        self.set_values(**{k: v for k, v in d.items()})

    # ---------------------------------------------------------------- method lists
    def refresh_methods(self, solver: str | None = None, denoiser: str | None = None):
        """Re-read which solvers and denoisers exist (weights may have been shipped since)."""
        self._hold += 1
        try:
            sol = available_solvers()
            opts = [(label, k) for k, label, ok, _ in sol if ok]
            solver = solver if solver in [k for _, k in opts] else opts[0][1]
            self.solver.options = opts
            self.solver.value = solver
            self._fill_denoisers(denoiser)
            notes = []
            for _, _, ok, note in sol + available_denoisers():
                if not ok and note and not (any("weights" in n for n in notes) and "weights" in note):
                    notes.append(note)
            self.availability.value = ("<div style='color:#777;font-size:11px'>"
                                       + "<br>".join(html.escape(n) for n in notes) + "</div>") if notes else ""
        finally:
            self._hold -= 1

    def _fill_denoisers(self, denoiser=None):
        dens = [(label, k) for k, label, ok, _ in available_denoisers() if ok]
        kind = registry.get(self.solver.value).denoiser
        if kind == "gs":
            dens = [(label, k) for label, k in dens if k.startswith("gs:")]
        keys = [k for _, k in dens]
        current = denoiser if denoiser in keys else (self.denoiser.value if self.denoiser.value in keys else None)
        if current is None:
            current = self.defaults["denoiser"] if self.defaults["denoiser"] in keys else (keys[0] if keys else None)
        self.denoiser.options = dens
        self.denoiser.value = current
        self.denoiser.disabled = kind is None

    def _solver_changed(self, change):
        """A new solver chosen by the user gets its papers' parameters (one change notification)."""
        programmatic = self._hold > 0
        self._hold += 1
        try:
            self._fill_denoisers()
            if not programmatic:
                for k, v in suggested_parameters(self.settings).items():
                    self.params[k].set(v)
        finally:
            self._hold -= 1
        self._changed()

    def _update_visibility(self):
        s = self.settings
        used = relevant_params(s)
        op = s["operator"]
        self.params["missing"].visible = op == "inpaint"
        self.kernel.layout.display = None if op in ("deblur", "sr") else "none"
        self.params["kernel_size"].visible = op in ("deblur", "sr")
        self.params["kernel_std"].visible = op in ("deblur", "sr") and s["kernel"] == "gaussian"
        self.factor.layout.display = None if op == "sr" else "none"
        solver = registry.get(s["solver"])
        for k in ("gamma", "sigma", "lam"):
            self.params[k].set_enabled(k in used, f"not used by {solver.label}")
        self.denoiser.disabled = solver.denoiser is None
        if self.read_only:
            self._disable_all()

    def set_read_only(self, read_only: bool = True):
        """A follower's controls: they show the presenter's settings and take no input."""
        self.read_only = bool(read_only)
        self._update_visibility()

    def _disable_all(self):
        for w in (self.image, self.upload, self.operator, self.kernel, self.factor, self.solver, self.denoiser,
                  self.reset_button):
            w.disabled = True
        for p in self.params.values():
            p.slider.disabled = p.box.disabled = True

    # ---------------------------------------------------------------- upload
    def _uploaded(self, change):
        files = change["new"]
        if not files:
            return
        f = files[0] if isinstance(files, (list, tuple)) else list(files.values())[0]
        name = str(f.get("name", "upload"))
        content = bytes(f.get("content", b""))
        self.upload.value = ()  # let go of the file's bytes (up to 10 MiB) once read
        self.load_upload(content, name)

    def load_upload(self, data: bytes, name: str = "upload") -> bool:
        """Decode an uploaded file and select it; returns False (with a message) when refused."""
        try:
            key = self.cache.add_upload(data, name)
        except (ImageError, SettingsError, ValueError) as e:
            self.upload_msg.value = (f"<div class='pnp-field-msg' role='alert'>Upload refused: "
                                     f"{html.escape(str(e))}. The image was not changed.</div>")
            return False
        note = self.cache.upload_notes.get(key.split(":", 1)[1], "")
        self.upload_msg.value = (f"<div class='pnp-field-info' role='status'>Uploaded {html.escape(note)}</div>"
                                 if note else "")
        label = f"uploaded: {name[:30]}"
        opts = [o for o in self.image.options if o[1] != key] + [(label, key)]
        self._hold += 1
        try:
            self.image.options = opts
        finally:
            self._hold -= 1
        self.image.value = key
        return True

    @property
    def upload_message(self) -> str:
        import re

        return html.unescape(re.sub("<[^>]+>", "", self.upload_msg.value))
