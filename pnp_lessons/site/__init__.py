"""The lessons as a static site for self-study (``make site``): every notebook executed in CI-fast mode and written
as HTML with its figures and tables; each live widget drawn as it stood after execution
(:mod:`.snapshot`), and the main ones — the playground, lessons 03, 05 and 07 — made scrubbable without a kernel
from a precomputed grid of runs (:mod:`.scrub`). Math is typeset by KaTeX from ``node_modules`` (npm), offline."""

from .build import build_site

__all__ = ["build_site"]
