"""Decoder geometry on hand-built crosscoders with known decoder weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from crossdiff.analysis import decoder_geometry, geometry_from_vectors
from crossdiff.crosscoder import Crosscoder, CrosscoderConfig
from crossdiff.normstats import NormStats


def hand_built(normalisation: str = "none", stats=None) -> Crosscoder:
    """D = 6, widths (2, 2): features 0-1 A-exclusive, 2-3 B-exclusive, 4-5 shared."""
    config = CrosscoderConfig(
        widths=(2, 2),
        dict_size=6,
        sparsity="relu",
        partition=(0.34, 0.34),
        normalisation=normalisation,
    )
    model = Crosscoder(config, stats)
    weights = torch.tensor(
        [
            [3.0, 4.0, 0.0, 0.0],  # A only: ||d_A|| = 5
            [1.0, 0.0, 0.0, 0.0],  # A only: ||d_A|| = 1
            [0.0, 0.0, 0.0, 2.0],  # B only
            [0.0, 0.0, 6.0, 8.0],  # B only: ||d_B|| = 10
            [1.0, 0.0, 0.0, 1.0],  # shared, orthogonal: cos 0
            [1.0, 1.0, 3.0, 3.0],  # shared, parallel: cos 1, relative norm 1/4
        ]
    )
    with torch.no_grad():
        model.W_dec_Dd.copy_(weights)
    return model


def test_norms_relative_norm_cosine_and_partition_are_exact() -> None:
    geometry = decoder_geometry(hand_built())
    np.testing.assert_allclose(geometry.norm_a, [5, 1, 0, 0, 1, math.sqrt(2)])
    np.testing.assert_allclose(geometry.norm_b, [0, 0, 2, 10, 1, 3 * math.sqrt(2)])
    np.testing.assert_allclose(geometry.relative_norm, [1, 1, 0, 0, 0.5, 0.25])
    assert np.isnan(geometry.cosine[:4]).all()  # one of the two vectors is zero
    np.testing.assert_allclose(geometry.cosine[4:], [0.0, 1.0], atol=1e-12)
    assert geometry.partition.tolist() == ["a_exclusive"] * 2 + ["b_exclusive"] * 2 + ["shared"] * 2
    classes = ["a_only", "a_only", "b_only", "b_only", "shared", "shared"]
    assert geometry.norm_class.tolist() == classes


def test_geometry_is_measured_in_raw_space() -> None:
    """With a scalar normalisation the raw decoder of model m is W_dec scaled by m's scale."""
    x_a = torch.randn(200, 2) * 3.0
    x_b = torch.randn(200, 2) * 0.5
    model = hand_built("scalar", (NormStats.from_tensor(x_a), NormStats.from_tensor(x_b)))
    scale_a, scale_b = float(model.norm_scale_d[0]), float(model.norm_scale_d[2])
    geometry = decoder_geometry(model)
    assert geometry.norm_a[0] == pytest.approx(5 * scale_a, rel=1e-6)
    assert geometry.norm_b[3] == pytest.approx(10 * scale_b, rel=1e-6)
    expected = math.sqrt(2) * scale_a / (math.sqrt(2) * scale_a + 3 * math.sqrt(2) * scale_b)
    assert geometry.relative_norm[5] == pytest.approx(expected, rel=1e-6)


def test_dead_features_and_different_widths() -> None:
    dec_a = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    dec_b = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    slices = {"a_exclusive": slice(0, 0), "b_exclusive": slice(0, 0), "shared": slice(0, 2)}
    geometry = geometry_from_vectors(dec_a, dec_b, slices)
    assert np.isnan(geometry.relative_norm[0])
    assert geometry.norm_class.tolist() == ["dead", "shared"]
    assert np.isnan(geometry.cosine).all()  # no cosine across different widths
    assert geometry.partition.tolist() == ["shared", "shared"]
