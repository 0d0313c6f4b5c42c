"""The numeric parameters of the suite, with the papers' symbols: what a slider shows (symbol, meaning, scale),
what range is allowed, and how a typed value is read. Widget-free: the solver registry, the playground's settings
and every lesson's sliders share these nouns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Param", "PARAMS", "SettingsError", "parse_param"]


class SettingsError(ValueError):
    """A setting that cannot be used; the message is meant for the user, as is."""


@dataclass(frozen=True)
class Param:
    """A numeric setting: its symbol and meaning (for the label), scale, range and slider step."""

    key: str
    symbol: str
    meaning: str
    min: float
    max: float
    step: float
    log: bool = False
    integer: bool = False
    odd: bool = False
    digits: int = 2

    @property
    def label(self) -> str:
        """E.g. ``'γ (step size)'``."""
        return f"{self.symbol} ({self.meaning})"

    def format(self, value) -> str:
        """The value as shown in the exact-value box (more digits when a typed value needs them).

        Examples
        --------
        >>> PARAMS["gamma"].format(0.9), PARAMS["gamma"].format(0.937), PARAMS["lam"].format(0.02)
        ('0.90', '0.937', '0.02')
        """
        if self.integer:
            return str(int(value))
        v = float(value)
        s = f"{v:.3g}" if self.log else f"{v:.{self.digits}f}"
        if abs(float(s) - v) > 1e-9 * max(1.0, abs(v)):
            s = f"{v:.6g}"
        return s

    def tidy(self, value):
        """A value coming from a slider, rounded to what the slider means (0.01995… → 0.02 on the
        log scale, 70.00000000000001 → 70.0)."""
        if self.integer:
            return int(round(value))
        return float(f"{float(value):.3g}") if self.log else round(float(value), self.digits)


PARAMS: dict[str, Param] = {p.key: p for p in [
    Param("gamma", "γ", "step size", 0.05, 2.5, 0.05),
    Param("sigma", "σ·255", "denoiser strength", 1.0, 60.0, 0.5, digits=1),
    Param("lam", "λ", "regularisation weight", 1e-3, 1.0, 0.1, log=True),
    Param("noise", "noise σ·255", "in y", 0.0, 50.0, 0.5, digits=1),
    Param("max_iter", "K", "iterations", 1, 500, 1, integer=True),
    Param("missing", "%", "pixels missing", 0.0, 95.0, 5.0, digits=0),
    Param("kernel_size", "k", "kernel size, pixels", 3, 25, 2, integer=True, odd=True),
    Param("kernel_std", "s", "Gaussian std, pixels", 0.5, 4.0, 0.1, digits=1),
    Param("size", "n", "image size, pixels", 32, 512, 16, integer=True),
]}
"""The numeric settings, with the symbols of the papers; σ values are shown as σ·255."""


def parse_param(p: Param, text) -> float | int:
    """Parse a typed value for the parameter ``p``; raise :class:`SettingsError` with a message for
    the user when it is not a number, not finite, outside ``[p.min, p.max]``, or not a (odd) whole
    number where one is required. Commas are read as decimal points.

    Examples
    --------
    >>> tau = Param("tau", "τ", "prox step", 0.05, 3.0, 0.05)
    >>> parse_param(tau, " 1,5 ")
    1.5
    >>> parse_param(tau, "abc")
    Traceback (most recent call last):
    ...
    pnp_lessons.params.SettingsError: τ (prox step) must be a number; 'abc' was not applied.
    """
    raw = str(text).strip().replace("−", "-").replace(",", ".")
    shown = raw if len(raw) <= 24 else raw[:21] + "…"
    try:
        v = float(raw)
    except ValueError:
        raise SettingsError(f"{p.label} must be a number; {shown!r} was not applied.") from None
    if not math.isfinite(v):
        raise SettingsError(f"{p.label} must be a finite number; {shown} was not applied.")
    if v < p.min or v > p.max:
        raise SettingsError(f"{p.label} must be between {p.min:g} and {p.max:g}; {shown} was not applied.")
    if p.integer:
        if v != int(v):
            raise SettingsError(f"{p.label} must be a whole number; {shown} was not applied.")
        v = int(v)
        if p.odd and v % 2 == 0:
            raise SettingsError(f"{p.label} must be odd; {shown} was not applied.")
    return v
