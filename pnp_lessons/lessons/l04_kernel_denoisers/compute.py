"""The computations of lesson 04 (Kernel denoisers), widget-free: problem set-ups, runs, numbers and the
figures that teach them. :mod:`.widgets` shows them live; :mod:`.exercises` asks about them.
"""

from __future__ import annotations

import numpy as np
import torch

from ...denoisers.nlm import KernelWeights
from ...images import sample
from ...params import Param
from ...runtime import is_fast

__all__ = ["matrix_facts", "noisy_sample", "PARAMS"]


PARAMS = {
    "h": Param("h", "h·255", "kernel width", 2.0, 120.0, 1.0, digits=0),
    "patch": Param("patch", "p", "patch side, pixels", 1, 9, 2, integer=True, odd=True),
    "window": Param("window", "Ω side", "window, pixels", 3, 21, 2, integer=True, odd=True),
}


def image_size() -> int:
    return 40 if is_fast() else 64


def noisy_sample(name: str = "camera", size: int | None = None, noise255: float = 20.0, seed: int = 0):
    """(clean, noisy) grey sample image, noise σ = noise255/255."""
    x = sample(name, size=size or image_size(), grey=True)
    g = torch.Generator().manual_seed(seed)
    return x, x + noise255 / 255 * torch.randn(x.shape, generator=g)


def matrix_facts(Wk: KernelWeights, norms: bool = True) -> dict:
    """Numerical facts about W (small images): row and column sums, asymmetry, ρ(W), ‖W‖₂, λ_min and λ_max."""
    import scipy.sparse.linalg as spla

    S = Wk.to_sparse()
    rows = np.asarray(S.sum(axis=1)).ravel()
    cols = np.asarray(S.sum(axis=0)).ravel()
    asym = float(abs(S - S.T).max())
    out = dict(n=S.shape[0], nnz=S.nnz, row_min=float(rows.min()), row_max=float(rows.max()),
               col_min=float(cols.min()), col_max=float(cols.max()), asym=asym, min_entry=float(S.data.min()))
    if norms:
        from ...analysis import eigenvalue_range

        v0 = np.ones(S.shape[0])
        out["rho"] = float(abs(spla.eigs(S, k=1, which="LM", v0=v0, return_eigenvectors=False, tol=1e-8)).max())
        out["norm2"] = float(spla.svds(S, k=1, v0=v0, return_singular_vectors=False, tol=1e-8).max())
        out["lam_min"], out["lam_max"] = eigenvalue_range(Wk)
    return out
