"""The report built from small real results: self-contained HTML, figures, claims; and Chromium."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest
import torch

from crossdiff.experiments.controls import ablation_experiment, control_experiment
from crossdiff.experiments.splice import penalised_experiment, splice_experiment
from crossdiff.experiments.steering import FeatureSet, saturation_curve, steering_grid
from crossdiff.experiments.sweeps import LayerInput, SweepMember, gain_vs_error, layer_sweep
from crossdiff.report.build import write_report
from crossdiff.report.claims import study_claims
from crossdiff.report.inputs import (
    AnalysisSummary,
    FeatureCard,
    StudyResults,
    marked_example,
)
from tests.experiments.tiny import tiny_setup
from tests.report.chromium import Browser, chromium_binary

SECTION_IDS = (
    "claims",
    "saturation",
    "steering",
    "relative-norms",
    "gain-vs-error",
    "flips",
    "features",
    "generations",
    "experiments",
)


@pytest.fixture(scope="module")
def results() -> StudyResults:
    setup = tiny_setup()
    dfc = setup.dictionaries["dfc"].dictionary
    slices = dfc.partition_slices()
    a_excl = tuple(range(slices["a_exclusive"].start, slices["a_exclusive"].stop))
    shared = tuple(range(slices["shared"].start, slices["shared"].start + 4))
    sets = [
        FeatureSet("a_exclusive", "dfc", a_excl[:2]),
        FeatureSet("shared", "dfc", shared[:2]),
        FeatureSet("b_exclusive", "dfc", (slices["b_exclusive"].start,)),
        FeatureSet("a_exclusive+shared", "dfc", (a_excl[0], shared[0])),
        FeatureSet("plain", "plain", (0, 1)),
    ]
    grid = steering_grid(setup, sets, alphas=(1, 16), sizes=(1, 2))
    splice = splice_experiment(setup, ["dfc", "plain"])
    members = [
        SweepMember(
            f"m{i}",
            {"k": 4 * (i + 1)},
            fvu,
            0.3,
            dataclasses.replace(splice.rows[0].comparison, difference=gain),
        )
        for i, (fvu, gain) in enumerate(((0.2, 0.1), (0.3, 0.05), (0.4, 0.2)))
    ]
    with torch.no_grad():
        norm_a = dfc.decoder_vectors(0).norm(dim=1)
        norm_b = dfc.decoder_vectors(1).norm(dim=1)
    relative = (norm_a / (norm_a + norm_b)).tolist()
    analysis = AnalysisSummary(
        relative_norms={name: relative[part.start : part.stop] for name, part in slices.items()},
        rankings={"a_exclusive": list(a_excl[:2])},
        cards=[
            FeatureCard(
                a_excl[0],
                "a_exclusive",
                "a_exclusive",
                1,
                1.5,
                0.9,
                0.6,
                0.05,
                1.0,
                None,
                True,
                [marked_example("Tools: 1. get_⟦weather⟧ Description", 3.2, "tool_prompts:train")],
            )
        ],
        candidates={"a_exclusive": 2},
    )
    return StudyResults(
        title="crossdiff report <test>",
        pair={"model A": "tiny-a", "model B": "tiny-b", "hook point": setup.hook_point},
        splice=splice,
        spillover=splice_experiment(setup, ["dfc", "plain"], model=1),
        steering=grid,
        saturation=saturation_curve(grid),
        ablation=ablation_experiment(setup, "dfc", a_excl, (1,)),
        control=control_experiment(setup, "dfc", grid.chosen[0], (0,)),
        penalised=penalised_experiment(setup, "dfc", "plain", 1e-3),
        layers=layer_sweep(
            setup, [LayerInput("resid_post.0", setup.dictionaries["dfc"], a_excl)], (1, 16)
        ),
        correlation=gain_vs_error(members),
        analysis=analysis,
    )


def test_report_is_self_contained_and_filled(results: StudyResults, tmp_path: Path) -> None:
    files = write_report(results, tmp_path / "report")
    assert files.filled == {name: True for name in SECTION_IDS}
    text = files.html.read_text()
    assert text.count("data:image/png;base64,") == len(files.figures) >= 8
    assert all(f.is_file() and f.read_bytes()[:4] == b"\x89PNG" for f in files.figures)
    # nothing fetched from elsewhere: no scripts, no http(s) links or sources
    assert "<script" not in text
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert "crossdiff report &lt;test&gt;" in text  # escaped
    assert "get_<mark>weather</mark>" in text
    assert (tmp_path / "report" / "results.json").is_file()


def test_missing_results_say_not_run(tmp_path: Path) -> None:
    files = write_report(StudyResults("empty", {}), tmp_path / "empty")
    assert not any(files.filled.values())
    assert "not run" in files.html.read_text()
    assert all(row.verdict == "not run" for row in study_claims(StudyResults("empty", {})))


def test_claims_cover_every_study_result(results: StudyResults) -> None:
    rows = study_claims(results)
    assert len(rows) >= 13
    assert {row.verdict for row in rows} <= {"replicates", "does not replicate", "not run"}
    by_claim = {row.claim: row for row in rows}
    b_excl = by_claim["Steering B-exclusive features into model A does nothing"]
    assert b_excl.verdict == "replicates"  # the masks make this exact, even on a random pair
    correlation = next(r for r in rows if r.claim.startswith("Reconstruction error"))
    assert correlation.verdict in ("replicates", "does not replicate")


@pytest.mark.skipif(
    chromium_binary() is None and not os.environ.get("CI"),
    reason="chromium not installed (scripts/install-chromium.sh installs it; CI must have it)",
)
def test_report_renders_in_headless_chromium(results: StudyResults, tmp_path: Path) -> None:
    binary = chromium_binary()
    assert binary is not None, "chromium is missing: CI must run scripts/install-chromium.sh"
    files = write_report(results, tmp_path / "report")
    browser = Browser(binary)
    try:
        browser.open(files.html)
        images = browser.evaluate(
            "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
        )
        sections = browser.evaluate(
            "Array.from(document.querySelectorAll('section')).map(s => s.id)"
        )
        visible = browser.evaluate(
            "Array.from(document.images).every(i => i.getBoundingClientRect().width > 50)"
        )
        errors = browser.errors()
    finally:
        browser.close()
    assert len(images) == len(files.figures)
    assert all(done and width > 100 and height > 100 for done, width, height in images)
    assert visible
    assert sections == list(SECTION_IDS)
    assert errors == []


@pytest.mark.skipif(chromium_binary() is None, reason="chromium not installed")
def test_browser_check_catches_errors_and_broken_images(tmp_path: Path) -> None:
    """The check above can fail: a page with a console error and a broken image is caught."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<html><body><img src="missing.png">'
        '<script>console.error("boom"); undefined_fn();</script></body></html>'
    )
    browser = Browser(chromium_binary())
    try:
        browser.open(page, settle_seconds=0.3)
        widths = browser.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
        errors = browser.errors()
    finally:
        browser.close()
    assert widths == [0]
    assert any("boom" in e for e in errors) and any("Uncaught" in e for e in errors)
