"""BatchTopK's one-pass filtered selection: exact against a full batch top-k, and an honest
report (None) when its threshold estimate could have dropped entries."""

from __future__ import annotations

import pytest
import torch

from crossdiff.crosscoder import Crosscoder, CrosscoderConfig, sparsity
from crossdiff.crosscoder import model as model_module
from crossdiff.crosscoder.kernels import CodeLayout, SparseCodes, sparse_decode
from crossdiff.crosscoder.reference import dense_mse_step
from crossdiff.crosscoder.sparsity import batch_topk_filtered, entries_at_least
from tests.topk_check import assert_full_batch_topk


def _problem(dict_size: int, hot_rows: slice, seed: int = 4):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(96, 7, generator=gen)
    weight = torch.randn(dict_size, 7, generator=gen)
    bias = torch.randn(dict_size, generator=gen) * 0.3
    x[hot_rows] *= 6.0  # rows holding far more than their share of the batch's top entries
    return x, weight, bias


@pytest.mark.parametrize("dict_size", [64, 60])  # grouped coarse filter, and the plain one
def test_filtered_batch_topk_equals_a_full_batch_topk(
    dict_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sparsity, "BLOCK_ELEMENTS", dict_size * 8)  # 12 blocks of 8 rows
    x, weight, bias = _problem(dict_size, hot_rows=slice(40, 42))
    total = 3 * 96
    selection = batch_topk_filtered(x, weight, bias, 3, total)
    assert selection is not None
    assert_full_batch_topk(selection, torch.addmm(bias, x, weight.t()), total)


def test_filtered_batch_topk_reports_an_estimate_that_was_too_high(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sparsity, "BLOCK_ELEMENTS", 64 * 8)
    x, weight, bias = _problem(64, hot_rows=slice(0, 8))  # the estimating block is the hot one
    assert batch_topk_filtered(x, weight, bias, 3, 3 * 96) is None


def test_filtered_batch_topk_keeps_every_positive_score_when_there_are_too_few() -> None:
    x, weight, bias = _problem(64, hot_rows=slice(0, 0))
    bias -= 12.0
    score = torch.addmm(bias, x, weight.t())
    positive = int((score > 0).sum())
    assert 0 < positive < 3 * 96
    selection = batch_topk_filtered(x, weight, bias, 3, 3 * 96)
    assert selection is not None and selection.threshold == torch.finfo(x.dtype).tiny
    assert selection.rows.numel() == positive
    assert torch.all(score[selection.rows, selection.cols] > 0)


@pytest.mark.parametrize("dict_size", [64, 60])
def test_entries_at_least_finds_exactly_the_entries_above(dict_size: int) -> None:
    x, weight, bias = _problem(dict_size, hot_rows=slice(3, 4))
    score = torch.addmm(bias, x, weight.t())
    lower = float(score.flatten().kthvalue(score.numel() - 200).values)
    rows, cols, values = entries_at_least(score, lower)
    got = torch.zeros_like(score, dtype=torch.bool)
    got[rows, cols] = True
    assert torch.equal(got, score >= lower) and rows.numel() == int((score >= lower).sum())
    assert torch.equal(values, score[rows, cols]) and torch.all(rows[1:] >= rows[:-1])


def test_training_step_falls_back_exactly_when_the_estimate_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sparsity, "BLOCK_ELEMENTS", 64 * 8)
    outcomes: list[bool] = []

    def recording(*args: object) -> object:
        found = batch_topk_filtered(*args)  # type: ignore[arg-type]
        outcomes.append(found is not None)
        return found

    monkeypatch.setattr(model_module, "batch_topk_filtered", recording)
    config = CrosscoderConfig(
        widths=(4, 3), dict_size=64, sparsity="batchtopk", k=3, normalisation="none"
    )
    x_norm, _, _ = _problem(64, hot_rows=slice(0, 8))
    sparse, dense = Crosscoder(config), Crosscoder(config)
    out = sparse.training_forward(x_norm)
    loss = (out.x_norm - out.x_hat).pow(2).mean()
    loss.backward()
    reference = dense_mse_step(dense, x_norm, 3)
    reference.backward()
    assert outcomes == [False]
    torch.testing.assert_close(loss, reference)
    for name in ("W_enc_Dd", "b_enc_D", "W_dec_Dd", "b_dec_d"):
        got, want = getattr(sparse, name).grad, getattr(dense, name).grad
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6, msg=name)


def test_decode_value_gradients_with_unsorted_columns_within_rows() -> None:
    """The filtered selection leaves a row's columns unordered; the sampled-product gradient of
    the decoded values must not depend on that order."""
    gen = torch.Generator().manual_seed(6)
    decoder = torch.randn(30, 10, generator=gen, dtype=torch.float64, requires_grad=True)
    rows = torch.tensor([0, 0, 0, 2, 5, 5])
    cols = torch.tensor([29, 3, 17, 8, 11, 0])
    values = torch.rand(6, generator=gen, dtype=torch.float64, requires_grad=True)
    layout = CodeLayout(rows, cols, 30, 6)
    out = sparse_decode(SparseCodes(layout, values), decoder)
    (out.sin().sum()).backward()
    got_values, got_decoder = values.grad.clone(), decoder.grad.clone()
    values.grad, decoder.grad = None, None
    dense = torch.zeros(6, 30, dtype=torch.float64).index_put((rows, cols), values)
    ((dense @ decoder).sin().sum()).backward()
    torch.testing.assert_close(out, (dense @ decoder).detach())
    torch.testing.assert_close(got_values, values.grad)
    torch.testing.assert_close(got_decoder, decoder.grad)
    empty = CodeLayout(rows[:0], cols[:0], 30, 6)
    assert empty.entry_dots(torch.ones(6, 10, dtype=torch.float64), decoder.detach()).numel() == 0
    empty_grad = empty.order.transpose_matmul(values[:0].detach(), torch.ones(6, 10).double())
    assert torch.equal(empty_grad, torch.zeros(30, 10, dtype=torch.float64))
