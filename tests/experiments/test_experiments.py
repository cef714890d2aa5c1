"""The experiments on a tiny random pair with real dictionaries: structure, selection, no-ops.

A random pair rarely answers correctly, so these tests check what must hold whatever the rates:
exact no-ops (identity splice, α = 1, B-exclusive steering into A), that cells are chosen on dev and
reported on test, the counts of cells tried, adjusted p-values, caching and JSON round trips.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import transformers

from crossdiff.errors import CrossdiffError
from crossdiff.experiments.controls import (
    AblationResult,
    ControlResult,
    ablation_experiment,
    control_experiment,
)
from crossdiff.experiments.core import ExperimentSetup
from crossdiff.experiments.serialize import load_result, save_result
from crossdiff.experiments.splice import (
    PenalisedResult,
    SpliceResult,
    penalised_experiment,
    splice_experiment,
)
from crossdiff.experiments.steering import (
    FeatureSet,
    SteeringGridResult,
    saturation_curve,
    steering_grid,
)
from crossdiff.experiments.sweeps import (
    CorrelationResult,
    LayerInput,
    LayerSweepResult,
    SweepMember,
    gain_vs_error,
    layer_sweep,
)
from tests.experiments.tiny import tiny_setup

transformers.logging.set_verbosity_error()
WIDTH_A, WIDTH_B = 32, 24
HOOK = "resid_post.1"
VOCAB = 1500


@pytest.fixture(scope="module")
def setup() -> ExperimentSetup:
    return tiny_setup()


def test_identity_splice_changes_nothing(setup: ExperimentSetup) -> None:
    result = splice_experiment(setup, ["identity", "dfc"], model=0)
    identity_row = result.rows[0].comparison
    assert identity_row.difference == 0.0
    assert identity_row.flips.lost == identity_row.flips.gained == 0
    assert identity_row.split == "test" and identity_row.n == 4
    assert result.cells_tried == 2
    assert all(
        r.comparison.family_size == 2 and r.comparison.holm_p is not None for r in result.rows
    )
    assert len(result.head_to_head) == 1
    spill = splice_experiment(setup, ["identity"], model=1)
    assert spill.experiment == "spillover" and spill.model == "B"
    assert spill.rows[0].format_before == spill.rows[0].format_after


def test_the_compared_metric_is_the_setup_s(setup: ExperimentSetup) -> None:
    with pytest.raises(CrossdiffError, match="unknown metric"):
        dataclasses.replace(setup, metric="accuracy")
    rows = {}
    for metric in ("tool_ok", "made_call"):
        run = dataclasses.replace(setup, metric=metric, cache={})
        rows[metric] = splice_experiment(run, ["identity"], model=0).rows[0].comparison.per_prompt
    has_tool = {p.id: p.has_tool for p in setup.test}
    for tool_ok, made_call in zip(rows["tool_ok"], rows["made_call"], strict=True):
        if has_tool[tool_ok.prompt_id]:
            assert not tool_ok.baseline or made_call.baseline  # a right tool needs a call
        else:
            assert tool_ok.baseline == (not made_call.baseline)  # no-tool: right = no call


def test_steering_grid_selects_on_dev_and_reports_on_test(setup: ExperimentSetup) -> None:
    slices = setup.dictionaries["dfc"].dictionary.partition_slices()
    a_excl = tuple(range(slices["a_exclusive"].start, slices["a_exclusive"].stop))
    b_excl = tuple(range(slices["b_exclusive"].start, slices["b_exclusive"].stop))
    sets = [
        FeatureSet("a_exclusive", "dfc", a_excl[:3]),
        FeatureSet("b_exclusive", "dfc", b_excl[:3]),
        FeatureSet("plain", "plain", (0,)),
    ]
    generated: list[str] = []
    setup.on_condition = generated.append
    grid = steering_grid(setup, sets, alphas=(1, 16), sizes=(1, 2))
    setup.on_condition = None
    # a_exclusive and b_exclusive: 2 sizes × 2 α; plain: 1 size (only one ranked) × 2 α
    assert grid.dev_cells_tried == 10 == len(grid.cells)
    assert grid.test_cells_tried == 5 == len(grid.curve)
    assert grid.skipped == ["plain n=2: only 1 ranked"]
    assert all(c.dev.split == "dev" and c.dev.family_size == 10 for c in grid.cells)
    assert all(p.test.split == "test" and p.test.family_size == 5 for p in grid.curve)
    # α = 1 is the unedited model: no generation, zero difference
    assert all(
        c.dev.difference == 0 and c.dev.flips.gained == 0 for c in grid.cells if c.alpha == 1
    )
    assert not any("α=1 " in label for label in generated)
    # B-exclusive decoders write nothing into A: steering them is exactly the unedited model
    for cell in grid.cells:
        if cell.feature_set == "b_exclusive":
            assert cell.dev.difference == 0 and cell.dev.flips.lost == 0
    # the chosen α per (set, size) is the best on dev
    for point in grid.curve:
        own = [c for c in grid.cells if (c.feature_set, c.size) == (point.feature_set, point.size)]
        assert point.dev_difference == max(c.dev.difference for c in own)
    assert {p.feature_set for p in grid.chosen} == {"a_exclusive", "b_exclusive", "plain"}
    assert len(grid.examples) == 4
    curve = saturation_curve(grid)
    assert [p.size for p in curve.curves["a_exclusive"]] == [1, 2]
    assert curve.size_at_peak["plain"] == 1
    for point in curve.curves["a_exclusive"]:
        assert point.low <= point.difference <= point.high


def test_ablation_control_and_penalised(setup: ExperimentSetup, tmp_path: Path) -> None:
    ablation = ablation_experiment(
        setup, "dfc", ranking=(0, 1, 2), top=(1, 3), partition=("a_exclusive", range(0, 8))
    )
    assert [(r.target, r.mode) for r in ablation.rows] == [
        ("top 1", "alpha=0"),
        ("top 1", "clamp=0"),
        ("top 3", "alpha=0"),
        ("top 3", "clamp=0"),
        ("partition a_exclusive", "alpha=0"),
        ("partition a_exclusive", "clamp=0"),
    ]
    assert ablation.cells_tried == 6
    grid = steering_grid(setup, [FeatureSet("a_exclusive", "dfc", (0, 1))], (16,), (1,))
    control = control_experiment(setup, "dfc", grid.chosen[0], seeds=(0, 1))
    assert len(control.controls) == len(control.steer_vs_control) == 2
    assert control.cells_tried == 5
    assert control.steer.label == grid.chosen[0].test.label
    penalised = penalised_experiment(setup, "identity", "dfc", lambda_excl=1e-3)
    assert penalised.head_to_head.baseline_label.endswith("[dfc]")
    assert penalised.free.comparison.difference == 0.0
    for result, kind in (
        (ablation, AblationResult),
        (control, ControlResult),
        (penalised, PenalisedResult),
        (grid, SteeringGridResult),
    ):
        path = tmp_path / f"{kind.__name__}.json"
        save_result(result, path)
        assert load_result(kind, path) == result


def test_layer_sweep_and_correlation(setup: ExperimentSetup, tmp_path: Path) -> None:
    dfc = setup.dictionaries["dfc"]
    layers = [
        LayerInput("resid_post.0", dfc, (0,)),
        LayerInput("resid_post.1", dfc, (0,)),
        LayerInput("resid_post.1", dfc, ()),
    ]
    sweep = layer_sweep(setup, layers, alphas=(1, 6))
    assert [r.hook_point for r in sweep.rows] == ["resid_post.0", "resid_post.1", "resid_post.1"]
    assert sweep.rows[2].point is None and "no ranked" in sweep.rows[2].note
    assert sweep.dev_cells_tried == 4 and sweep.test_cells_tried == 2
    save_result(sweep, tmp_path / "layers.json")
    assert load_result(LayerSweepResult, tmp_path / "layers.json") == sweep

    splice = splice_experiment(setup, ["dfc"]).rows[0].comparison
    members = [SweepMember(f"m{i}", {"k": i}, 0.1 * (i + 1), 0.2, splice) for i in range(3)]
    flat = gain_vs_error(members)
    assert flat.pearson_r is None  # no variation in gain: no correlation to report
    import dataclasses

    varied = [
        dataclasses.replace(m, splice=dataclasses.replace(splice, difference=d))
        for m, d in zip(members, (0.1, 0.3, 0.2), strict=True)
    ]
    result = gain_vs_error(varied)
    assert result.n == 3 and result.improved == 3
    assert result.pearson_low <= result.pearson_r <= result.pearson_high
    assert result.pearson_r == pytest.approx(0.5)
    save_result(result, tmp_path / "corr.json")
    assert load_result(CorrelationResult, tmp_path / "corr.json") == result


def test_splice_result_round_trip_and_bad_file(setup: ExperimentSetup, tmp_path: Path) -> None:
    from crossdiff.errors import CrossdiffError

    result = splice_experiment(setup, ["identity"])
    save_result(result, tmp_path / "s.json")
    assert load_result(SpliceResult, tmp_path / "s.json") == result
    with pytest.raises(CrossdiffError, match="not a ControlResult"):
        load_result(ControlResult, tmp_path / "s.json")
