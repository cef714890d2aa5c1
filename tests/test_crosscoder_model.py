"""The crosscoder model: partition masks, sparse kernels vs the dense reference, BatchTopK,
AuxK and normalisation."""

from __future__ import annotations

import pytest
import torch

from crossdiff.crosscoder import Crosscoder, CrosscoderConfig
from crossdiff.crosscoder.kernels import linear_at, sparse_decode
from crossdiff.crosscoder.losses import training_loss
from crossdiff.crosscoder.metrics import DeadFeatureTracker
from crossdiff.crosscoder.optim import enforce_partition, mask_partition_gradients
from crossdiff.crosscoder.reference import dense_mse_step
from crossdiff.crosscoder.sparsity import batch_topk, row_candidates
from crossdiff.errors import CrossdiffError
from crossdiff.normstats import NormStats
from tests.topk_check import assert_full_batch_topk

RULES = ["relu", "topk", "batchtopk", "jumprelu"]


def _data(n: int = 256, widths: tuple[int, int] = (8, 6), seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x_a = torch.randn(n, widths[0], generator=gen) * 3 + 1
    x_b = torch.randn(n, widths[1], generator=gen) * 0.5 - 2
    return x_a, x_b


def _stats(x_a, x_b):
    return (NormStats.from_tensor(x_a), NormStats.from_tensor(x_b))


def _config(rule: str, **overrides) -> CrosscoderConfig:
    values = dict(
        widths=(8, 6), dict_size=40, sparsity=rule, k=4, partition=(0.2, 0.1), l1_coeff=1e-2
    )
    values.update(overrides)
    return CrosscoderConfig(**values)


@pytest.mark.parametrize("rule", RULES)
def test_forbidden_weights_stay_exactly_zero_under_adam(rule: str) -> None:
    x_a, x_b = _data()
    model = Crosscoder(_config(rule, lambda_shared=1e-3, lambda_excl=1e-3), _stats(x_a, x_b))
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-2)
    tracker = DeadFeatureTracker(40, dead_after_tokens=64)
    for step in range(25):
        rows = slice((step * 32) % 256, (step * 32) % 256 + 32)
        out = model.training_forward(model.normalise(x_a[rows], x_b[rows]), dead_D=tracker.dead())
        loss, _ = training_loss(model, out)
        optimizer.zero_grad()
        loss.backward()
        mask_partition_gradients(model)
        optimizer.step()
        enforce_partition(model, optimizer)
        tracker.update(out.count_D, 32)
    forbidden = model.partition.allowed_mask() == 0
    for weight in (model.W_enc_Dd, model.W_dec_Dd):
        assert torch.all(weight[forbidden] == 0)
        assert torch.count_nonzero(weight[~forbidden]) > 0.9 * int((~forbidden).sum())
        for moment in optimizer.state[weight].values():
            if moment.shape == weight.shape:
                assert torch.all(moment[forbidden] == 0)
    # A-exclusive features never write model B's reconstruction.
    codes = torch.zeros(1, 40)
    codes[0, 0] = 5.0
    x_hat_a, x_hat_b = model.decode(codes)
    base_a, base_b = model.decode(torch.zeros(1, 40))
    assert torch.equal(x_hat_b, base_b) and not torch.equal(x_hat_a, base_a)


def test_gradient_masking_alone_keeps_zeros_with_adam() -> None:
    """Masked gradients leave Adam's moments zero, so the weights never move."""
    x_a, x_b = _data()
    model = Crosscoder(_config("topk"), _stats(x_a, x_b))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-1)
    for _ in range(10):
        out = model.training_forward(model.normalise(x_a, x_b))
        loss, _ = training_loss(model, out)
        optimizer.zero_grad()
        loss.backward()
        mask_partition_gradients(model)
        optimizer.step()
    forbidden = model.partition.allowed_mask() == 0
    assert torch.all(model.W_enc_Dd[forbidden] == 0) and torch.all(model.W_dec_Dd[forbidden] == 0)


