"""The named conditions of `crossdiff eval`, each one `Intervention`.

none (plain model), splice (h -> x̂ on the evaluated model), spillover (splice on model B),
steer (input-conditional α rule on features S), ablate (α = 0, or clamp to 0), control (the
steering edit's norm in a seeded random direction), clamp (features set to a value), direction
(fixed α·||h||-scaled decoder direction).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from crossdiff.errors import CrossdiffError
from crossdiff.evals.interventions import Intervention
from crossdiff.evals.positions import Policy

CONDITIONS = (
    "none",
    "splice",
    "spillover",
    "steer",
    "ablate",
    "control",
    "clamp",
    "direction",
)
_NEEDS_FEATURES = ("steer", "ablate", "control", "clamp", "direction")


def model_index(model: str) -> int:
    """'A' -> 0, 'B' -> 1 (case-insensitive)."""
    name = model.strip().upper()
    if name not in ("A", "B"):
        raise CrossdiffError(f"--model must be A (the tuned model) or B (the base), got {model!r}")
    return 0 if name == "A" else 1


def build_intervention(
    condition: str,
    model: str = "A",
    features: Sequence[int] = (),
    alpha: float = 1.0,
    value: float = 0.0,
    policy: Policy = "last_prompt_token",
    control_seed: int = 0,
    ablate_mode: Literal["alpha", "clamp"] = "alpha",
) -> Intervention:
    """Turn a condition name and its options into an `Intervention` (CrossdiffError if invalid)."""
    if condition not in CONDITIONS:
        raise CrossdiffError(f"unknown condition {condition!r}; choose one of {CONDITIONS}")
    index = model_index(model)
    if condition == "spillover":
        if index != 1:
            raise CrossdiffError("the spillover condition edits and evaluates model B: --model B")
        return Intervention("splice", model=1, policy=policy)
    if condition in _NEEDS_FEATURES and not features:
        raise CrossdiffError(f"the {condition} condition needs --feature (one or more indices)")
    if condition != "none" and condition not in _NEEDS_FEATURES and features:
        raise CrossdiffError(f"the {condition} condition takes no --feature")
    features = tuple(int(i) for i in features)
    if condition == "none":
        return Intervention(model=index, policy=policy)
    if condition == "splice":
        return Intervention("splice", model=index, policy=policy)
    if condition == "ablate":
        if ablate_mode == "clamp":
            return Intervention("clamp", index, features, value=0.0, policy=policy)
        return Intervention("steer", index, features, alpha=0.0, policy=policy)
    if condition == "control":
        return Intervention(
            "steer", index, features, alpha, control_seed=control_seed, policy=policy
        )
    if condition == "clamp":
        return Intervention("clamp", index, features, value=value, policy=policy)
    if condition == "direction":
        return Intervention("direction", index, features, alpha=alpha, policy=policy)
    return Intervention("steer", index, features, alpha=alpha, policy=policy)
