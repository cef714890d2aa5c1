"""Latent Scaling: the accumulator against a brute-force least-squares fit and a planted β."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crossdiff.analysis import LatentScalingAccumulator


def run(codes, x, x_hat, dec_a, dec_b, constant, batch=7):
    acc = LatentScalingAccumulator(dec_a, dec_b, constant)
    for start in range(0, codes.shape[0], batch):
        rows = slice(start, start + batch)
        acc.add(codes[rows], (x[0][rows], x[1][rows]), (x_hat[0][rows], x_hat[1][rows]))
    return acc.result()


def decode(codes, dec, constant):
    return constant + codes @ dec


def test_matches_brute_force_least_squares() -> None:
    gen = torch.Generator().manual_seed(0)
    n, size, width = 40, 5, 6
    codes = torch.relu(torch.randn(n, size, generator=gen, dtype=torch.float64))
    dec_a = torch.randn(size, width, generator=gen, dtype=torch.float64)
    dec_b = torch.randn(size, width, generator=gen, dtype=torch.float64) * 0.5
    dec_b[0] = 0.0  # an A-exclusive feature
    constant = (torch.randn(width, generator=gen), torch.randn(width, generator=gen))
    x = (torch.randn(n, width, generator=gen) * 3, torch.randn(n, width, generator=gen) * 3)
    x_hat = (decode(codes, dec_a, constant[0]), decode(codes, dec_b, constant[1]))
    result = run(codes, x, x_hat, dec_a, dec_b, constant)
    decs = (dec_a, dec_b)
    for i in range(size):
        owner = 0 if dec_a[i].norm() >= dec_b[i].norm() else 1
        u = decs[owner][i].numpy()
        f = codes[:, i].numpy()
        for m in (0, 1):
            own = np.outer(f, decs[m][i].numpy())
            targets = {
                "error": x[m].numpy() - x_hat[m].numpy() + own,
                "reconstruction": x_hat[m].numpy() - constant[m].numpy(),
            }
            for name, y in targets.items():
                design = np.outer(f, u).reshape(-1, 1)  # β f_n u, stacked over samples
                beta = np.linalg.lstsq(design, y.reshape(-1), rcond=None)[0][0]
                got = result.beta_error if name == "error" else result.beta_reconstruction
                assert got[m, i] == pytest.approx(beta, rel=1e-6, abs=1e-9)
    assert result.owner[0] == "A"
    ratio = result.beta_error[1, 0] / result.beta_error[0, 0]
    assert result.nu_error[0] == pytest.approx(ratio)


def test_recovers_a_planted_beta_in_the_base_model() -> None:
    """Feature 0 writes u only into A, but B carries 0.7·f·u unexplained: ν_ε = 0.7."""
    gen = torch.Generator().manual_seed(1)
    n, width = 200, 8
    u = torch.zeros(width, dtype=torch.float64)
    u[0] = 2.0
    dec_a = torch.stack([u, torch.eye(width, dtype=torch.float64)[1]])
    dec_b = torch.stack([torch.zeros(width, dtype=torch.float64), torch.eye(width)[2].double()])
    codes = torch.relu(torch.randn(n, 2, generator=gen, dtype=torch.float64))
    zero = (torch.zeros(width, dtype=torch.float64),) * 2
    noise = torch.randn(n, width, generator=gen, dtype=torch.float64)
    noise[:, 0] = 0.0  # orthogonal to u
    x_hat = (codes @ dec_a, codes @ dec_b)
    x_a = x_hat[0] + noise  # A reconstructed up to noise ⟂ u: β_ε^A = 1
    x_b = x_hat[1] + 0.7 * codes[:, :1] * u + noise
    result = run(codes, (x_a, x_b), x_hat, dec_a, dec_b, zero)
    assert result.beta_error[0, 0] == pytest.approx(1.0)
    assert result.beta_error[1, 0] == pytest.approx(0.7)
    assert result.nu_error[0] == pytest.approx(0.7)
    assert result.nu_reconstruction[0] == pytest.approx(0.0, abs=1e-12)  # B's dictionary lacks u


def test_undefined_cases_are_nan() -> None:
    """A feature that never fires has no β; with different widths the other model has none."""
    dec_a = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    dec_b = torch.tensor([[0.0, 0.0], [0.0, 1.0]])
    codes = torch.tensor([[1.0, 0.0], [2.0, 0.0]])
    constant = (torch.zeros(3), torch.zeros(2))
    x_hat = (codes @ dec_a, codes @ dec_b)
    result = run(codes, x_hat, x_hat, dec_a, dec_b, constant)
    assert result.beta_error[0, 0] == pytest.approx(1.0)
    assert np.isnan(result.beta_error[1, 0]) and np.isnan(result.nu_error[0])
    assert np.isnan(result.beta_error[:, 1]).all()  # feature 1 never fired