@pytest.mark.parametrize("rule", ["topk", "batchtopk"])
def test_sparse_step_equals_dense_reference(rule: str) -> None:
    x_a, x_b = _data(128)
    sparse = Crosscoder(_config(rule, partition=None, l1_coeff=0.0), _stats(x_a, x_b))
    dense = Crosscoder(_config(rule, partition=None, l1_coeff=0.0), _stats(x_a, x_b))
    with torch.no_grad():
        sparse.b_enc_D.normal_(0, 0.1, generator=torch.Generator().manual_seed(3))
        dense.b_enc_D.copy_(sparse.b_enc_D)
    x_norm = sparse.normalise(x_a, x_b)
    out = sparse.training_forward(x_norm)
    loss = (out.x_norm - out.x_hat).pow(2).mean()
    loss.backward()
    reference = dense_mse_step(dense, x_norm, 4)
    reference.backward()
    torch.testing.assert_close(loss, reference)
    for name in ("W_enc_Dd", "b_enc_D", "W_dec_Dd", "b_dec_d"):
        got, want = getattr(sparse, name).grad, getattr(dense, name).grad
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6, msg=name)


def test_gather_and_decode_kernels_match_dense_including_input_grad() -> None:
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(16, 10, generator=gen, requires_grad=True)
    weight = torch.randn(30, 10, generator=gen, requires_grad=True)
    bias = torch.randn(30, generator=gen, requires_grad=True)
    decoder = torch.randn(30, 10, generator=gen, requires_grad=True)
    pre = (x @ weight.T + bias).detach()
    rows = torch.tensor([0, 0, 1, 3, 3, 3, 15])
    cols = torch.tensor([2, 29, 5, 0, 7, 29, 11])
    codes = linear_at(x, weight, bias, pre[rows, cols], rows, cols)
    out = sparse_decode(codes, decoder)
    (out.sin().sum()).backward()
    got = [t.grad.clone() for t in (x, weight, bias, decoder)]
    for t in (x, weight, bias, decoder):
        t.grad = None
    mask = torch.zeros(16, 30)
    mask[rows, cols] = 1
    dense_out = ((x @ weight.T + bias) * mask) @ decoder
    (dense_out.sin().sum()).backward()
    torch.testing.assert_close(out, dense_out)
    for g, t in zip(got, (x, weight, bias, decoder), strict=True):
        torch.testing.assert_close(g, t.grad)


def test_batch_topk_with_few_candidates_is_exact() -> None:
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(50, 7, generator=gen)
    weight, bias = torch.randn(64, 7, generator=gen), torch.randn(64, generator=gen)
    x[3] *= 6.0  # one row holds far more than its share of the batch's top entries
    score = x @ weight.T + bias
    total = 4 * 50
    values, columns = row_candidates(x, weight, bias, width=2)
    selection = batch_topk(values, columns, total, lambda r: score[r], 64)
    assert_full_batch_topk(selection, score, total)


def test_batchtopk_threshold_makes_encoding_batch_independent() -> None:
    x_a, x_b = _data(512)
    config = _config("batchtopk", partition=None, threshold_momentum=0.9)
    model = Crosscoder(config, _stats(x_a, x_b))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(60):
        rows = slice((step * 64) % 512, (step * 64) % 512 + 64)
        out = model.training_forward(model.normalise(x_a[rows], x_b[rows]))
        loss, _ = training_loss(model, out)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(model.threshold) > 0
    model.eval()
    batch = model.encode(x_a[:64], x_b[:64])
    singles = torch.cat([model.encode(x_a[i : i + 1], x_b[i : i + 1]) for i in range(64)])
    torch.testing.assert_close(batch, singles)
    mean_l0 = float((batch > 0).sum(1).float().mean())
    assert 2.0 < mean_l0 < 8.0  # k = 4 on average


@pytest.mark.parametrize("rule", ["topk", "batchtopk", "relu"])
def test_auxk_loss_moves_dead_feature_weights(rule: str) -> None:
    x_a, x_b = _data(128)
    model = Crosscoder(_config(rule, partition=None, l1_coeff=0.0), _stats(x_a, x_b))
    x_norm = model.normalise(x_a, x_b)
    dead = torch.zeros(40, dtype=torch.bool)
    dead[20:] = True
    out = model.training_forward(x_norm, dead_D=dead)
    assert out.aux_loss is not None and float(out.aux_loss.detach()) > 0
    out.aux_loss.backward()
    enc_grad, dec_grad = model.W_enc_Dd.grad, model.W_dec_Dd.grad
    assert enc_grad[20:].abs().sum() > 0 and dec_grad[20:].abs().sum() > 0
    assert torch.all(enc_grad[:20] == 0) and torch.all(dec_grad[:20] == 0)
    before = model.W_enc_Dd.detach().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    optimizer.step()
    assert not torch.equal(before[20:], model.W_enc_Dd.detach()[20:])


