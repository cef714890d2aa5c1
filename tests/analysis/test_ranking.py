"""The candidate filter and the ranking by Cohen's d, on constructed codes."""

from __future__ import annotations

import numpy as np

from crossdiff.analysis import AnalysisConfig, Ranking, behaviour_scores, rank_candidates

N = 20  # texts per group


def column(fire_share: float, value: float, n: int = N, jitter: float = 0.0) -> np.ndarray:
    """A column firing with `value` (+ a ramp of `jitter`) on the first fire_share·n rows."""
    out = np.zeros(n)
    count = round(fire_share * n)
    out[:count] = value + jitter * np.arange(count)
    return out


def constructed() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eight features with known fates; partition labels per feature."""
    tool = np.stack(
        [
            column(0.9, 2.0, jitter=0.1),  # 0 a_exclusive: strong candidate
            column(0.3, 1.0, jitter=0.1),  # 1 a_exclusive: exactly at the tool-rate bound
            column(0.25, 5.0, jitter=0.1),  # 2 a_exclusive: fires too rarely on tools
            column(0.9, 2.0, jitter=0.1),  # 3 shared: fires too often on general text
            column(0.6, 1.0, jitter=0.1),  # 4 shared: candidate
            column(0.8, 3.0, jitter=0.1),  # 5 b_exclusive: candidate
            column(0.0, 0.0),  # 6 shared: never fires
            column(1.0, 0.05),  # 7 shared: below the firing threshold everywhere
        ],
        axis=1,
    )
    general = np.stack(
        [
            column(0.1, 0.5),  # at the general-rate bound: still a candidate
            column(0.0, 0.0),
            column(0.0, 0.0),
            column(0.15, 1.0),
            column(0.05, 0.3),
            column(0.0, 0.0),
            column(0.0, 0.0),
            column(1.0, 0.05),
        ],
        axis=1,
    )
    partition = np.array(
        ["a_exclusive"] * 3 + ["shared"] * 2 + ["b_exclusive"] + ["shared"] * 2, dtype=object
    )
    return tool, general, partition


def test_candidates_and_ranking_by_d_within_partitions() -> None:
    tool, general, partition = constructed()
    scores = behaviour_scores(tool, general, threshold=0.1)
    np.testing.assert_allclose(scores.rate_tool[:3], [0.9, 0.3, 0.25])
    ranking = rank_candidates(scores, partition, AnalysisConfig())
    assert ranking.num_candidates == 4
    d = scores.cohens_d
    expected_all = sorted([0, 1, 4, 5], key=lambda i: -d[i])
    assert [e.feature for e in ranking.scopes["all"]] == expected_all
    assert [e.feature for e in ranking.scopes["a_exclusive"]] == sorted([0, 1], key=lambda i: -d[i])
    assert [e.feature for e in ranking.scopes["shared"]] == [4]
    assert [e.feature for e in ranking.scopes["b_exclusive"]] == [5]
    assert [e.rank for e in ranking.scopes["all"]] == [1, 2, 3, 4]
    assert ranking.scopes["all"][0].cohens_d == d[expected_all[0]]


def test_thresholds_are_configurable_and_ranking_round_trips() -> None:
    tool, general, partition = constructed()
    scores = behaviour_scores(tool, general, threshold=0.1)
    strict = rank_candidates(scores, partition, AnalysisConfig(min_tool_rate=0.7))
    assert {e.feature for e in strict.scopes["all"]} == {0, 5}
    loose = rank_candidates(scores, partition, AnalysisConfig(max_general_rate=0.2))
    assert 3 in {e.feature for e in loose.scopes["all"]}
    assert Ranking.from_dict(loose.to_dict()) == loose
    assert loose.top("all", 2) == [e.feature for e in loose.scopes["all"][:2]]


def test_flags_are_carried_into_the_entries() -> None:
    tool, general, partition = constructed()
    scores = behaviour_scores(tool, general, threshold=0.1)
    template = np.array([True, False, None, False, None, True, False, False], dtype=object)
    exclusive_only = np.array([False, True, None, None, None, None, None, None], dtype=object)
    ranking = rank_candidates(scores, partition, AnalysisConfig(), template, exclusive_only)
    entries = {e.feature: e for e in ranking.scopes["all"]}
    assert entries[0].template_detector is True and entries[0].looks_exclusive_only is False
    assert entries[1].looks_exclusive_only is True and entries[4].template_detector is None
    assert Ranking.from_dict(ranking.to_dict()) == ranking
