"""Paired activations built from known ("planted") features, and how well a crosscoder finds them.

Each planted feature is shared (a direction in both models, the two correlated but not equal),
A-only or B-only. Samples switch features on sparsely with heavy-tailed magnitudes, add noise,
and sum the directions. A learned feature recovers a planted one when its raw-space decoder
vector [d_A ‖ d_B] is within cosine `threshold` of the planted [u_A ‖ u_B].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from scipy.stats import mannwhitneyu
from torch import Tensor

from crossdiff.crosscoder.model import Crosscoder

SHARED, A_ONLY, B_ONLY = 0, 1, 2


@dataclass
class PlantedFeatures:
    """Directions (F, d) per model (zero rows where absent), kinds (F,), firing probabilities."""

    directions_a: Tensor
    directions_b: Tensor
    kinds: Tensor
    firing_probability: Tensor
    noise: float

    @property
    def num_features(self) -> int:
        """Number of planted features F."""
        return int(self.kinds.shape[0])


def _unit_rows(x: Tensor) -> Tensor:
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def make_planted(
    num_features: int = 512,
    width: int = 64,
    a_only_fraction: float = 0.1,
    b_only_fraction: float = 0.1,
    shared_cosine: tuple[float, float] = (0.5, 0.9),
    mean_active: float = 6.0,
    noise: float = 0.03,
    seed: int = 0,
) -> PlantedFeatures:
    """Random planted features: the first ones A-only, then B-only, the rest shared.

    Shared features get a B direction whose cosine with the A direction is drawn uniformly from
    `shared_cosine`; firing probabilities vary over features (log-uniform over a 10× range)
    and average `mean_active` active features per sample.
    """
    gen = torch.Generator().manual_seed(seed)
    n_a, n_b = int(a_only_fraction * num_features), int(b_only_fraction * num_features)
    kinds = torch.full((num_features,), SHARED, dtype=torch.int64)
    kinds[:n_a], kinds[n_a : n_a + n_b] = A_ONLY, B_ONLY
    dir_a = _unit_rows(torch.randn(num_features, width, generator=gen))
    other = _unit_rows(torch.randn(num_features, width, generator=gen))
    other = _unit_rows(other - (other * dir_a).sum(1, keepdim=True) * dir_a)
    low, high = shared_cosine
    cosine = low + (high - low) * torch.rand(num_features, 1, generator=gen)
    dir_b = cosine * dir_a + (1 - cosine**2).sqrt() * other
    only_b = kinds == B_ONLY
    dir_b[only_b] = dir_a[only_b]  # a B-only feature has just one direction
    dir_a[only_b] = 0
    dir_b[kinds == A_ONLY] = 0
    weights = torch.exp(torch.rand(num_features, generator=gen) * torch.log(torch.tensor(10.0)))
    probability = (weights / weights.sum() * mean_active).clamp(max=1.0)
    return PlantedFeatures(dir_a, dir_b, kinds, probability, noise)


def sample_planted(planted: PlantedFeatures, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """n paired samples (x_A (n, d), x_B (n, d)) from the planted features."""
    gen = torch.Generator().manual_seed(seed)
    width = planted.directions_a.shape[1]
    x_a, x_b = torch.empty(n, width), torch.empty(n, width)
    for start in range(0, n, 8192):
        rows = min(8192, n - start)
        active = torch.rand(rows, planted.num_features, generator=gen) < planted.firing_probability
        magnitude = torch.exp(0.6 * torch.randn(rows, planted.num_features, generator=gen))
        coefficients = active * magnitude  # sparse, log-normal (heavy-tailed) magnitudes
        x_a[start : start + rows] = coefficients @ planted.directions_a
        x_b[start : start + rows] = coefficients @ planted.directions_b
    x_a += planted.noise * torch.randn(n, width, generator=gen)
    x_b += planted.noise * torch.randn(n, width, generator=gen)
    return x_a, x_b


@torch.no_grad()
def similarity(model: Crosscoder, planted: PlantedFeatures) -> Tensor:
    """(F, D) cosine between planted [u_A ‖ u_B] and learned raw-space [d_A ‖ d_B]."""
    learned = torch.cat([model.decoder_vectors(0), model.decoder_vectors(1)], dim=1)
    truth = torch.cat([planted.directions_a, planted.directions_b], dim=1)
    return _unit_rows(truth) @ _unit_rows(learned).T


def _auroc(positive: Tensor, negative: Tensor) -> float:
    if positive.numel() == 0 or negative.numel() == 0:
        return float("nan")
    u = mannwhitneyu(positive.numpy(), negative.numpy()).statistic
    return float(u) / (positive.numel() * negative.numel())


@torch.no_grad()
def evaluate_planted(
    model: Crosscoder,
    planted: PlantedFeatures,
    live_D: Tensor,
    threshold: float = 0.9,
) -> dict[str, float]:
    """Recovery of planted features, partition placement and relative-norm separation.

    `live_D` marks learned features that fire on held-out data; dead ones cannot recover.
    """
    cos = similarity(model, planted)
    cos[:, ~live_D] = -1
    best, match = cos.max(dim=1)
    found = best >= threshold
    kinds = planted.kinds
    result = {
        "recovery": float(found.float().mean()),
        "recovery_shared": float(found[kinds == SHARED].float().mean()),
        "recovery_a_only": float(found[kinds == A_ONLY].float().mean()),
        "recovery_b_only": float(found[kinds == B_ONLY].float().mean()),
        "live_features": int(live_D.sum()),
    }
    norms_a = model.decoder_vectors(0).norm(dim=1)
    norms_b = model.decoder_vectors(1).norm(dim=1)
    relative = norms_a / (norms_a + norms_b).clamp_min(1e-12)
    matched = relative[match]
    result["relative_norm_auroc"] = _auroc(
        matched[(kinds == A_ONLY) & found], matched[(kinds == SHARED) & found]
    )
    ranges = model.partition_slices()
    a_range = ranges["a_exclusive"]
    if a_range.stop > a_range.start:
        in_a = (match >= a_range.start) & (match < a_range.stop)
        result["a_only_in_a_exclusive"] = float((found & in_a)[kinds == A_ONLY].float().mean())
        # Which planted feature does each live A-exclusive feature resemble, by its A part?
        learned_a = _unit_rows(model.decoder_vectors(0)[a_range])
        cos_a = _unit_rows(planted.directions_a) @ learned_a.T  # (F, n_A)
        best_a, planted_of = cos_a.max(dim=0)
        live_a = live_D[a_range]
        resembles_shared = (best_a >= threshold) & (kinds[planted_of] == SHARED) & live_a
        result["shared_in_a_exclusive"] = float(resembles_shared.sum()) / max(int(live_a.sum()), 1)
        result["live_a_exclusive"] = int(live_a.sum())
    return result
