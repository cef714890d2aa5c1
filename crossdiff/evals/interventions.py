"""What an intervention does to the activations at one hook point: one spec, one edit function.

Every condition of the study is an `Intervention`: splice (h -> x̂; on model B it is the
spillover condition), steer (the study's input-conditional δ = Σ_{i∈S} (α − 1)·f_i·W_dec[i, m]),
clamp (features set to a value; clamp to 0 ablates), a fixed direction
(α·||h||·unit(Σ_{i∈S} W_dec[i, m])), and a control: the same edit's displacement replaced by a
seeded random direction of the same norm.
`PreparedEdit` turns a spec and a dictionary into the tensor function the generation hooks call.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from crossdiff.errors import CrossdiffError
from crossdiff.evals.dictionaries import Dictionary, dictionary_shape
from crossdiff.evals.positions import POLICIES, Policy

EditKind = Literal["none", "splice", "steer", "clamp", "direction"]
EDIT_KINDS: tuple[str, ...] = ("none", "splice", "steer", "clamp", "direction")
MODEL_NAMES = ("A", "B")


@dataclass(frozen=True)
class Intervention:
    """The edit, the edited model (0 = A, 1 = B) and where it applies.

    `features` are dictionary indices S; `alpha` is the steering factor (steer: α = 1 is a no-op,
    α = 0 ablates S; direction: the multiple of ||h||); `value` is the clamp target;
    `control_seed`, when set, replaces the edit's displacement by a random direction (seeded)
    with the same per-token norm.
    """

    edit: EditKind = "none"
    model: int = 0
    features: tuple[int, ...] = ()
    alpha: float = 1.0
    value: float = 0.0
    control_seed: int | None = None
    policy: Policy = "last_prompt_token"

    def __post_init__(self) -> None:
        if self.edit not in EDIT_KINDS:
            raise CrossdiffError(f"unknown edit {self.edit!r}; expected one of {EDIT_KINDS}")
        if self.model not in (0, 1):
            raise CrossdiffError(f"edited model must be 0 (A) or 1 (B), got {self.model!r}")
        if self.policy not in POLICIES:
            raise CrossdiffError(f"unknown position policy {self.policy!r}; expected {POLICIES}")
        if self.edit in ("steer", "clamp", "direction") and not self.features:
            raise CrossdiffError(f"the {self.edit} edit needs at least one feature index")
        if self.edit == "none" and self.control_seed is not None:
            raise CrossdiffError("a control needs an edit to match in norm; 'none' has none")
        if len(set(self.features)) != len(self.features):
            raise CrossdiffError(f"feature indices repeat: {self.features}")

    @property
    def needs_dictionary(self) -> bool:
        """Whether the edit reads a dictionary."""
        return self.edit != "none"

    @property
    def needs_other_model(self) -> bool:
        """Whether the edit encodes, which needs both models' activations at the same token."""
        return self.edit in ("splice", "steer", "clamp")

    def label(self) -> str:
        """A short human-readable name, e.g. 'steer A S=[136] α=32 last_prompt_token'."""
        if self.edit == "none":
            return "none"
        parts = [self.edit, MODEL_NAMES[self.model]]
        if self.features:
            parts.append(f"S={list(self.features)}")
        if self.edit in ("steer", "direction"):
            parts.append(f"α={self.alpha:g}")
        if self.edit == "clamp":
            parts.append(f"value={self.value:g}")
        if self.control_seed is not None:
            parts.append(f"control(seed={self.control_seed})")
        parts.append(self.policy)
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        data = asdict(self)
        data["features"] = list(self.features)
        return data


def check_against_dictionary(
    intervention: Intervention, dictionary: Dictionary, widths: tuple[int, int]
) -> None:
    """Raise a CrossdiffError if the dictionary's widths or size do not fit the models and edit."""
    size, width_a, width_b = dictionary_shape(dictionary)
    if (width_a, width_b) != tuple(widths):
        raise CrossdiffError(
            f"the dictionary's widths (d_A, d_B) = ({width_a}, {width_b}) do not match the models' "
            f"hidden sizes {tuple(widths)} at the hook point: use a crosscoder trained on these "
            "models (model A first), or load the models it was trained on"
        )
    bad = [i for i in intervention.features if not 0 <= i < size]
    if bad:
        raise CrossdiffError(
            f"feature index {bad[0]} is out of range: the dictionary has {size} features "
            f"(valid indices 0..{size - 1})"
        )


