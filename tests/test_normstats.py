"""Streaming statistics equal the statistics of the whole data at once."""

import torch

from crossdiff.normstats import NormStats


def test_merge_equals_whole() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 16, generator=gen) * 3 + 1
    parts = [NormStats.from_tensor(chunk) for chunk in x.split(137)]
    merged = NormStats.empty(16)
    for part in parts:
        merged = merged.merge(part)
    whole = NormStats.from_tensor(x)
    assert merged.count == 1000
    torch.testing.assert_close(merged.mean, whole.mean)
    torch.testing.assert_close(merged.std, x.double().std(dim=0, unbiased=False))
    assert abs(merged.mean_norm - float(x.double().norm(dim=1).mean())) < 1e-9


def test_round_trip_dict() -> None:
    stats = NormStats.from_tensor(torch.randn(50, 4, generator=torch.Generator().manual_seed(1)))
    again = NormStats.from_dict(stats.to_dict())
    torch.testing.assert_close(again.mean, stats.mean)
    torch.testing.assert_close(again.std, stats.std)
    assert again.count == stats.count
