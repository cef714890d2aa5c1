"""From per-model NormStats to the (mean, scale) vectors a crosscoder applies to raw inputs.

x_norm = (x − mean) / scale per model; `scalar` uses one scale per model (the RMS of the
centred channels, so E||x_norm||² = d), `per_channel` the per-channel standard deviation.
"""

from __future__ import annotations

import torch

from crossdiff.crosscoder.config import Normalisation
from crossdiff.errors import CrossdiffError
from crossdiff.normstats import NormStats

MIN_SCALE = 1e-8


def model_mean_scale(stats: NormStats, mode: Normalisation) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, scale) float32 vectors of width d for one model under `mode`."""
    width = stats.width
    if mode == "none":
        return torch.zeros(width), torch.ones(width)
    if stats.count < 2:
        raise CrossdiffError(
            f"normalisation statistics were computed on {stats.count} vector(s); need at least "
            "2: collect more activations or use normalisation = 'none'"
        )
    mean = stats.mean.to(torch.float32)
    if mode == "scalar":
        rms = float(stats.std.pow(2).mean().sqrt())
        scale = torch.full((width,), max(rms, MIN_SCALE))
    else:
        scale = stats.std.to(torch.float32).clamp_min(MIN_SCALE)
    return mean, scale


def concatenated_mean_scale(
    stats: tuple[NormStats, NormStats], mode: Normalisation, widths: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, scale) over the concatenated (d_A + d_B) vector, checking the widths."""
    for index, (one, width) in enumerate(zip(stats, widths, strict=True)):
        if one.width != width:
            name = "AB"[index]
            raise CrossdiffError(
                f"normalisation statistics of model {name} have width {one.width} but the "
                f"crosscoder's widths[{index}] is {width}: use statistics of the same hook point"
            )
    parts = [model_mean_scale(one, mode) for one in stats]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