def control_direction(width: int, seed: int) -> Tensor:
    """A seeded random unit vector of the given width (float32, CPU)."""
    generator = torch.Generator().manual_seed(seed)
    direction = torch.randn(width, generator=generator, dtype=torch.float64)
    return (direction / direction.norm()).float()


class PreparedEdit:
    """An intervention bound to a dictionary: `apply(h_edit, h_other)` returns the edited rows.

    Decoder vectors of S and the control direction are computed once here, not per step.
    """

    def __init__(
        self, intervention: Intervention, dictionary: Dictionary | None, widths: tuple[int, int]
    ) -> None:
        if intervention.needs_dictionary:
            if dictionary is None:
                raise CrossdiffError(f"the {intervention.edit} edit needs a crosscoder/dictionary")
            check_against_dictionary(intervention, dictionary, widths)
        self.intervention = intervention
        self.dictionary = dictionary
        width = widths[intervention.model]
        self.index_S = torch.tensor(intervention.features, dtype=torch.long)
        self.decoder_SD: Tensor | None = None
        self.direction_D: Tensor | None = None
        if dictionary is not None and intervention.features:
            with torch.no_grad():
                decoder = dictionary.decoder_vectors(intervention.model)
                self.decoder_SD = decoder[self.index_S].detach().float().cpu()
            summed = self.decoder_SD.sum(0)
            norm = summed.norm()
            self.direction_D = summed / norm if norm > 0 else torch.zeros_like(summed)
        self.control_D = (
            control_direction(width, intervention.control_seed)
            if intervention.control_seed is not None
            else None
        )

    def _on(self, tensor: Tensor | None, device: torch.device) -> Tensor:
        """`tensor` on `device`, moved once and kept (no host-to-device copy per step)."""
        assert tensor is not None
        if tensor.device != device:
            for name in ("decoder_SD", "direction_D", "control_D", "index_S"):
                value = getattr(self, name)
                if value is not None:
                    setattr(self, name, value.to(device))
            tensor = tensor.to(device)
        return tensor

    def _codes(self, h_edit: Tensor, h_other: Tensor | None) -> Tensor:
        assert self.dictionary is not None
        if h_other is None:
            raise CrossdiffError("internal: this edit needs the other model's activations")
        if self.intervention.model == 0:
            return self.dictionary.encode(h_edit, h_other)
        return self.dictionary.encode(h_other, h_edit)

    def displacement(self, h_edit: Tensor, h_other: Tensor | None) -> Tensor:
        """δ for rows h_edit (n, d) in float32; h' = h + δ (a splice's δ is x̂ − h)."""
        kind = self.intervention.edit
        h = h_edit.float()
        if kind == "none":
            return torch.zeros_like(h)
        if kind == "direction":
            assert self.direction_D is not None
            scale = self.intervention.alpha * h.norm(dim=-1, keepdim=True)
            return scale * self._on(self.direction_D, h.device)
        codes = self._codes(h, None if h_other is None else h_other.float())
        if kind == "splice":
            assert self.dictionary is not None
            return self.dictionary.decode(codes)[self.intervention.model].float() - h
        assert self.decoder_SD is not None
        f_S = codes[:, self._on(self.index_S, codes.device)]
        if kind == "steer":
            weights = (self.intervention.alpha - 1.0) * f_S
        else:
            weights = self.intervention.value - f_S
        return weights @ self._on(self.decoder_SD, h.device)

    def apply(self, h_edit: Tensor, h_other: Tensor | None) -> Tensor:
        """The edited rows, in h_edit's dtype."""
        kind = self.intervention.edit
        if kind == "none":
            return h_edit
        if kind == "splice" and self.control_D is None:
            # Set x̂ directly (not h + (x̂ − h)) so an exact dictionary reproduces h bit for bit.
            codes = self._codes(h_edit.float(), None if h_other is None else h_other.float())
            assert self.dictionary is not None
            return self.dictionary.decode(codes)[self.intervention.model].to(h_edit.dtype)
        delta = self.displacement(h_edit, h_other)
        if self.control_D is not None:
            delta = delta.norm(dim=-1, keepdim=True) * self._on(self.control_D, delta.device)
        return (h_edit.float() + delta).to(h_edit.dtype)
