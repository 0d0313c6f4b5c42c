"""The playground: controls + live runner + image panel + curves, composed in one widget.

>>> from pnp_lessons.widgets import Playground   # doctest: +SKIP
>>> Playground()                                  # doctest: +SKIP

Moving a slider cancels the running reconstruction and starts the new one after a short
debounce; iterates stream into the panel and the curves. "Pin as A" keeps the current result
beside the live one (B) for comparison; the download link holds the last finished result as PNG.
"""

from __future__ import annotations

import base64
import html
import math

import ipywidgets as W

from .. import result_cache
from ..runtime import describe_device
from ..images import to_png_bytes
from ..metrics import psnr
from .controls import Controls
from .curves import LiveCurves
from .panel import STYLE, ImagePanel
from ..problems import (RHO_MAX_PIXELS, SHAREABLE, ProblemCache, default_settings, describe, estimate_rho,
                        guarantee, inf_norm_of_w, settings_from_query, settings_to_query, start)
from .badge import badge_html
from .runner import Frame, LiveRunner

__all__ = ["Playground"]

STATUS_TEXT = {"converged": "converged", "max_iter": "reached the iteration limit", "diverged": "diverged",
               "stopped": "stopped", "error": "could not run", "running": "running"}


def _psnr_text(p) -> str:
    if p is None:
        return "PSNR –"
    return "PSNR ∞" if math.isinf(p) else f"PSNR {p:.2f} dB"


def reported(rec):
    """(image, PSNR, what it is) for a record: the iterate x_k, except for GS-PnP, whose reported image is
    z_k = x_k − τλ∇g_σ(x_k) (the reference code returns it; x_k keeps the noise the data prox lets through)."""
    z = rec.info.get("z") if isinstance(rec.info, dict) else None
    if z is not None and "psnr_z" in rec.info:
        return z, rec.info["psnr_z"], f"zₖ = xₖ − τλ∇g_σ(xₖ), the image GS-PnP reports (xₖ: {_psnr_text(rec.psnr)})"
    return rec.x, rec.psnr, "xₖ"


class _AtLastRecord:
    """``iterator``'s records, calling ``at_end()`` before handing over the last one (``done``); it keeps the
    iterator's ``replayed`` flag, which tells the runner and the page that nothing is computed."""

    def __init__(self, iterator, at_end):
        self._it, self._at_end = iterator, at_end
        self.replayed = getattr(iterator, "replayed", False)

    def __iter__(self):
        return self

    def __next__(self):
        rec = next(self._it)
        if rec.done:     # the runner stops at the last record: run at_end before handing it over
            self._at_end()
        return rec

    def close(self):
        if hasattr(self._it, "close"):
            self._it.close()