def test_normalisation_is_applied_inside_encode_and_decode() -> None:
    x_a, x_b = _data()
    for mode in ("scalar", "per_channel"):
        model = Crosscoder(_config("topk", normalisation=mode), _stats(x_a, x_b))
        mean = torch.cat([x_a.mean(0), x_b.mean(0)])
        if mode == "per_channel":
            scale = torch.cat([x_a.std(0, unbiased=False), x_b.std(0, unbiased=False)])
        else:
            scale = torch.cat(
                [x.var(0, unbiased=False).mean().sqrt().expand(x.shape[1]) for x in (x_a, x_b)]
            )
        manual = (torch.cat([x_a, x_b], 1) - mean) / scale
        torch.testing.assert_close(model.encode(x_a, x_b), model.encode_normalised(manual))
        codes = model.encode(x_a, x_b)
        x_hat_a, x_hat_b = model.decode(codes)
        manual_hat = (codes @ model.W_dec_Dd + model.b_dec_d) * scale + mean
        torch.testing.assert_close(torch.cat([x_hat_a, x_hat_b], 1), manual_hat.detach())
        torch.testing.assert_close(
            model.decoder_vectors(0), (model.W_dec_Dd[:, :8] * scale[:8]).detach()
        )
        assert model.decoder_vectors(1).shape == (40, 6)


def test_missing_statistics_refuse_raw_inputs() -> None:
    x_a, x_b = _data()
    model = Crosscoder(_config("topk", normalisation="scalar"))
    with pytest.raises(CrossdiffError, match="no statistics"):
        model.encode(x_a, x_b)
    raw_model = Crosscoder(_config("topk", normalisation="none"))
    assert raw_model.encode(x_a, x_b).shape == (256, 40)
    with pytest.raises(CrossdiffError, match="expected"):
        raw_model.encode(x_a[:, :5], x_b)


def test_partition_slices_and_sizes() -> None:
    model = Crosscoder(CrosscoderConfig(widths=(4, 4), dict_size=8192, partition=(0.1, 0.1)))
    slices = model.partition_slices()
    sizes = {name: s.stop - s.start for name, s in slices.items()}
    assert sizes == {"a_exclusive": 819, "b_exclusive": 819, "shared": 6554}
    plain = Crosscoder(CrosscoderConfig(widths=(4, 4), dict_size=100))
    assert plain.partition_slices()["shared"] == slice(0, 100)


@pytest.mark.parametrize("weighted", [False, True])
def test_norm_weighted_dfc_penalty_cannot_be_evaded_by_rescaling(weighted: bool) -> None:
    """Shrinking every code by c and growing its decoder vectors by c keeps the reconstruction;
    the study's unweighted DFC penalties shrink by c, the decoder-norm-weighted ones stay."""
    x_a, x_b = _data()
    config = _config("relu", lambda_shared=1.0, lambda_excl=1.0, dfc_norm_weighted=weighted)
    model = Crosscoder(config, _stats(x_a, x_b))
    x_norm = model.normalise(x_a, x_b)
    with torch.no_grad():
        before = model.training_forward(x_norm)
        _, parts_before = training_loss(model, before)
        model.W_enc_Dd /= 4
        model.b_enc_D /= 4
        model.W_dec_Dd *= 4
        after = model.training_forward(x_norm)
        _, parts_after = training_loss(model, after)
    torch.testing.assert_close(after.x_hat, before.x_hat, rtol=1e-4, atol=1e-5)
    for part in ("dfc_shared", "dfc_excl"):
        expected = parts_before[part] if weighted else parts_before[part] / 4
        assert parts_after[part] == pytest.approx(expected, rel=1e-4)
        assert parts_before[part] > 0
