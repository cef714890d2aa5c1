"""The study's claims (METHOD.md §7) checked on this pair: number, interval, replicates or not.

Each rule is written out in `rule`, so a reader sees what "replicates" meant. A claim whose
experiment was not run says so instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crossdiff.experiments.core import Comparison
from crossdiff.report.inputs import StudyResults

PP = 100.0


@dataclass(frozen=True)
class ClaimRow:
    """One claim: the study's figure, this pair's number and interval, and the verdict."""

    claim: str
    study: str
    this_pair: str
    interval: str
    rule: str
    verdict: str  # "replicates" | "does not replicate" | "not run"


def _pp(value: float) -> str:
    return f"{value * PP:+.1f} pp"


def _interval(comparison: Comparison) -> str:
    b = comparison.bootstrap
    return f"[{b.low * PP:+.1f}, {b.high * PP:+.1f}] pp (bootstrap); p = {comparison.mcnemar_p:.3g}"


def _rates(comparison: Comparison) -> str:
    return (
        f"{comparison.baseline.rate * PP:.1f} % → {comparison.treatment.rate * PP:.1f} %, "
        f"{_pp(comparison.difference)}"
    )


def _verdict(ok: bool) -> str:
    return "replicates" if ok else "does not replicate"


def _splice(r: StudyResults) -> ClaimRow | None:
    if r.splice is None or not r.splice.rows:
        return None
    c = r.splice.rows[0].comparison
    return ClaimRow(
        "Splicing model A through the dictionary raises tool correctness",
        "19 % → 50.1 %, +31.1 ± 9.7 pp; 48/48 crosscoders improve",
        _rates(c),
        _interval(c),
        "gain > 0 with the bootstrap interval above 0",
        _verdict(c.bootstrap.low > 0),
    )


def _error(r: StudyResults) -> ClaimRow | None:
    cr = r.correlation
    if cr is None:
        return None
    if cr.pearson_r is None:
        return ClaimRow(
            "Reconstruction error barely predicts the splice gain",
            "r = +0.08 over 48 crosscoders",
            f"n = {cr.n}: too few varied members for r",
            "—",
            "the 95 % interval of r contains 0",
            "not run",
        )
    return ClaimRow(
        "Reconstruction error barely predicts the splice gain",
        "r = +0.08 over 48 crosscoders",
        f"r = {cr.pearson_r:+.2f} (n = {cr.n}); {cr.improved}/{cr.n} improve",
        f"[{cr.pearson_low:+.2f}, {cr.pearson_high:+.2f}] (Fisher z)",
        "the 95 % interval of r contains 0",
        _verdict(cr.pearson_low <= 0 <= cr.pearson_high),
    )


def _all_improve(r: StudyResults) -> ClaimRow | None:
    cr = r.correlation
    if cr is None or not cr.members:
        return None
    return ClaimRow(
        "Every crosscoder of the sweep improves model A when spliced",
        "48/48 improve",
        f"{cr.improved}/{cr.n} improve",
        "—",
        "all members have a positive splice gain",
        _verdict(cr.improved == cr.n),
    )


def _spillover(r: StudyResults) -> list[ClaimRow]:
    if r.spillover is None or not r.spillover.rows:
        return []
    row = r.spillover.rows[0]
    c = row.comparison
    rows = [
        ClaimRow(
            "Spillover: the frozen base model gains a little through the dictionary",
            "0 % → 6.8 %, +6.8 ± 5.0 pp",
            _rates(c),
            _interval(c),
            "gain > 0 with the bootstrap interval above 0",
            _verdict(c.bootstrap.low > 0),
        ),
        ClaimRow(
            "Spillover leaves the base model's call format absent",
            "format stays 0 %",
            f"format {row.format_before.rate * PP:.1f} % → {row.format_after.rate * PP:.1f} %",
            f"[{row.format_after.low * PP:.1f}, {row.format_after.high * PP:.1f}] % (Wilson)",
            "format rate after spillover is 0",
            _verdict(row.format_after.count == 0),
        ),
    ]
    if r.spillover.head_to_head:
        h = r.spillover.head_to_head[0]
        rows.append(
            ClaimRow(
                "Plain crosscoder and DFC spill over alike",
                "+8.9 vs +5.9 pp, p = 0.12 (not significant)",
                f"{h.baseline_label} vs {h.label}: {_pp(h.difference)}",
                _interval(h),
                "McNemar p ≥ 0.05 between the two spliced runs",
                _verdict(h.mcnemar_p >= 0.05),
            )
        )
    return rows


def _penalised(r: StudyResults) -> ClaimRow | None:
    p = r.penalised
    if p is None:
        return None
    free, pen = p.free.comparison.difference, p.penalised.comparison.difference
    return ClaimRow(
        "Penalising the exclusive partition lowers model A's splice gain",
        "p = 5 %: 34.8 → 25.8 pp",
        f"free {_pp(free)} → penalised {_pp(pen)}",
        _interval(p.head_to_head),
        "gain through the penalised DFC < gain through the free one",
        _verdict(pen < free),
    )


def _chosen(r: StudyResults, name: str):
    if r.steering is None:
        return None
    return next((p for p in r.steering.chosen if p.feature_set == name), None)


def _one_feature(r: StudyResults) -> ClaimRow | None:
    if r.steering is None:
        return None
    point = next(
        (p for p in r.steering.curve if p.feature_set == "a_exclusive" and p.size == 1), None
    )
    if point is None:
        return None
    c = point.test
    return ClaimRow(
        f"Steering one A-exclusive feature (#{point.features[0]}, α = {point.alpha:g}) "
        "switches tool use on",
        "#136, α = 32: 22.5 % → 87.5 %, +65 pp [47.9, 82.1], 40 prompts",
        _rates(c),
        _interval(c),
        "gain > 0 with the bootstrap interval above 0 (α chosen on dev)",
        _verdict(c.bootstrap.low > 0),
    )


def _saturation(r: StudyResults) -> list[ClaimRow]:
    s = r.saturation
    if s is None or "a_exclusive" not in s.size_at_peak:
        return []
    rows = [
        ClaimRow(
            "The DFC's A-exclusive partition reaches its ceiling with one feature",
            "at the ceiling with 1 feature",
            f"peak {_pp(s.peak['a_exclusive'])} first reached with "
            f"{s.size_at_peak['a_exclusive']} feature(s)",
            "see the saturation curve",
            "the best test gain is positive and first reached at n = 1",
            _verdict(s.size_at_peak["a_exclusive"] == 1 and s.peak["a_exclusive"] > 0),
        )
    ]
    if "plain" in s.size_at_peak:
        rows.append(
            ClaimRow(
                "A plain crosscoder needs many more features for its peak",
                "33 features for its +70 pp peak",
                f"peak {_pp(s.peak['plain'])} with {s.size_at_peak['plain']} feature(s)",
                "see the saturation curve",
                "plain crosscoder's positive peak needs more features than the DFC's "
                "A-exclusive peak",
                _verdict(
                    s.peak["plain"] > 0 and s.size_at_peak["plain"] > s.size_at_peak["a_exclusive"]
                ),
            )
        )
    return rows


def _b_exclusive(r: StudyResults) -> ClaimRow | None:
    if r.steering is None:
        return None
    cells = [c for c in r.steering.cells if c.feature_set == "b_exclusive"]
    if not cells:
        return None
    flips = sum(c.dev.flips.gained + c.dev.flips.lost for c in cells)
    worst = max(abs(c.dev.difference) for c in cells)
    return ClaimRow(
        "Steering B-exclusive features into model A does nothing",
        "0 pp (the masks guarantee it)",
        f"max |Δ| {worst * PP:.1f} pp, {flips} flipped prompts over {len(cells)} cells",
        "exact",
        "no prompt flips in any B-exclusive cell",
        _verdict(flips == 0),
    )


def _union(r: StudyResults) -> ClaimRow | None:
    union, a, shared = (
        _chosen(r, "a_exclusive+shared"),
        _chosen(r, "a_exclusive"),
        _chosen(r, "shared"),
    )
    if union is None or a is None or shared is None:
        return None
    gain = union.test.difference
    return ClaimRow(
        "Steering A-exclusive ∪ shared together is worse than either alone",
        "+35 pp, below either alone",
        f"union {_pp(gain)} vs A-exclusive {_pp(a.test.difference)}, "
        f"shared {_pp(shared.test.difference)}",
        _interval(union.test),
        "the union's chosen cell gains less on test than both others' chosen cells",
        _verdict(gain < min(a.test.difference, shared.test.difference)),
    )


def _layers(r: StudyResults) -> ClaimRow | None:
    ls = r.layers
    if ls is None or not ls.rows:
        return None
    tried = sum(1 for row in ls.rows if row.point is not None)
    return ClaimRow(
        "Most layers have one feature that switches tool use on",
        "7 of 9 layers reach +35 to +70 pp with one feature",
        f"{ls.layers_reaching_threshold} of {len(ls.rows)} layers reach "
        f"{_pp(ls.threshold)} ({tried} had a ranked feature)",
        "per-layer intervals in the layer table",
        "at least 7/9 of the layers reach the threshold",
        _verdict(ls.layers_reaching_threshold * 9 >= 7 * len(ls.rows)),
    )


CLAIMS: tuple[Callable[[StudyResults], ClaimRow | list[ClaimRow] | None], ...] = (
    _splice,
    _error,
    _all_improve,
    _spillover,
    _penalised,
    _one_feature,
    _saturation,
    _b_exclusive,
    _union,
    _layers,
)
NAMES = {
    _splice: "Splicing model A through the dictionary raises tool correctness",
    _error: "Reconstruction error barely predicts the splice gain",
    _all_improve: "Every crosscoder of the sweep improves model A when spliced",
    _spillover: "Spillover into the frozen base model",
    _penalised: "Penalising the exclusive partition lowers model A's splice gain",
    _one_feature: "Steering one A-exclusive feature switches tool use on",
    _saturation: "Saturation: one DFC feature vs many plain-crosscoder features",
    _b_exclusive: "Steering B-exclusive features into model A does nothing",
    _union: "Steering A-exclusive ∪ shared together is worse than either alone",
    _layers: "Most layers have one feature that switches tool use on",
}


def study_claims(results: StudyResults) -> list[ClaimRow]:
    """Every claim of METHOD.md §7, checked on `results` (or marked 'not run')."""
    rows: list[ClaimRow] = []
    for rule in CLAIMS:
        found = rule(results)
        if found is None or found == []:
            rows.append(ClaimRow(NAMES[rule], "see METHOD.md §7", "—", "—", "—", "not run"))
        elif isinstance(found, list):
            rows.extend(found)
        else:
            rows.append(found)
    return rows
