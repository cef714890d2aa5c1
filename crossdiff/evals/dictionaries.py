"""What an intervention needs from a dictionary, and two small dictionaries that provide it.

`Dictionary` is the interface of `crossdiff.crosscoder.Crosscoder` that interventions use: encode a
pair of raw activations into one code, decode a code into both models' raw activations, the
raw-space decoder vectors per model, and the partition into A-exclusive / B-exclusive / shared
index ranges. The identity and PCA dictionaries are baselines with exact, known behaviour: the
identity reconstructs perfectly (so splicing it must change nothing), and PCA is the linear
dictionary a crosscoder should beat.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from crossdiff.errors import CrossdiffError

PARTITION_NAMES = ("a_exclusive", "b_exclusive", "shared")


@runtime_checkable
class Dictionary(Protocol):
    """A paired dictionary: one code f ∈ R^D for both models' activations (model 0 = A, 1 = B)."""

    def encode(self, x_a: Tensor, x_b: Tensor) -> Tensor:
        """Raw activations (n, d_A), (n, d_B) -> codes (n, D)."""
        ...

    def decode(self, f: Tensor) -> tuple[Tensor, Tensor]:
        """Codes (n, D) -> raw-space reconstructions (x̂_A (n, d_A), x̂_B (n, d_B))."""
        ...

    def decoder_vectors(self, model: int) -> Tensor:
        """(D, d_model) raw-space decoder vectors of model 0 (A) or 1 (B)."""
        ...

    def partition_slices(self) -> dict[str, slice]:
        """{"a_exclusive": ..., "b_exclusive": ..., "shared": ...} index ranges."""
        ...


def dictionary_shape(dictionary: Dictionary) -> tuple[int, int, int]:
    """Return (D, d_A, d_B) of a dictionary, read from its decoder vectors."""
    with torch.no_grad():
        dec_a = dictionary.decoder_vectors(0)
        dec_b = dictionary.decoder_vectors(1)
    return int(dec_a.shape[0]), int(dec_a.shape[1]), int(dec_b.shape[1])


def _partition(n_a: int, n_b: int, size: int) -> dict[str, slice]:
    return {
        "a_exclusive": slice(0, n_a),
        "b_exclusive": slice(n_a, n_a + n_b),
        "shared": slice(n_a + n_b, size),
    }


class IdentityDictionary(torch.nn.Module):
    """f = [x_A, x_B]: feature i < d_A is channel i of A (A-exclusive), the rest are B's channels.

    Reconstruction is exact; the decoder rows of one model's features are zero in the other model,
    as in a dedicated feature crosscoder whose shared partition is empty.
    """

    def __init__(self, width_a: int, width_b: int) -> None:
        super().__init__()
        if width_a < 1 or width_b < 1:
            raise CrossdiffError(f"identity dictionary widths must be >= 1, got {width_a, width_b}")
        self.width_a = width_a
        self.width_b = width_b

    def encode(self, x_a: Tensor, x_b: Tensor) -> Tensor:
        """Concatenate the two activations."""
        return torch.cat([x_a, x_b], dim=-1)

    def decode(self, f: Tensor) -> tuple[Tensor, Tensor]:
        """Split the code back into the two activations."""
        return f[..., : self.width_a], f[..., self.width_a :]

    def decoder_vectors(self, model: int) -> Tensor:
        """Identity rows for the model's own channels, zero rows for the other model's."""
        identity = torch.eye(self.width_a + self.width_b)
        if model == 0:
            return identity[:, : self.width_a]
        return identity[:, self.width_a :]

    def partition_slices(self) -> dict[str, slice]:
        """A's channels are A-exclusive, B's channels B-exclusive; nothing is shared."""
        return _partition(self.width_a, self.width_b, self.width_a + self.width_b)


def _top_components(x_ND: Tensor, count: int) -> Tensor:
    """The `count` leading principal directions of centred rows, as columns (d, count)."""
    if count == 0:
        return x_ND.new_zeros(x_ND.shape[1], 0)
    _, _, v_dd = torch.linalg.svd(x_ND, full_matrices=False)
    directions = v_dd[:count].T
    if directions.shape[1] < count:
        raise CrossdiffError(
            f"PCA dictionary asks for {count} components but the activations have rank at most "
            f"{directions.shape[1]}: use fewer components or more activation rows"
        )
    return directions


