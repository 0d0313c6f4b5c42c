"""Forward models ``y = A x + ε`` and their closed-form data proximal maps.

Every operator works on ``(B, C, H, W)`` batches (grey or colour, CPU or CUDA) and offers

* ``A(x)`` and ``A_adjoint(y)`` — the forward map and its adjoint, ⟨Ax, y⟩ = ⟨x, Aᵀy⟩;
* ``observe(x, sigma, seed)`` — ``A(x)`` plus white Gaussian noise of standard deviation σ;
* ``prox_data(z, y, tau)`` — argmin_x ½‖Ax − y‖² + ‖x − z‖²/(2τ), in closed form;
* ``norm()`` — ‖AᵀA‖, the largest eigenvalue of AᵀA (the Lipschitz constant of ∇f for
  f = ½‖Ax − y‖², which bounds the step sizes of ISTA and PnP-ISTA).

Boundary convention: blurs are *circular* convolutions computed with the FFT (as in the GS-PnP
reference code), so AᵀA is diagonalised by the DFT and the data prox is exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .checks import check_image, check_positive

__all__ = [
    "Operator", "Denoising", "Inpainting", "Blur", "SuperResolution",
    "gaussian_kernel", "uniform_kernel", "motion_kernel", "load_kernels", "shift_pixels",
]


# --------------------------------------------------------------------------- base class
class Operator:
    """Base class of the linear forward models. Subclasses implement ``A``, ``A_adjoint``,
    ``prox_data`` and ``norm``."""

    name = "operator"

    def A(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def prox_data(self, z: torch.Tensor, y: torch.Tensor, tau: float) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def norm(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def AtA(self, x: torch.Tensor) -> torch.Tensor:
        """AᵀA x."""
        return self.A_adjoint(self.A(x))

    def data_fidelity(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """f(x) = ½‖Ax − y‖² summed over the batch."""
        return 0.5 * float(((self.A(x) - y).double() ** 2).sum())

    def grad_data(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """∇f(x) = Aᵀ(Ax − y)."""
        return self.A_adjoint(self.A(x) - y)

    def observe(self, x: torch.Tensor, sigma: float = 0.0, seed: int | None = 0) -> torch.Tensor:
        """Simulate ``y = A x + σ ε`` with ε ~ N(0, I).

        The noise is drawn on the CPU from ``seed`` and moved to ``x``'s device, so the same
        seed gives the same observation on CPU and CUDA.
        """
        check_image(x)
        sigma = check_positive(sigma, "sigma", allow_zero=True)
        y = self.A(x)
        if sigma > 0:
            g = torch.Generator().manual_seed(seed) if seed is not None else None
            y = y + sigma * torch.randn(y.shape, generator=g, dtype=y.dtype).to(y.device)
        return y

    def _check_prox_args(self, z, y, tau):
        check_image(z, "z")
        check_image(y, "y")
        return check_positive(tau, "tau")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Denoising(Operator):
    """A = I: ``y = x + ε``.

    Examples
    --------
    >>> op = Denoising()
    >>> x = torch.ones(1, 1, 2, 2)
    >>> op.prox_data(x, 3 * x, tau=1.0)[0, 0, 0, 0].item()   # (z + τ y) / (1 + τ)
    2.0
    """

    name = "denoising"

    def A(self, x):
        check_image(x)
        return x.clone()

    def A_adjoint(self, y):
        check_image(y, "y")
        return y.clone()

    def prox_data(self, z, y, tau):
        tau = self._check_prox_args(z, y, tau)
        return (z + tau * y) / (1 + tau)

    def norm(self):
        return 1.0


class Inpainting(Operator):
    """Random (or given) pixel masks: ``(Ax)_i = m_i x_i`` with m ∈ {0, 1}.

    The observation keeps the image size and holds zeros at missing pixels, so Aᵀ = A and
    AᵀA = diag(m) (this is the inpainting model of Gavaskar & Chaudhury, §IV).

    Parameters
    ----------
    mask : tensor, optional
        0/1 mask of shape ``(H, W)`` (shared by every image and channel), ``(B, 1, H, W)``
        or ``(B, C, H, W)``.
    ratio : float, optional
        Fraction of pixels *missing* (0.8 = the paper's "80 % missing"), used to draw a mask
        on first use when ``mask`` is not given. One mask per image size, shared by channels.
    seed : int, optional
        Seed of the random mask.

    Examples
    --------
    >>> op = Inpainting(ratio=0.5, seed=0)
    >>> x = torch.rand(2, 3, 8, 8)
    >>> y = op.A(x)
    >>> bool(((y == 0) | (y == x)).all())
    True
    """

    name = "inpainting"

    def __init__(self, mask=None, ratio: float | None = None, seed: int | None = None):
        if mask is None and ratio is None:
            raise ValueError("Inpainting needs either mask or ratio (the fraction of missing pixels)")
        if mask is not None and ratio is not None:
            raise ValueError("Inpainting takes mask or ratio, not both")
        if ratio is not None:
            r = float(ratio)
            if not (0.0 <= r < 1.0):
                raise ValueError(f"ratio (fraction of missing pixels) must be in [0, 1), got {ratio!r}")
            self.ratio = r
        else:
            self.ratio = None
        if mask is not None:
            mask = torch.as_tensor(mask, dtype=torch.float32)
            if mask.dim() == 2:
                mask = mask[None, None]
            if mask.dim() != 4:
                raise ValueError(f"mask must have shape (H, W) or (B, C, H, W), got {tuple(mask.shape)}")
            if not bool(((mask == 0) | (mask == 1)).all()):
                raise ValueError("mask must contain only 0 and 1")
        self._mask = mask
        self.seed = seed

    @property
    def mask(self) -> torch.Tensor | None:
        """The 0/1 mask (``None`` until drawn for an image size)."""
        return self._mask

    def mask_for(self, x: torch.Tensor) -> torch.Tensor:
        """The mask broadcast to ``x``'s shape, drawn with ``seed`` on first use if needed."""
        H, W = x.shape[-2:]
        if self._mask is None or (self.ratio is not None and tuple(self._mask.shape[-2:]) != (H, W)):
            g = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
            self._mask = (torch.rand((1, 1, H, W), generator=g) >= self.ratio).float()
        m = self._mask
        if tuple(m.shape[-2:]) != (H, W):
            raise ValueError(f"mask has size {tuple(m.shape[-2:])} but the image has size {(H, W)}")
        try:
            torch.broadcast_shapes(m.shape, x.shape)
        except RuntimeError:
            raise ValueError(f"mask of shape {tuple(m.shape)} does not broadcast to {tuple(x.shape)}") from None
        return m.to(device=x.device, dtype=x.dtype)

    def A(self, x):
        check_image(x)
        return self.mask_for(x) * x

    def A_adjoint(self, y):
        check_image(y, "y")
        return self.mask_for(y) * y

    def prox_data(self, z, y, tau):
        # (diag(m) + I/τ) x = m y + z/τ, solved pixelwise
        tau = self._check_prox_args(z, y, tau)
        m = self.mask_for(z)
        return (tau * m * y + z) / (tau * m + 1)

    def norm(self):
        if self._mask is None:
            return 1.0
        return float(self._mask.max())

    def __repr__(self):
        return f"Inpainting(ratio={self.ratio}, seed={self.seed})"


# --------------------------------------------------------------------------- FFT helpers
def _p2o(kernel: torch.Tensor, shape, device, dtype) -> torch.Tensor:
    """Optical transfer function of a 2-D kernel for circular convolution on ``shape``
    (psf2otf: zero-pad, then roll the kernel centre to the origin)."""
    kh, kw = kernel.shape
    H, W = shape
    if kh > H or kw > W:
        raise ValueError(f"the blur kernel ({kh}×{kw}) is larger than the image ({H}×{W})")
    k = torch.zeros((H, W), dtype=dtype, device=device)
    k[:kh, :kw] = kernel.to(device=device, dtype=dtype)
    k = torch.roll(k, shifts=(-(kh // 2), -(kw // 2)), dims=(0, 1))
    return torch.fft.fft2(k)


def _as_kernel(kernel) -> torch.Tensor:
    k = torch.as_tensor(np.asarray(kernel) if not torch.is_tensor(kernel) else kernel)
    k = k.detach().to(torch.float64).squeeze()
    if k.dim() != 2:
        raise ValueError(f"kernel must be 2-D (kh, kw), got shape {tuple(k.shape)}")
    if not bool(torch.isfinite(k).all()):
        raise ValueError("kernel contains NaN or infinite values")
    if float(k.abs().sum()) == 0:
        raise ValueError("kernel is all zeros")
    return k


class Blur(Operator):
    """Circular convolution with a 2-D kernel, computed with the FFT.

    The same kernel blurs every channel. ``A_adjoint`` is the correlation with the kernel (the
    conjugate transfer function) and ``prox_data`` solves (AᵀA + I/τ) x = Aᵀy + z/τ exactly
    in the Fourier domain.

    Examples
    --------
    >>> op = Blur(uniform_kernel(3))
    >>> x = torch.zeros(1, 1, 8, 8); x[0, 0, 4, 4] = 1
    >>> round(op.A(x)[0, 0, 3:6, 3:6].sum().item(), 6)
    1.0
    """

    name = "deblurring"

    def __init__(self, kernel):
        self.kernel = _as_kernel(kernel)
        self._cache: dict = {}

    def otf(self, shape, device, dtype) -> torch.Tensor:
        """The kernel's transfer function on an image of size ``shape`` (cached)."""
        cdtype = torch.float64 if dtype == torch.float64 else torch.float32
        key = (tuple(shape), str(device), cdtype)
        if key not in self._cache:
            self._cache[key] = _p2o(self.kernel, shape, device, cdtype)
        return self._cache[key]

    def _filter(self, x, conj=False):
        K = self.otf(x.shape[-2:], x.device, x.dtype)
        if conj:
            K = K.conj()
        return torch.fft.ifft2(torch.fft.fft2(x) * K).real.to(x.dtype)

    def A(self, x):
        check_image(x)
        return self._filter(x)

    def A_adjoint(self, y):
        check_image(y, "y")
        return self._filter(y, conj=True)

    def prox_data(self, z, y, tau):
        tau = self._check_prox_args(z, y, tau)
        if z.shape != y.shape:
            raise ValueError(f"z has shape {tuple(z.shape)} but y has shape {tuple(y.shape)}")
        K = self.otf(z.shape[-2:], z.device, z.dtype)
        num = K.conj() * torch.fft.fft2(y) + torch.fft.fft2(z) / tau
        return torch.fft.ifft2(num / (K.abs() ** 2 + 1 / tau)).real.to(z.dtype)

    def norm(self):
        # ‖AᵀA‖ = max |K̂|² over a fine frequency grid (exact on any grid containing it)
        n = max(64, 4 * max(self.kernel.shape))
        return float((_p2o(self.kernel, (n, n), "cpu", torch.float64).abs() ** 2).max())

    def __repr__(self):
        return f"Blur(kernel {tuple(self.kernel.shape)})"


def shift_pixels(x: torch.Tensor, shift: float) -> torch.Tensor:
    """``x`` resampled at positions ``i + shift`` along both axes by linear interpolation, the
    positions clamped to the image (scipy ``interp2d`` on a clipped grid, as the reference's
    ``shift_pixel``).

    Examples
    --------
    >>> shift_pixels(torch.tensor([[[[0., 1., 2., 3.]]]]), 0.5)
    tensor([[[[0.5000, 1.5000, 2.5000, 3.0000]]]])
    """
    out = x
    for dim in (-2, -1):
        n = x.shape[dim]
        pos = torch.clamp(torch.arange(n, dtype=torch.float64) + float(shift), 0, n - 1)
        lo = pos.floor().long()
        hi = torch.clamp(lo + 1, max=n - 1)
        w = (pos - lo).to(device=x.device, dtype=x.dtype)
        shape = [1] * x.dim()
        shape[dim] = n
        w = w.reshape(shape)
        a = out.index_select(dim, lo.to(x.device))
        b = out.index_select(dim, hi.to(x.device))
        out = a + w * (b - a)
    return out


class SuperResolution(Operator):
    """Blur then keep one pixel in ``factor`` along each axis: ``A = S H`` (as USRNet / GS-PnP).

    ``S`` keeps the pixels ``x[..., ::factor, ::factor]`` and ``Sᵀ`` puts them back on a zero
    grid. The data prox uses the FFT decimation identity of Zhao et al. (IEEE TIP 2016, Thm. 1):
    with α = 1/τ and r = HᵀSᵀy + α z,

        x̂ = (r̂ − conj(K̂) ⊙ ⇑[ ⇓(K̂ ⊙ r̂) / (⇓|K̂|² + α) ]) / α,

    where ⇓ averages the ``factor × factor`` blocks of the spectrum and ⇑ tiles them back.
    Image sizes must be multiples of ``factor``.

    Examples
    --------
    >>> op = SuperResolution(gaussian_kernel(7, 1.0), factor=2)
    >>> op.A(torch.rand(1, 3, 16, 16)).shape
    torch.Size([1, 3, 8, 8])
    """

    name = "super-resolution"

    def __init__(self, kernel, factor: int = 2):
        if factor not in (2, 3, 4):
            raise ValueError(f"factor must be 2, 3 or 4, got {factor!r}")
        self.factor = int(factor)
        self.blur = Blur(kernel)
        self.kernel = self.blur.kernel

    def _check_hr(self, x, name="x"):
        check_image(x, name)
        H, W = x.shape[-2:]
        s = self.factor
        if H % s or W % s:
            raise ValueError(f"{name} has size {H}×{W}, which is not a multiple of the factor {s}; crop it first")
        return x

    def A(self, x):
        self._check_hr(x)
        return self.blur.A(x)[..., :: self.factor, :: self.factor]

    def upsample_zero(self, y):
        """Sᵀ: put the low-resolution pixels on a zero high-resolution grid."""
        s = self.factor
        B, C, h, w = y.shape
        out = torch.zeros((B, C, h * s, w * s), dtype=y.dtype, device=y.device)
        out[..., ::s, ::s] = y
        return out

    def A_adjoint(self, y):
        check_image(y, "y")
        return self.blur.A_adjoint(self.upsample_zero(y))

    def _block_mean(self, X):
        s = self.factor
        *lead, H, W = X.shape
        X = X.reshape(*lead, s, H // s, s, W // s)
        return X.mean(dim=(-4, -2))

    def prox_data(self, z, y, tau):
        tau = self._check_prox_args(z, y, tau)
        self._check_hr(z, "z")
        s = self.factor
        if tuple(y.shape[-2:]) != (z.shape[-2] // s, z.shape[-1] // s):
            raise ValueError(f"y has size {tuple(y.shape[-2:])} but z/factor is "
                             f"{(z.shape[-2] // s, z.shape[-1] // s)}")
        alpha = 1.0 / tau
        K = self.blur.otf(z.shape[-2:], z.device, z.dtype)
        FR = K.conj() * torch.fft.fft2(self.upsample_zero(y)) + alpha * torch.fft.fft2(z)
        FBR = self._block_mean(K * FR)
        invW = self._block_mean(K.abs() ** 2)
        tiled = (FBR / (invW + alpha)).repeat(1, 1, s, s)
        FX = (FR - K.conj() * tiled) / alpha
        return torch.fft.ifft2(FX).real.to(z.dtype)

    def norm(self):
        # S H Hᵀ Sᵀ is circulant on the low-resolution grid with eigenvalues ⇓|K̂|²
        n = self.factor * max(32, 2 * max(self.kernel.shape))
        K = _p2o(self.kernel, (n, n), "cpu", torch.float64)
        return float(self._block_mean(K.abs() ** 2).max())

    def bicubic_up(self, y, shift: bool = True):
        """Bicubic upsampling of the observation (the GS-PnP initialisation for SR).

        ``A`` keeps the pixels ``x[..., ::s, ::s]``, so low-resolution pixel j sits at high-resolution
        position j·s, while bicubic interpolation (pixel centres, ``align_corners=False``) puts it at
        j·s + (s − 1)/2. With ``shift=True`` (default) the upsampled image is moved back by (s − 1)/2
        pixels by linear interpolation, clamped at the border: the reference's ``shift_pixel`` after
        ``cv2.resize(..., INTER_CUBIC)`` (GSPnP ``utils_sr.py``, from USRNet/DPIR).

        Examples
        --------
        >>> op = SuperResolution(gaussian_kernel(3, 0.5), factor=3)
        >>> y = torch.arange(4.0).reshape(1, 1, 1, 4).repeat(1, 1, 4, 1)
        >>> op.bicubic_up(y)[0, 0, 0, ::3]       # LR pixel j lands on HR pixel 3j
        tensor([0., 1., 2., 3.])
        """
        check_image(y, "y")
        up = F.interpolate(y, scale_factor=self.factor, mode="bicubic", align_corners=False)
        return shift_pixels(up, (self.factor - 1) / 2) if shift else up

    def __repr__(self):
        return f"SuperResolution(kernel {tuple(self.kernel.shape)}, factor={self.factor})"


# --------------------------------------------------------------------------- kernels
def _check_size(size, name="size"):
    if not (isinstance(size, (int, np.integer)) and size >= 1):
        raise ValueError(f"{name} must be a positive integer, got {size!r}")
    return int(size)


def gaussian_kernel(size: int, std: float) -> torch.Tensor:
    """Normalised isotropic Gaussian kernel, ``size × size`` (e.g. the 25×25, std 1.6 kernel of GS-PnP).

    Examples
    --------
    >>> k = gaussian_kernel(25, 1.6)
    >>> k.shape, round(k.sum().item(), 6)
    (torch.Size([25, 25]), 1.0)
    """
    size = _check_size(size)
    std = check_positive(std, "std")
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * std ** 2))
    return (g / g.sum()).float()


def uniform_kernel(size: int) -> torch.Tensor:
    """Normalised ``size × size`` box kernel (the 9×9 uniform blur of GS-PnP).

    Examples
    --------
    >>> uniform_kernel(3).sum().item()
    1.0
    """
    size = _check_size(size)
    return torch.full((size, size), 1.0 / size ** 2)


def motion_kernel(size: int = 19, seed: int | None = 0, length: float | None = None) -> torch.Tensor:
    """A random camera-shake kernel.

    A trajectory is drawn as a random walk with inertia (velocity kept with momentum and kicked
    by Gaussian noise, in the spirit of Boracchi & Foi 2012 / Levin et al. 2009), rescaled to fit
    the ``size × size`` support, rasterised by bilinear splatting, lightly smoothed and
    normalised to sum 1.

    Examples
    --------
    >>> k = motion_kernel(19, seed=3)
    >>> k.shape, round(k.sum().item(), 6), bool((k >= 0).all())
    (torch.Size([19, 19]), 1.0, True)
    """
    size = _check_size(size)
    if size < 3:
        raise ValueError(f"size must be at least 3 for a motion kernel, got {size}")
    rng = np.random.default_rng(seed)
    n = 64 * size
    length = float(length) if length is not None else 0.8 * (size - 1)
    v = rng.normal(size=2)
    v /= np.linalg.norm(v) + 1e-12
    pts = [np.zeros(2)]
    for _ in range(n):
        v = 0.95 * v + 0.35 * rng.normal(size=2)
        v /= np.linalg.norm(v) + 1e-12
        pts.append(pts[-1] + v)
    pts = np.array(pts)
    pts -= pts.mean(0)
    extent = np.abs(pts).max()
    pts *= (length / 2) / max(extent, 1e-12)
    pts += (size - 1) / 2
    k = np.zeros((size, size))
    for py, px in pts:
        i0, j0 = int(np.floor(py)), int(np.floor(px))
        di, dj = py - i0, px - j0
        for ii, wi in ((i0, 1 - di), (i0 + 1, di)):
            for jj, wj in ((j0, 1 - dj), (j0 + 1, dj)):
                if 0 <= ii < size and 0 <= jj < size:
                    k[ii, jj] += wi * wj
    # light smoothing, as recorded kernels are not one pixel thin
    k = np.pad(k, 1)
    k = sum(np.roll(np.roll(k, a, 0), b, 1) * w for a, b, w in
            [(0, 0, 4), (1, 0, 1), (-1, 0, 1), (0, 1, 1), (0, -1, 1)])[1:-1, 1:-1]
    return torch.from_numpy(k / k.sum()).float()


def _normalise_list(arrays, path) -> list[torch.Tensor]:
    out = []
    for i, a in enumerate(arrays):
        a = np.asarray(a, dtype=np.float64).squeeze()
        if a.ndim != 2:
            raise ValueError(f"{path}: kernel {i} is not 2-D (shape {a.shape})")
        if not np.isfinite(a).all() or a.sum() <= 0:
            raise ValueError(f"{path}: kernel {i} has non-finite values or a non-positive sum")
        out.append(torch.from_numpy(a / a.sum()).float())
    return out


def load_kernels(path) -> list[torch.Tensor]:
    """Load blur kernels from a file, each normalised to sum 1.

    Formats: ``.npy`` (one 2-D kernel or a stack ``(n, kh, kw)``), ``.png`` (one kernel, grey
    levels), MATLAB v5 ``.mat`` (scipy; a ``kernels`` cell array such as USRNet's
    ``kernels_12.mat``) and MATLAB v7.3 ``.mat`` (HDF5 via h5py; object references such as
    Levin et al.'s ``Levin09.mat``). MATLAB stores arrays column-major: v7.3 kernels are
    transposed back.

    Returns
    -------
    list of torch.Tensor
        Float32 2-D kernels.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"kernel file not found: {p}")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        a = np.load(p, allow_pickle=False)
        arrays = [a] if a.ndim == 2 else list(a)
        return _normalise_list(arrays, p)
    if suffix == ".png":
        from PIL import Image

        with Image.open(p) as im:
            a = np.asarray(im.convert("F"), dtype=np.float64)
        return _normalise_list([a], p)
    if suffix == ".mat":
        import h5py

        if h5py.is_hdf5(p):
            return _normalise_list(_read_mat73(p), p)
        import scipy.io

        d = scipy.io.loadmat(p)
        keys = [k for k in d if not k.startswith("__")]
        key = "kernels" if "kernels" in d else (keys[0] if keys else None)
        if key is None:
            raise ValueError(f"{p}: no variable found in the MATLAB file")
        v = d[key]
        if v.dtype == object:
            arrays = [np.asarray(c) for c in v.ravel()]
        elif v.ndim == 2:
            arrays = [v]
        else:
            arrays = [v[..., i] for i in range(v.shape[-1])]
        return _normalise_list(arrays, p)
    raise ValueError(f"unsupported kernel file type {suffix!r} for {p} (use .npy, .png or .mat)")


def _read_mat73(p) -> list[np.ndarray]:
    import h5py

    with h5py.File(p, "r") as f:
        keys = [k for k in f.keys() if not k.startswith("#")]
        key = "kernels" if "kernels" in f else keys[0]
        ds = f[key]
        if ds.dtype == h5py.ref_dtype or ds.dtype.kind == "O":
            return [np.array(f[ref]).T for ref in np.array(ds).ravel()]
        a = np.array(ds)
        return [a.T] if a.ndim == 2 else [a[i].T for i in range(a.shape[0])]
