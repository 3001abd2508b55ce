"""Spectra as numbers: streaming second moments, the power-law tail, effective rank.

Everything here takes numpy arrays that a model has already produced, so the
estimators are tested on synthetic data with a known spectrum; the linear
algebra runs in torch (see `_torch`). Uncertainty is a bootstrap over *inputs* (blocks of whole sequences), not over eigenvalues: an
eigenvalue spectrum is one correlated object, and the question is how much it
would move with another draw of N inputs. Activations are streamed into
`BlockMoments` (memory K x d x d, independent of N). Per-sample gradients are
few (N rows of P >> N numbers): their N x N Gram matrix gives the spectrum, and
they get no bootstrap interval, because N gradients are nearly N separate
directions and a resample that repeats inputs changes the spectrum by its own
rank (docs/spectra.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

HEAD_DEFAULT = 8
BOOTSTRAP_DEFAULT = 200
BLOCKS_DEFAULT = 32
_RELATIVE_FLOOR = 1e-12  # eigenvalues below this fraction of the largest are numerical zeros: no log


class BlockMoments:
    """Centred covariance of vectors added in K blocks. Each block keeps its own
    count, sum and sum of outer products (float64), so the covariance of any
    multiset of blocks (a bootstrap replicate) is a weighted sum, with no second
    pass over the data."""

    def __init__(self, dim: int, blocks: int):
        self.count = np.zeros(blocks)
        self.sums = np.zeros((blocks, dim))
        self.outer = np.zeros((blocks, dim, dim))

    @property
    def blocks(self) -> int:
        return len(self.count)

    def add(self, block: int, vectors: np.ndarray) -> None:
        """Add rows of `vectors` (n, d) to `block`."""
        x = np.asarray(vectors, dtype=np.float64)
        self.count[block] += len(x)
        self.sums[block] += x.sum(0)
        self.outer[block] += (_torch(x).T @ _torch(x)).numpy()

    def covariance(self, weights: np.ndarray | None = None) -> np.ndarray:
        """The covariance of the blocks taken `weights` times each (all once by default)."""
        w = np.ones(self.blocks) if weights is None else np.asarray(weights, dtype=np.float64)
        n = w @ self.count
        mean = (w @ self.sums) / n
        return np.einsum("b,bij->ij", w, self.outer) / n - np.outer(mean, mean)


def _torch(array: np.ndarray) -> torch.Tensor:
    """A float64 torch view of `array`, for the products and eigenvalues: torch keeps to
    `torch.set_num_threads` (`--threads`), numpy's OpenBLAS starts threads of its own,
    and on a busy 2-core machine its eigvalsh of a 128 x 128 matrix took 22 ms against
    torch's 1.5 ms (one call per bootstrap replicate)."""
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64))


def descending_eigenvalues(matrix: np.ndarray) -> np.ndarray:
    """Eigenvalues of a symmetric matrix, largest first, negatives (round-off) set to 0."""
    return np.clip(torch.linalg.eigvalsh(_torch(matrix)).numpy()[::-1], 0.0, None)


