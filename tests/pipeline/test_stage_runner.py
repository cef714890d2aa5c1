"""The stage runner with cheap real stages: skip if unchanged, re-run on change, none on failure."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from crossdiff.errors import CrossdiffError
from crossdiff.pipeline import Stage, StageContext, read_manifest, run_stages

CALLS: list[str] = []


def make_numbers(ctx: StageContext) -> dict:
    """Write `count` seeded random integers, one per line."""
    CALLS.append(ctx.name)
    rng = random.Random(ctx.seed)
    numbers = [rng.randint(0, 1000) for _ in range(int(ctx.config["count"]))]
    (ctx.out_dir / "numbers.txt").write_text("\n".join(map(str, numbers)) + "\n")
    return {"count": len(numbers)}


def sum_numbers(ctx: StageContext) -> dict:
    """Read the numbers stage and write their (scaled) total as JSON."""
    CALLS.append(ctx.name)
    lines = (ctx.input_dir("numbers") / "numbers.txt").read_text().split()
    total = sum(int(x) for x in lines) * int(ctx.config.get("scale", 1))
    (ctx.out_dir / "sub").mkdir()
    (ctx.out_dir / "sub" / "total.json").write_text(json.dumps({"total": total}))
    return {"total": total}


def failing_sum(ctx: StageContext) -> dict:
    """Write part of its output, then fail the way a crash half-way would."""
    CALLS.append(ctx.name)
    (ctx.out_dir / "sub").mkdir()
    (ctx.out_dir / "sub" / "total.json").write_text('{"total": ')
    raise RuntimeError("killed half-way")


def stages(count: int = 5, scale: int = 1, seed: int = 0, summer=sum_numbers) -> list[Stage]:
    return [
        Stage("numbers", make_numbers, config={"count": count}, seed=seed),
        Stage("sum", summer, config={"scale": scale}, depends_on=("numbers",)),
    ]


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    CALLS.clear()


def test_first_run_writes_outputs_and_manifests(tmp_path: Path) -> None:
    outcomes = run_stages(stages(), tmp_path, show_progress=False)
    assert [o.status for o in outcomes] == ["ran", "ran"]
    manifest = read_manifest(tmp_path / "sum")
    assert manifest is not None
    assert manifest["config"] == {"scale": 1}
    assert set(manifest["outputs"]) == {"sub/total.json"}
    assert (
        manifest["inputs"]["stage:numbers"] == read_manifest(tmp_path / "numbers")["outputs_sha256"]
    )
    assert manifest["versions"]["crossdiff"]
    total = json.loads((tmp_path / "sum" / "sub" / "total.json").read_text())["total"]
    assert manifest["summary"] == {"total": total}


def test_unchanged_stages_are_skipped(tmp_path: Path) -> None:
    run_stages(stages(), tmp_path, show_progress=False)
    CALLS.clear()
    outcomes = run_stages(stages(), tmp_path, show_progress=False)
    assert [o.status for o in outcomes] == ["skipped", "skipped"]
    assert CALLS == []


def test_config_change_reruns_the_stage_and_its_dependents(tmp_path: Path) -> None:
    run_stages(stages(count=5), tmp_path, show_progress=False)
    CALLS.clear()
    outcomes = run_stages(stages(count=6), tmp_path, show_progress=False)
    assert [o.status for o in outcomes] == ["ran", "ran"]
    assert len((tmp_path / "numbers" / "numbers.txt").read_text().split()) == 6


def test_downstream_config_change_reruns_only_downstream(tmp_path: Path) -> None:
    run_stages(stages(scale=1), tmp_path, show_progress=False)
    CALLS.clear()
    outcomes = run_stages(stages(scale=3), tmp_path, show_progress=False)
    assert [o.status for o in outcomes] == ["skipped", "ran"]
    assert CALLS == ["sum"]


def test_seed_change_reruns(tmp_path: Path) -> None:
    run_stages(stages(seed=0), tmp_path, show_progress=False)
    before = (tmp_path / "numbers" / "numbers.txt").read_text()
    outcomes = run_stages(stages(seed=1), tmp_path, show_progress=False)
    assert outcomes[0].status == "ran"
    assert (tmp_path / "numbers" / "numbers.txt").read_text() != before


def test_identical_rerun_output_does_not_invalidate_dependents(tmp_path: Path) -> None:
    """A forced re-run that writes the same bytes leaves the next stage's inputs unchanged."""
    run_stages(stages(), tmp_path, show_progress=False)
    CALLS.clear()
    outcomes = run_stages(stages(), tmp_path, force=["numbers"], show_progress=False)
    assert [o.status for o in outcomes] == ["ran", "skipped"]


