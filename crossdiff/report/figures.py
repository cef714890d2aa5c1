"""The report's figures as PNG bytes (matplotlib, Agg backend: no display needed).

Each function takes typed results and returns the PNG of one figure, or None when the result
holds nothing to draw.
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from crossdiff.experiments.steering import SaturationCurve, SteeringGridResult
from crossdiff.experiments.sweeps import CorrelationResult, LayerSweepResult

PP = 100.0  # rates are fractions; figures show percentage points


def _errors(centre: np.ndarray, low: np.ndarray, high: np.ndarray) -> list[np.ndarray]:
    """Error-bar lengths below and above `centre` (never negative, even for a shifted interval)."""
    return [np.maximum(centre - low, 0.0), np.maximum(high - centre, 0.0)]


def _png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def saturation_figure(curve: SaturationCurve) -> bytes | None:
    """Best test gain (α chosen on dev) against the number of steered features, per set."""
    if not curve.curves:
        return None
    figure, axes = plt.subplots(figsize=(6.4, 4.0))
    for name, points in sorted(curve.curves.items()):
        sizes = [p.size for p in points]
        gains = np.array([p.difference for p in points]) * PP
        low = np.array([p.low for p in points]) * PP
        high = np.array([p.high for p in points]) * PP
        yerr = _errors(gains, low, high)
        axes.errorbar(sizes, gains, yerr=yerr, marker="o", capsize=3, label=name)
    axes.axhline(0.0, color="grey", linewidth=0.8)
    axes.set_xscale("log", base=2)
    axes.set_xlabel("number of steered features")
    axes.set_ylabel("Δ metric on test (pp)")
    axes.set_title(f"Saturation curve ({curve.interval_method} 95 % intervals)")
    axes.legend(fontsize=8)
    return _png(figure)


def steering_heatmap(grid: SteeringGridResult, feature_set: str) -> bytes | None:
    """Dev gain of every (α, subset size) cell of one feature set."""
    cells = [c for c in grid.cells if c.feature_set == feature_set]
    if not cells:
        return None
    sizes = sorted({c.size for c in cells})
    alphas = sorted({c.alpha for c in cells})
    values = np.full((len(sizes), len(alphas)), np.nan)
    for cell in cells:
        values[sizes.index(cell.size), alphas.index(cell.alpha)] = cell.dev.difference * PP
    figure, axes = plt.subplots(figsize=(1.2 + 0.9 * len(alphas), 1.2 + 0.5 * len(sizes)))
    bound = max(1.0, float(np.nanmax(np.abs(values))))
    image = axes.imshow(values, cmap="RdBu", vmin=-bound, vmax=bound, aspect="auto")
    for (row, col), value in np.ndenumerate(values):
        if not math.isnan(value):
            axes.text(col, row, f"{value:+.0f}", ha="center", va="center", fontsize=8)
    axes.set_xticks(range(len(alphas)), [f"{a:g}" for a in alphas])
    axes.set_yticks(range(len(sizes)), [str(s) for s in sizes])
    axes.set_xlabel("α")
    axes.set_ylabel("features steered")
    axes.set_title(f"{feature_set}: Δ on dev (pp)", fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.05)
    return _png(figure)


def relative_norm_figure(relative_norms: dict[str, list[float]]) -> bytes | None:
    """Histograms of ||d_A|| / (||d_A|| + ||d_B||) per partition."""
    present = {k: v for k, v in relative_norms.items() if v}
    if not present:
        return None
    figure, axes = plt.subplots(figsize=(6.4, 3.6))
    bins = np.linspace(0.0, 1.0, 41)
    for name, values in sorted(present.items()):
        axes.hist(values, bins=bins, alpha=0.6, label=f"{name} ({len(values)})")
    axes.set_yscale("log")
    axes.set_xlabel("relative decoder norm ||d_A|| / (||d_A|| + ||d_B||)  (1 = model A only)")
    axes.set_ylabel("features")
    axes.legend(fontsize=8)
    return _png(figure)


def gain_vs_error_figure(result: CorrelationResult) -> bytes | None:
    """Each sweep member's splice gain against its reconstruction error (FVU on model A)."""
    if not result.members:
        return None
    figure, axes = plt.subplots(figsize=(5.6, 4.0))
    errors = [m.fvu_a for m in result.members]
    gains = np.array([m.splice.difference for m in result.members]) * PP
    lows = np.array([m.splice.bootstrap.low for m in result.members]) * PP
    highs = np.array([m.splice.bootstrap.high for m in result.members]) * PP
    axes.errorbar(errors, gains, yerr=_errors(gains, lows, highs), fmt="o", capsize=2)
    axes.axhline(0.0, color="grey", linewidth=0.8)
    axes.set_xlabel("reconstruction error of model A (FVU)")
    axes.set_ylabel("splice gain on test (pp)")
    title = f"{result.n} crosscoders"
    if result.pearson_r is not None:
        low, high = result.pearson_low, result.pearson_high
        title += f": r = {result.pearson_r:+.2f} [{low:+.2f}, {high:+.2f}]"
    axes.set_title(title, fontsize=9)
    return _png(figure)


def layer_figure(result: LayerSweepResult) -> bytes | None:
    """One-feature steering gain per layer, with intervals."""
    rows = [r for r in result.rows if r.point is not None]
    if not rows:
        return None
    figure, axes = plt.subplots(figsize=(6.4, 3.6))
    labels = [r.hook_point for r in rows]
    gains = np.array([r.point.test.difference for r in rows]) * PP
    low = np.array([r.point.test.bootstrap.low for r in rows]) * PP
    high = np.array([r.point.test.bootstrap.high for r in rows]) * PP
    axes.bar(range(len(rows)), gains, yerr=_errors(gains, low, high), capsize=3)
    axes.axhline(result.threshold * PP, color="grey", linestyle="--", linewidth=0.8)
    axes.set_xticks(range(len(rows)), labels, rotation=30, fontsize=8)
    axes.set_ylabel("Δ on test (pp), one feature")
    return _png(figure)