def block_bootstrap(moments: BlockMoments, replicates: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Spectra of `replicates` covariances of K blocks drawn with replacement."""
    k = moments.blocks
    return [descending_eigenvalues(moments.covariance(rng.multinomial(k, np.full(k, 1 / k)))) for _ in range(replicates)]


def gram_matrix(rows: np.ndarray) -> np.ndarray:
    """gram[i, j] = row_i . row_j (float64)."""
    x = _torch(rows)
    return (x @ x.T).numpy()


def gram_spectrum(gram: np.ndarray) -> np.ndarray:
    """Nonzero spectrum of the second moment (1/N) sum_i g_i g_i^T of N vectors, from
    their Gram matrix gram[i, j] = g_i . g_j (N x N, never the P x P matrix); the
    singular values of the N x P matrix of the g_i are sqrt(N x these)."""
    return descending_eigenvalues(gram / len(gram))


@dataclass(frozen=True)
class PowerLawTail:
    """lambda_k ~ C k^(-exponent) fitted by least squares on log lambda against log k
    over ranks `fit_range` (1-based, inclusive). `ci95` is the basic bootstrap 95% interval of
    the exponent from the bootstrap replicates whose fit range has no zeros
    (`replicates` of them; see `_basic_interval`); None with fewer than 20."""

    exponent: float
    ci95: tuple[float, float] | None
    fit_range: tuple[int, int]
    r2: float
    replicates: int


@dataclass(frozen=True)
class Spectrum:
    """One eigen-spectrum (largest first) and its summary: the head (the leading
    eigenvalues and each one's share of the total), the power-law tail and the
    effective rank exp(entropy of lambda / sum lambda) with its 95% interval."""

    eigenvalues: tuple[float, ...]
    head: tuple[float, ...]
    head_share: tuple[float, ...]
    tail: PowerLawTail | None
    effective_rank: float
    effective_rank_ci95: tuple[float, float] | None

    @property
    def total(self) -> float:
        return float(sum(self.eigenvalues))


def default_fit_range(rank: int, head: int) -> tuple[int, int]:
    """Ranks after the head up to half the nonzero spectrum: the head is a few
    distinct directions, not a power law, and the last half bends down from
    finite sampling (and from any rank deficit)."""
    return head + 1, rank // 2


def fit_power_law(eigenvalues: np.ndarray, fit_range: tuple[int, int]) -> tuple[float, float] | None:
    """(exponent, r2) of the log-log least-squares line over `fit_range`; None when
    that range holds a numerical zero or fewer than 3 ranks."""
    lo, hi = fit_range
    values = np.asarray(eigenvalues[lo - 1 : hi], dtype=np.float64)
    if len(values) < 3 or hi > len(eigenvalues) or values.min() <= _RELATIVE_FLOOR * eigenvalues[0]:
        return None
    x, y = np.log(np.arange(lo, hi + 1)), np.log(values)
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    spread = float(((y - y.mean()) ** 2).sum())
    return float(-slope), 1.0 - float(residual @ residual) / spread if spread > 0 else 1.0


def effective_rank(eigenvalues: np.ndarray) -> float:
    """exp of the Shannon entropy of the normalised spectrum (Roy and Vetterli, 2007):
    d for a flat spectrum of d directions, 1 for a single one."""
    p = np.asarray(eigenvalues, dtype=np.float64)
    p = p[p > 0] / p.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def _basic_interval(point: float, values: list[float]) -> tuple[float, float] | None:
    """The basic (reverse-percentile) bootstrap 95% interval, 2 x point - the 97.5%
    and 2.5% quantiles of the replicates: spectra of resampled inputs are biased
    (a resample repeats inputs), and this carries that bias back to the point
    estimate instead of reporting it (the plain percentile interval can miss its
    own point estimate). None with fewer than 20 replicates."""
    if len(values) < 20:
        return None
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(2 * point - hi), float(2 * point - lo)


def summarize(
    eigenvalues: np.ndarray, replicates: list[np.ndarray], head: int = HEAD_DEFAULT, fit_range: tuple[int, int] | None = None
) -> Spectrum:
    """A `Spectrum` from the point estimate and the bootstrap replicates' spectra.
    The default fit range (see `default_fit_range`) is set from the point estimate's
    nonzero rank and kept for every replicate, so the interval is that of one quantity."""
    values = np.asarray(eigenvalues, dtype=np.float64)
    rank = int((values > _RELATIVE_FLOOR * values[0]).sum()) if len(values) and values[0] > 0 else 0
    chosen = fit_range or default_fit_range(rank, head)
    point = fit_power_law(values, chosen)
    tail = None
    if point is not None:
        exponents = [fit[0] for r in replicates if (fit := fit_power_law(r, chosen)) is not None]
        tail = PowerLawTail(point[0], _basic_interval(point[0], exponents), chosen, point[1], len(exponents))
    total = values.sum()
    top = values[:head]
    erank = effective_rank(values) if total > 0 else 0.0
    return Spectrum(
        eigenvalues=tuple(float(v) for v in values),
        head=tuple(float(v) for v in top),
        head_share=tuple(float(v / total) if total > 0 else 0.0 for v in top),
        tail=tail,
        effective_rank=erank,
        effective_rank_ci95=_basic_interval(erank, [effective_rank(r) for r in replicates if r.sum() > 0]),
    )
