"""What a Voilà page asks of its server: the request's query string, waited for in a preheated kernel.

A kernel from Voilà's pool (``--VoilaConfiguration.preheat_kernel=True``, see :mod:`pnp_lessons.serving`) runs
the page's cells before any student has asked for it. :func:`page_query` is where such a kernel stops: it first
warms what a first run needs (torch's operators, the NLM kernel compiled by numba, the solvers' code paths) on a
32² problem, then waits for the student's request and returns its query string. In a kernel started for a request
(no pool, or a lesson), it returns the query string at once.
"""

from __future__ import annotations

import os

__all__ = ["page_query", "preheated", "warm_up"]


def preheated() -> bool:
    """True in a kernel that Voilà started for its pool (before any request)."""
    return os.environ.get("VOILA_PREHEAT", "False") not in ("False", "")


def warm_up() -> None:
    """One 3-iteration run of the default settings on a 32² image, so that the first real run pays no first-call
    costs (loading the compiled NLM kernel, torch's first operator calls)."""
    from ..problems import ProblemCache, default_settings, start

    _, iterator = start(dict(default_settings(), size=32, max_iter=3), ProblemCache())
    for _ in iterator:
        pass


def page_query(warm: bool = True) -> str | None:
    """The page's query string (``'gamma=0.95&size=128'``, or None); in a preheated kernel, after :func:`warm_up`
    and the student's request."""
    if preheated():
        if warm:
            warm_up()
        from voila.utils import wait_for_request

        wait_for_request()
    return os.environ.get("QUERY_STRING")