def test_modified_output_is_detected_and_rebuilt(tmp_path: Path) -> None:
    run_stages(stages(), tmp_path, show_progress=False)
    (tmp_path / "numbers" / "numbers.txt").write_text("1\n2\n")
    outcomes = run_stages(stages(), tmp_path, show_progress=False)
    assert outcomes[0].status == "ran"
    assert outcomes[0].reason == "outputs were modified"
    assert len((tmp_path / "numbers" / "numbers.txt").read_text().split()) == 5


def test_failure_leaves_nothing_that_looks_finished(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="half-way"):
        run_stages(stages(summer=failing_sum), tmp_path, show_progress=False)
    assert (tmp_path / "numbers" / "stage.json").is_file()
    assert not (tmp_path / "sum").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    CALLS.clear()
    outcomes = run_stages(stages(), tmp_path, show_progress=False)
    assert [o.status for o in outcomes] == ["skipped", "ran"]


def test_failed_rerun_keeps_no_stale_result_marked_current(tmp_path: Path) -> None:
    """After a failed re-run with a new config, the old output is not taken as the new one."""
    run_stages(stages(scale=1), tmp_path, show_progress=False)
    with pytest.raises(RuntimeError):
        run_stages(stages(scale=2, summer=failing_sum), tmp_path, show_progress=False)
    CALLS.clear()
    outcomes = run_stages(stages(scale=2), tmp_path, show_progress=False)
    assert outcomes[1].status == "ran"


def test_killed_run_staging_directory_is_cleaned(tmp_path: Path) -> None:
    leftover = tmp_path / ".sum.abc.partial"
    leftover.mkdir(parents=True)
    (leftover / "sub").mkdir()
    run_stages(stages(), tmp_path, show_progress=False)
    assert not leftover.exists()


def test_external_input_change_reruns(tmp_path: Path) -> None:
    source = tmp_path / "source.txt"
    source.write_text("3\n4\n")

    def read_source(ctx: StageContext) -> None:
        CALLS.append(ctx.name)
        (ctx.out_dir / "numbers.txt").write_text(source.read_text())

    def build() -> list[Stage]:
        return [Stage("numbers", read_source, external_inputs={"source": str(source)})]

    run_dir = tmp_path / "run"
    assert run_stages(build(), run_dir, show_progress=False)[0].status == "ran"
    assert run_stages(build(), run_dir, show_progress=False)[0].status == "skipped"
    source.write_text("3\n5\n")
    assert run_stages(build(), run_dir, show_progress=False)[0].status == "ran"


def test_bad_stage_lists_are_refused(tmp_path: Path) -> None:
    bad_order = list(reversed(stages()))
    with pytest.raises(CrossdiffError, match="do not run before it"):
        run_stages(bad_order, tmp_path, show_progress=False)
    with pytest.raises(CrossdiffError, match="defined twice"):
        run_stages([stages()[0], stages()[0]], tmp_path, show_progress=False)
    with pytest.raises(CrossdiffError, match="no such stage"):
        run_stages(stages(), tmp_path, force=["nope"], show_progress=False)


def test_progress_display_reports_each_stage(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_stages(stages(), tmp_path, show_progress=True)
    run_stages(stages(), tmp_path, show_progress=True)
    err = capsys.readouterr().err
    assert "numbers: ran" in err
    assert "sum: skipped (unchanged" in err
