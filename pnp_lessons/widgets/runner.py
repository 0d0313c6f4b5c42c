"""The live runner: a solver's iterate generator in one worker thread, cancellable, debounced.

How it works
------------
* :meth:`LiveRunner.submit` records the newest settings and bumps a *generation* counter.
  The running computation compares its generation with the counter **between iterations** and
  stops as soon as it is stale, so a parameter change cancels it after at most one iteration.
* One worker thread at most: it is started on demand, waits until no new settings arrived for
  ``debounce`` seconds (a slider drag gives one run, not fifty), runs the newest settings, and
  exits when nothing is pending. All state changes happen under one lock, so two workers can
  never be alive with work.
* Frames: the first iterate, then one every ``frame_interval`` seconds (~100 ms) whatever the
  iteration speed, and the last one, are handed to ``on_frame`` **in the worker thread**. A record
  whose ``x`` is None (a run replayed from :mod:`pnp_lessons.result_cache`, which keeps the images of
  the first and last records only) adds to the history but is never shown. A replayed run (an iterator
  with ``replayed = True``) shows its last frame only: its records come from disk in milliseconds, so
  the first record's image would be on screen for one frame and cost a second set of PNGs and widget
  messages (a replayed move in the playground sent 22 messages, ~100 KB; docs/benchmarks.md).
  ``on_frame`` must only set widget traits (comm messages are thread-safe); it must not print
  or display: under ipykernel ≥ 7 output from a thread is not routed to any cell.
* Errors never escape: an exception in ``start`` or in the solver becomes a final frame with
  ``status='error'`` and a plain one-line message (no traceback); divergence is an ordinary
  final frame with ``status='diverged'`` and the solver's message.
* :meth:`stop` cancels without a successor (a final frame with ``status='stopped'``);
  :meth:`wait` joins the worker; :meth:`close` stops and joins.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterator

import torch

__all__ = ["Frame", "LiveRunner", "friendly_error"]


@dataclass
class Frame:
    """What the runner hands to ``on_frame``.

    Attributes
    ----------
    run_id : int
        Number of the run (1, 2, …) in this runner.
    settings : Any
        The settings the run was started with.
    context : Any
        What ``start`` returned beside the iterator (e.g. the problem), or None after an error.
    record : Iterate or None
        The current iterate record (None for an error before the first iterate).
    history : list of dict
        Summaries of every iterate of this run so far (no tensors).
    final : bool
        True for the last frame of a run.
    status : str
        ``'running'``, ``'converged'``, ``'max_iter'``, ``'diverged'``, ``'stopped'`` or ``'error'``.
    message : str
        Plain-language explanation (empty while running).
    elapsed : float
        Seconds since the run started (after the debounce).
    latency : float
        Seconds from the newest ``submit`` to this frame.
    """

    run_id: int
    settings: Any
    context: Any
    record: Any
    history: list
    final: bool
    status: str
    message: str
    elapsed: float
    latency: float
    frame_index: int = 0
    extra: dict = field(default_factory=dict)


def friendly_error(exc: BaseException) -> str:
    """One plain sentence for an exception: the message of the expected ones, no traceback.

    Examples
    --------
    >>> friendly_error(ValueError("γ must be positive"))
    'γ must be positive'
    >>> friendly_error(ZeroDivisionError("division by zero"))
    'the computation stopped unexpectedly (division by zero). Try other settings.'
    """
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, MemoryError) or "out of memory" in msg.lower():
        return "not enough memory for this setting; choose a smaller image."
    if isinstance(exc, (ValueError, TypeError, FileNotFoundError)):
        return msg
    return f"the computation stopped unexpectedly ({msg}). Try other settings."


class LiveRunner:
    """Runs ``start(settings) -> (context, iterator of Iterate)`` in a worker thread.

    Parameters
    ----------
    start : callable
        Called in the worker thread with the settings; returns ``(context, iterator)``. May raise:
        the message is shown as a final ``'error'`` frame.
    on_frame : callable
        Called in the worker thread with a :class:`Frame`. Must only set widget traits.
    on_busy : callable, optional
        Called with True when work is submitted and False when the worker has nothing left.
    debounce : float
        Seconds of quiet after the last :meth:`submit` before a run starts.
    frame_interval : float
        Seconds between streamed frames (the first and last iterates are always streamed).

    Examples
    --------
    >>> from pnp_lessons.operators import Denoising
    >>> from pnp_lessons.solvers import ista
    >>> frames = []
    >>> y = torch.rand(1, 1, 8, 8)
    >>> r = LiveRunner(lambda lam: (None, ista(Denoising(), y, lam, max_iter=5, tol=0)), frames.append, debounce=0)
    >>> _ = r.submit(0.1); r.wait(10)
    True
    >>> frames[-1].final, frames[-1].status, frames[-1].record.k
    (True, 'max_iter', 5)
    """

    def __init__(self, start: Callable[[Any], tuple[Any, Iterator]], on_frame: Callable[[Frame], Any],
                 on_busy: Callable[[bool], Any] | None = None, debounce: float = 0.15,
                 frame_interval: float = 0.1, name: str = "pnp-live-runner"):
        self.start = start
        self.on_frame = on_frame
        self.on_busy = on_busy
        self.debounce = float(debounce)
        self.frame_interval = float(frame_interval)
        self.name = name
        self._cv = threading.Condition()
        self._generation = 0
        self._pending: tuple | None = None      # (settings, generation, t_submit)
        self._thread: threading.Thread | None = None
        self._last_thread: threading.Thread | None = None
        self._closed = False
        self._busy = False
        self._active = 0
        self.max_active = 0           # the most runs ever in progress at once (1 by construction)
        self.runs_started = 0
        self.runs_finished = 0
        self.last_frame: Frame | None = None
        self.stats: dict = {}

    # ------------------------------------------------------------------ control
    @property
    def busy(self) -> bool:
        """True while a run is pending or in progress."""
        with self._cv:
            return self._busy

    @property
    def active_runs(self) -> int:
        """Number of runs in progress right now (0 or 1)."""
        with self._cv:
            return self._active

    def submit(self, settings) -> int:
        """Cancel the running computation (if any) and run ``settings`` after the debounce.

        Returns the generation number of the submitted run."""
        with self._cv:
            if self._closed:
                raise RuntimeError("this runner was closed")
            self._generation += 1
            self._pending = (settings, self._generation, time.monotonic())
            self._set_busy(True)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._last_thread = self._thread
                self._thread.start()
            self._cv.notify_all()
            return self._generation

    def stop(self) -> None:
        """Cancel the running computation and anything pending (between two iterations)."""
        with self._cv:
            self._generation += 1
            self._pending = None
            self._cv.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending or running and the worker thread has ended.
        Returns False on timeout. Must not be called from ``on_frame``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            ok = self._cv.wait_for(lambda: self._thread is None and self._pending is None, timeout)
        if not ok:
            return False
        t = self._last_thread
        if t is not None and t is not threading.current_thread():
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            return not t.is_alive()
        return True

    def close(self, timeout: float = 10.0) -> bool:
        """Stop, refuse new work, and join the worker."""
        with self._cv:
            self._closed = True
        self.stop()
        return self.wait(timeout)

    # ------------------------------------------------------------------ worker
    def _set_busy(self, value: bool):  # called with the lock held
        if value != self._busy:
            self._busy = value
            if self.on_busy is not None:
                try:
                    self.on_busy(value)
                except Exception:
                    pass

    def _loop(self):
        while True:
            with self._cv:
                while True:
                    if self._pending is None or self._closed:
                        self._pending = None
                        self._thread = None
                        self._set_busy(False)
                        self._cv.notify_all()
                        return
                    left = self._pending[2] + self.debounce - time.monotonic()
                    if left <= 0:
                        break
                    self._cv.wait(left)
                settings, gen, t_submit = self._pending
                self._pending = None
                self._active += 1
                self.max_active = max(self.max_active, self._active)
                self.runs_started += 1
                run_id = self.runs_started
            try:
                self._run(settings, gen, t_submit, run_id)
            finally:
                with self._cv:
                    self._active -= 1
                    self.runs_finished += 1
                    idle = self._pending is None
                if idle and torch.cuda.is_initialized():
                    # hand the GPU memory of finished runs back to the other students' kernels
                    # (the cached problem and weights stay; only the allocator's free blocks go)
                    torch.cuda.empty_cache()

    def _stale(self, gen: int) -> bool:
        return self._generation != gen  # an int read is atomic; the lock is not needed here

    def _emit(self, frame: Frame):
        self.last_frame = frame
        try:
            self.on_frame(frame)
        except Exception:
            # a failing view must not kill the worker; the next frame may succeed
            pass

    def _run(self, settings, gen: int, t_submit: float, run_id: int):
        t0 = time.monotonic()
        history: list[dict] = []
        last = None
        context = None
        iterator = None
        frames = 0
        t_first = None
        last_frame_t = -1e9
        status, message = "running", ""

        def frame(final: bool, st: str, msg: str) -> Frame:
            nonlocal frames, t_first
            now = time.monotonic()
            frames += 1
            if t_first is None:
                t_first = now
            return Frame(run_id, settings, context, last, history, final, st, msg, now - t0, now - t_submit,
                         frames)

        try:
            with torch.no_grad():
                context, iterator = self.start(settings)
                replayed = getattr(iterator, "replayed", False)     # nothing to watch: the last frame only
                for rec in iterator:
                    if self._stale(gen):
                        break
                    history.append(rec.summary())
                    shown = getattr(rec, "x", rec) is not None    # a replayed run keeps some records' images only
                    if shown or last is None:
                        last = rec
                    if rec.done:
                        last = rec
                        status, message = rec.status, rec.message
                        break
                    now = time.monotonic()
                    if now - last_frame_t >= self.frame_interval and shown and not replayed:
                        self._emit(frame(False, "running", ""))
                        last_frame_t = time.monotonic()
            if self._stale(gen):
                with self._cv:
                    superseded = self._pending is not None
                if not superseded and last is not None:
                    self._emit(frame(True, "stopped", f"stopped at iteration {last.k}."))
                elif not superseded:
                    self._emit(frame(True, "stopped", "stopped before the first iteration."))
            elif last is None:
                self._emit(frame(True, "error", "the solver produced no iterate."))
            else:
                self._emit(frame(True, status if status != "running" else "max_iter", message))
        except Exception as exc:  # shown as a plain message, never a traceback
            if not self._stale(gen):
                self._emit(frame(True, "error", friendly_error(exc)))
        finally:
            if iterator is not None and hasattr(iterator, "close"):
                try:
                    iterator.close()
                except Exception:
                    pass
            t_end = time.monotonic()
            if frames:
                self.stats = {"run_id": run_id, "first_frame_latency_s": (t_first - t_submit),
                              "first_frame_after_start_s": t_first - t0, "frames": frames,
                              "iterations": len(history), "run_s": t_end - t0,
                              "frames_per_s": frames / max(t_end - t0, 1e-9),
                              "iterations_per_s": len(history) / max(t_end - t0, 1e-9)}