class PCADictionary(torch.nn.Module):
    """An orthonormal linear dictionary fitted by PCA on paired activations.

    Without a partition, the features are the leading principal directions of [x_A, x_B]. With a
    partition (n_a, n_b), the first n_a features are principal directions of x_A alone (writing
    only to A), the next n_b of x_B alone (writing only to B), and the shared rest are principal
    directions of what those leave unexplained. The columns stay orthonormal, so encoding is a
    projection and, with every component kept, decoding is exact.
    """

    def __init__(
        self, mean_a: Tensor, mean_b: Tensor, components_KD: Tensor, partition: tuple[int, int]
    ) -> None:
        super().__init__()
        self.width_a = int(mean_a.shape[0])
        self.width_b = int(mean_b.shape[0])
        self.register_buffer("mean", torch.cat([mean_a, mean_b]).float())
        self.register_buffer("components_KD", components_KD.float())
        self.n_a, self.n_b = partition

    @staticmethod
    def fit(
        x_a: Tensor, x_b: Tensor, num_features: int, partition: tuple[int, int] | None = None
    ) -> PCADictionary:
        """Fit on n paired activation rows x_a (n, d_A), x_b (n, d_B)."""
        if x_a.ndim != 2 or x_b.ndim != 2 or x_a.shape[0] != x_b.shape[0]:
            raise CrossdiffError(
                f"PCA dictionary needs paired rows (n, d_A) and (n, d_B), got {tuple(x_a.shape)} "
                f"and {tuple(x_b.shape)}"
            )
        n_a, n_b = partition or (0, 0)
        width_a, width_b = x_a.shape[1], x_b.shape[1]
        if n_a < 0 or n_b < 0 or n_a > width_a or n_b > width_b or n_a + n_b > num_features:
            raise CrossdiffError(
                f"PCA partition {partition} does not fit {num_features} features and widths "
                f"({width_a}, {width_b})"
            )
        if num_features > width_a + width_b:
            raise CrossdiffError(
                f"PCA dictionary can have at most d_A + d_B = {width_a + width_b} features, "
                f"got {num_features}"
            )
        xa = x_a.double() - x_a.double().mean(0)
        xb = x_b.double() - x_b.double().mean(0)
        dir_a = _top_components(xa, n_a)
        dir_b = _top_components(xb, n_b)
        exclusive = torch.cat(
            [
                torch.cat([dir_a, xa.new_zeros(width_b, n_a)], dim=0),
                torch.cat([xb.new_zeros(width_a, n_b), dir_b], dim=0),
            ],
            dim=1,
        )
        joint = torch.cat([xa, xb], dim=1)
        residual = joint - joint @ exclusive @ exclusive.T
        shared = _top_components(residual, num_features - n_a - n_b)
        # Re-orthogonalise shared directions against the exclusive ones (rounding only).
        shared = shared - exclusive @ (exclusive.T @ shared)
        shared = torch.linalg.qr(shared).Q if shared.shape[1] else shared
        components = torch.cat([exclusive, shared], dim=1).T
        return PCADictionary(x_a.double().mean(0), x_b.double().mean(0), components, (n_a, n_b))

    def encode(self, x_a: Tensor, x_b: Tensor) -> Tensor:
        """Project the centred pair onto the components."""
        joint = torch.cat([x_a, x_b], dim=-1).float() - self.mean
        return joint @ self.components_KD.T

    def decode(self, f: Tensor) -> tuple[Tensor, Tensor]:
        """Map codes back to both raw activations."""
        joint = f.float() @ self.components_KD + self.mean
        return joint[..., : self.width_a], joint[..., self.width_a :]

    def decoder_vectors(self, model: int) -> Tensor:
        """The component rows restricted to model 0's (A) or 1's (B) channels."""
        if model == 0:
            return self.components_KD[:, : self.width_a]
        return self.components_KD[:, self.width_a :]

    def partition_slices(self) -> dict[str, slice]:
        """The index ranges of the exclusive and shared features."""
        return _partition(self.n_a, self.n_b, int(self.components_KD.shape[0]))