class Playground(W.VBox):
    """The composed live app (a widget: display it, or put it in a page).

    Parameters
    ----------
    defaults : dict, optional
        Settings that replace the defaults of :func:`~pnp_lessons.problems.default_settings`.
    device : str, optional
        Where to compute (default: :func:`pnp_lessons.runtime.get_device`).
    autostart : bool or 'view'
        ``'view'`` (default): start the first reconstruction when the app is first shown in a
        browser (its first view), so that no frame races the page's widget-state restore in Voilà;
        a notebook run without a front end computes nothing. ``True``: start at once (scripts,
        tests, benchmarks). ``False``: wait for a change.
    debounce, frame_interval : float
        See :class:`~pnp_lessons.widgets.runner.LiveRunner`.
    image_px : int
        Displayed side of each image in CSS pixels (2 columns, 4 on a window ≥ 1700 px wide).
    present, follow : str, optional
        Follow the teacher (:mod:`pnp_lessons.follow`): ``present='room'`` publishes every change of the settings
        to that room; ``follow='room'`` makes the controls read-only and mirrors the room's settings live.
    query : str, optional
        A page's query string (``'solver=gs-pnp&sigma=18'``; Voilà puts it in ``$QUERY_STRING``): the app opens
        with those settings (over ``defaults``); values it cannot use are named in a line under the toolbar and
        left at their defaults. The link *link to these settings* always carries the current state.
    """

    def __init__(self, defaults: dict | None = None, device=None, autostart: bool | str = "view",
                 debounce: float = 0.15, frame_interval: float = 0.1, image_px: int = 256, query: str | None = None,
                 present: str | None = None, follow: str | None = None, results="env"):
        self.follow = follow
        self.cache = ProblemCache(device)
        # finished runs shared by the server's kernels (pnp_lessons.result_cache; PNP_LESSONS_RESULT_CACHE)
        self.results = result_cache.from_env() if results == "env" else results
        self._replayed = False
        from_link, link_notes = settings_from_query(query) if query else ({}, [])
        self.controls = Controls(self.cache, {**(defaults or {}), **from_link})
        self.panel = ImagePanel(image_px)
        self.curves = LiveCurves()
        self.busy = W.HTML()
        self.badge = W.HTML()       # what the theory promises for the running settings
        self.info = W.HTML()
        self.message = W.HTML()
        self.download = W.HTML()
        self.share = W.HTML()
        self.link_note = W.HTML()   # what a link asked for and could not get (stays until the settings change)
        self.room_line = W.HTML()   # presenting to / following a room
        self.device_line = W.HTML(f"<span class='pnp-device'>Device: "
                                  f"{html.escape(describe_device(self.cache.device))}</span>")
        self.stop_button = W.Button(description="Stop", icon="stop", button_style="warning",
                                    tooltip="stop the running reconstruction")
        self.pin_button = W.Button(description="Pin as A", icon="thumb-tack",
                                   tooltip="keep the current result as A, to compare with the next settings (B)")
        self.unpin_button = W.Button(description="Clear A", icon="times", tooltip="remove the pinned result A")
        self.stop_button.on_click(lambda _: self.stop())
        self.pin_button.on_click(lambda _: self.pin())
        self.unpin_button.on_click(lambda _: self.unpin())
        self.result = None           # last finished (or stopped) image
        self.last_frame: Frame | None = None
        self.pinned = None
        self._shown_key = None
        self._first_latency = None
        self._set_busy(bool(autostart))  # busy from the start when a first run is coming

        self.runner = LiveRunner(self._start, self._on_frame, self._set_busy, debounce=debounce,
                                 frame_interval=frame_interval)
        self.controls.on_change(self._on_settings)

        for b in (self.stop_button, self.pin_button, self.unpin_button):
            b.layout.margin = "0 6px 0 6px"
        toolbar = W.HBox([self.busy, self.badge, self.stop_button, self.pin_button, self.unpin_button, self.download,
                          self.share],
                         layout=W.Layout(align_items="center", flex_flow="row wrap"))
        right = W.VBox([toolbar, self.room_line, self.link_note, self.message, self.panel, self.curves, self.info,
                        self.device_line],
                       layout=W.Layout(flex="1 1 0%", min_width="0"))
        super().__init__([W.HTML(STYLE), W.HBox([self.controls, right], layout=W.Layout(flex_flow="row nowrap"))])
        self.add_class("pnp-playground")
        self._update_share(self.controls.settings)
        if link_notes:
            self.link_note.value = ("<div class='pnp-message pnp-warn pnp-link-note' role='alert'>The link's settings "
                                    "were applied except: " + html.escape("; ".join(link_notes)) + "</div>")
        self._started = False
        self.present, self.follower = present, None
        if present:
            from ..follow import check_room, publish

            check_room(present)
            publish(present, self.controls.settings)
            room = html.escape(present)
            self.room_line.value = (f"<div class='pnp-room' role='status'>Presenting to room <b>{room}</b>: students "
                                    f"open <code>apps/follow.ipynb?room={room}</code> and see these settings live."
                                    "</div>")
        elif follow:
            from ..follow import Follower

            self.controls.set_read_only(True)
            self.room_line.value = (f"<div class='pnp-room' role='status'>Following room <b>{html.escape(follow)}</b> "
                                    f"(read-only): waiting for the presenter…</div>")
            self.follower = Follower(follow, self._followed)
        if autostart == "view":
            self._view_count = 0  # ask the front end to report its views
            self.observe(self._first_view, "_view_count")
        elif autostart:
            self._started = True
            self.runner.submit(self.controls.settings)

    def _first_view(self, change):
        if (change["new"] or 0) >= 1 and not self._started:
            self._started = True
            self.unobserve(self._first_view, "_view_count")
            self.runner.submit(self.controls.settings)

    # ---------------------------------------------------------------- actions
    def _update_share(self, settings: dict):
        """The link that opens this page with ``settings`` (relative: it keeps the page's own address)."""
        q = settings_to_query(settings)
        page = "playground.ipynb" if self.follow else ""     # a follower's link opens the free playground
        href = html.escape(f"{page}?{q}", quote=True)
        self.share.value = (f"<a class='pnp-share' href='{href}' target='_blank' "
                            f"title='open or copy this link: the page with the current settings'>"
                            f"link to these settings</a> <button type='button' class='pnp-copy' data-href='{href}' "
                            f"title='copy the link to the clipboard (Voilà pages)'>copy link</button>")

    def _followed(self, settings: dict, notes: list):
        """A new state of the followed room (called from the follower's thread): the presenter's settings, the
        defaults for what the link leaves out (it carries only what differs from them)."""
        d = default_settings()
        self.controls.set_values(**{**{k: d[k] for k in SHAREABLE}, **settings})
        left_out = f" (not applied: {'; '.join(notes)})" if notes else ""
        room = html.escape(self.follower.room)
        self.room_line.value = (f"<div class='pnp-room' role='status'>Following room <b>{room}</b> (read-only): "
                                f"version {self.follower.version}{html.escape(left_out)}.</div>")

    def _on_settings(self, settings: dict):
        self._update_share(settings)
        self.link_note.value = ""
        if self.present:
            from ..follow import publish

            publish(self.present, settings)
        self._started = True
        self.runner.submit(settings)

    def stop(self):
        """Stop the running reconstruction (the last iterate stays on screen)."""
        self.runner.stop()

    def pin(self) -> bool:
        """Keep the current result as A beside the live run B. Returns False when there is none."""
        f = self.runner.last_frame
        if f is None or f.record is None:
            return False
        rec = f.record
        img, p, what = reported(rec)
        self.pinned = (img, list(f.history), f.settings)
        cap = f"A · iteration {rec.k} · {_psnr_text(p)} · {describe(f.settings)} · {what}"
        self.panel.pinned.show(img, cap)
        self.panel.show_pinned(True)
        self.curves.pinned_history = list(f.history)
        self.curves.update(f.history if f is self.runner.last_frame else [])
        return True

    def unpin(self):
        """Remove the pinned result A."""
        self.pinned = None
        self.panel.show_pinned(False)
        self.panel.pinned.show(None, "")
        self.curves.pinned_history = None
        f = self.runner.last_frame
        self.curves.update(f.history if f is not None else [])

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current reconstruction has finished (for scripts and tests)."""
        return self.runner.wait(timeout)

    def close(self):
        """Stop the worker (and the follower's thread) and close every widget of the app."""
        if getattr(self, "follower", None) is not None:
            self.follower.close()
        self.runner.close()
        stack = [self, *self.panel.slots().values()]
        seen = set()
        while stack:
            w = stack.pop()
            if id(w) in seen:
                continue
            seen.add(id(w))
            stack.extend(getattr(w, "children", ()) or ())
            if w is not self:
                w.close()
        super().close()

    # ---------------------------------------------------------------- worker side (sets traits only)
    def _set_busy(self, busy: bool):
        if busy:
            self.busy.value = ("<span class='pnp-busy' role='status' aria-live='polite' style='color:#b45f06'>"
                               "⏳ computing…</span>")
        else:
            self.busy.value = ("<span class='pnp-busy' role='status' aria-live='polite' style='color:#2e7d32'>"
                               "✓ idle</span>")
        self.stop_button.disabled = not busy

    def _start(self, settings: dict):
        problem, iterator = start(settings, self.cache, self.results)
        self._replayed = getattr(iterator, "replayed", False)
        inf = inf_norm_of_w(settings, problem, self.cache)      # the row-sum bound on this W (inpainting)
        said = guarantee(settings, problem, inf_norm=inf)
        self.badge.value = badge_html(*said)
        rho_decides = guarantee(settings, problem, rho=0.5, inf_norm=inf) != said     # no bound settles it
        if rho_decides and settings["solver"] == "pnp-ista" and settings["denoiser"] == "nlm" \
                and problem.x_true.numel() <= RHO_MAX_PIXELS:     # small enough: ρ(P) of this W
            iterator = self._then_rho(iterator, settings, problem, inf)
        if problem.key != self._shown_key:
            p = psnr(problem.y_display, problem.x_true)
            s = settings
            what = describe(dict(s, solver="fista-tv", lam=0, gamma=0)).split(" · ", 1)[1]
            self.panel.observation.show(problem.y_display, f"y: {what} · {_psnr_text(p)}")
            H, W_ = problem.x_true.shape[-2:]
            self.panel.truth.show(problem.x_true, f"x: ground truth, {W_}×{H} grey")
            self._shown_key = problem.key
        return problem, iterator

    def _then_rho(self, iterator, settings: dict, problem, inf_norm: float | None):
        """The run, and at its last record (in the same worker thread, unless the run was cancelled) ρ(P) of its
        fixed W on the badge: the first frame does not wait for the estimate."""
        def at_end():
            rho = estimate_rho(settings, problem, self.cache)
            if rho is not None:
                self.badge.value = badge_html(*guarantee(settings, problem, rho, inf_norm=inf_norm))

        return _AtLastRecord(iterator, at_end)

    def _on_frame(self, f: Frame):
        self.last_frame = f
        if f.frame_index == 1:
            self._first_latency = f.latency
        rec = f.record
        state = STATUS_TEXT.get(f.status, f.status)
        if rec is not None:
            img, p, what = reported(rec)
            cap = f"B · iteration {rec.k} · {_psnr_text(p)} · {describe(f.settings)} · {state} · {what}"
            self.panel.iterate.show(img, cap)
            if f.context is not None:     # where B is wrong, pixel by pixel
                self.panel.error.show_error(img, f.context.x_true, f"B at iteration {rec.k}")
            self.curves.update(f.history)
        elif f.final:
            self.panel.iterate.set_caption(f"B · no result · {state}")
        if f.final:
            if f.status in ("diverged", "error"):
                self.message.value = (f"<div class='pnp-message pnp-warn' role='alert'>"
                                      f"{html.escape(f.message)}</div>")
            elif f.status == "stopped":
                self.message.value = f"<div class='pnp-message pnp-info'>{html.escape(f.message)}</div>"
            else:
                self.message.value = ""
            if rec is not None:
                self.result = reported(rec)[0]
                data = base64.b64encode(to_png_bytes(self.result)).decode("ascii")
                self.download.value = (f"<a class='pnp-download' download='pnp-playground-result.png' "
                                       f"href='data:image/png;base64,{data}'>⬇ Download the result (PNG)</a>")
            its = len(f.history)
            first = f" · first frame {self._first_latency:.2f} s after the change" if self._first_latency else ""
            how = (f"{its} iterations, replayed: a kernel of this server computed these settings before"
                   if self._replayed else f"{its} iterations in {f.elapsed:.2f} s")
            self.info.value = (f"<span style='font-size:11px;color:#555'>run {f.run_id}: {how}"
                               f"{first} · {f.frame_index} frame{'s' if f.frame_index != 1 else ''}</span>")
        if f.frame_index == 1 and not f.final and self.message.value:
            self.message.value = ""
