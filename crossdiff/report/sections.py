"""The report's sections: each turns part of the results into HTML (and figures to embed).

Every section function returns (html, figures) where figures maps a file name to PNG bytes; the
HTML embeds the same bytes, so the page needs no other file. A section with nothing to show says
so in one line ("not run") and counts as unfilled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from crossdiff.report import figures
from crossdiff.report.claims import study_claims
from crossdiff.report.html import (
    comparison_table,
    esc,
    flip_grid,
    image,
    p_value,
    pct,
    pp,
    table,
)
from crossdiff.report.inputs import StudyResults


@dataclass
class Section:
    """One rendered section."""

    id: str
    title: str
    html: str
    filled: bool
    figures: dict[str, bytes] = field(default_factory=dict)


def _missing(what: str) -> str:
    return f"<p class=muted>not run: {esc(what)}</p>"


def _figure(sec: Section, name: str, png: bytes | None, alt: str, caption: str) -> str:
    if png is None:
        return ""
    sec.figures[name] = png
    return image(png, alt, caption)


def claims_section(r: StudyResults) -> Section:
    """The table 'the study's claims on this pair'."""
    rows = study_claims(r)
    cells = []
    for row in rows:
        css = {"replicates": "ok", "does not replicate": "bad"}.get(row.verdict, "muted")
        cells.append(
            [
                esc(row.claim),
                esc(row.study),
                esc(row.this_pair),
                esc(row.interval),
                esc(row.rule),
                f"<span class={css}>{esc(row.verdict)}</span>",
            ]
        )
    headers = ("claim", "the study", "this pair", "interval", "rule", "verdict")
    filled = any(row.verdict != "not run" for row in rows)
    return Section("claims", "The study's claims on this pair", table(headers, cells), filled)


def saturation_section(r: StudyResults) -> Section:
    """The saturation curve."""
    sec = Section("saturation", "Saturation curve", "", r.saturation is not None)
    if r.saturation is None:
        sec.html = _missing("the steering grid")
        return sec
    png = figures.saturation_figure(r.saturation)
    sec.html = _figure(
        sec,
        "saturation.png",
        png,
        "saturation curve",
        "Best gain over α (α chosen on dev) against the number of steered features, on test.",
    )
    sec.filled = png is not None
    return sec


def steering_section(r: StudyResults) -> Section:
    """Heatmaps of the steering grid, the chosen cells and the curve table."""
    grid = r.steering
    sec = Section("steering", "Steering grid (α × subset size)", "", grid is not None)
    if grid is None:
        sec.html = _missing("the steering grid")
        return sec
    parts = [
        f"<p class=note>{grid.dev_cells_tried} cells tried on dev "
        f"(α ∈ {{{', '.join(f'{a:g}' for a in grid.alphas)}}} × sizes {grid.sizes} × "
        f"{len(grid.feature_sets)} feature sets); {grid.test_cells_tried} chosen cells "
        "re-measured on test.</p>"
    ]
    for feature_set in grid.feature_sets:
        png = figures.steering_heatmap(grid, feature_set.name)
        parts.append(
            _figure(
                sec,
                f"heatmap-{feature_set.name}.png",
                png,
                f"steering heatmap {feature_set.name}",
                f"{feature_set.name} ({feature_set.dictionary}): dev gain per cell.",
            )
        )
    parts.append("<h3>Chosen cell per feature set (chosen on dev, measured on test)</h3>")
    parts.append(comparison_table([p.test for p in grid.chosen], "chosen cells"))
    parts.append("<h3>Saturation points (test)</h3>")
    parts.append(comparison_table([p.test for p in grid.curve], "one point per (set, size)"))
    if grid.skipped:
        parts.append(f"<p class=note>skipped: {esc('; '.join(grid.skipped))}</p>")
    sec.html = "".join(parts)
    sec.filled = bool(sec.figures)
    return sec


def relative_norm_section(r: StudyResults) -> Section:
    """Relative decoder norm histograms per partition."""
    sec = Section("relative-norms", "Relative decoder norms", "", False)
    if r.analysis is None:
        sec.html = _missing("the analysis")
        return sec
    png = figures.relative_norm_figure(r.analysis.relative_norms)
    sec.html = _figure(
        sec, "relative-norms.png", png, "relative norm histograms", "Per partition of the DFC."
    )
    sec.filled = png is not None
    return sec


def correlation_section(r: StudyResults) -> Section:
    """Splice gain against reconstruction error across the sweep."""
    cr = r.correlation
    sec = Section("gain-vs-error", "Splice gain against reconstruction error", "", False)
    if cr is None:
        sec.html = _missing("the sweep")
        return sec
    png = figures.gain_vs_error_figure(cr)
    rows = [
        [
            esc(m.name),
            esc(", ".join(f"{k}={v}" for k, v in m.settings.items())),
            f"{m.fvu_a:.3f}",
            f"{m.fvu_b:.3f}",
            pp(m.splice.difference),
            f"[{pp(m.splice.bootstrap.low)}, {pp(m.splice.bootstrap.high)}]",
            p_value(m.splice.holm_p),
        ]
        for m in cr.members
    ]
    text = (
        f"<p>Pearson r = {cr.pearson_r:+.2f} [{cr.pearson_low:+.2f}, {cr.pearson_high:+.2f}] "
        f"(p = {p_value(cr.pearson_p)}), Spearman ρ = {cr.spearman_rho:+.2f}; "
        f"{cr.improved}/{cr.n} crosscoders improve model A.</p>"
        if cr.pearson_r is not None
        else f"<p class=note>{cr.n} members: too few or too uniform for a correlation.</p>"
    )
    headers = ("member", "settings", "FVU A", "FVU B", "splice Δ pp", "95 %", "Holm p")
    sec.html = (
        _figure(sec, "gain-vs-error.png", png, "gain vs error", "One point per crosscoder.")
        + text
        + table(headers, rows, 2)
    )
    sec.filled = png is not None
    return sec


def flips_section(r: StudyResults) -> Section:
    """Per-prompt flip tables of the main conditions on test."""
    comparisons = []
    if r.splice:
        comparisons += [row.comparison for row in r.splice.rows]
    if r.steering:
        comparisons += [p.test for p in r.steering.chosen if p.feature_set == "a_exclusive"]
    if r.ablation:
        comparisons += [row.comparison for row in r.ablation.rows[:2]]
    sec = Section("flips", "Per-prompt flip tables (test)", "", bool(comparisons))
    if not comparisons:
        sec.html = _missing("splice, steering or ablation")
        return sec
    spill = [row.comparison for row in r.spillover.rows] if r.spillover else []
    sec.html = (
        "<p class=note>✓ correct, · wrong; green: flipped to correct, red: flipped to wrong.</p>"
        + "<h3>Model A</h3>"
        + flip_grid(comparisons)
        + ("<h3>Model B (spillover)</h3>" + flip_grid(spill) if spill else "")
    )
    return sec


def features_section(r: StudyResults) -> Section:
    """Feature cards with max-activating examples."""
    sec = Section("features", "Feature cards", "", False)
    if r.analysis is None or not r.analysis.cards:
        sec.html = _missing("the analysis (or no feature passed the firing filters)")
        return sec
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(r.analysis.candidates.items()))
    cards = [f"<p class=note>candidates per scope: {esc(counts)}</p>"]
    for card in r.analysis.cards:
        examples = "".join(
            f"<pre>{esc(e.before)}<mark>{esc(e.token)}</mark>{esc(e.after)}</pre>"
            f"<p class=note>activation {e.activation:.3g} {esc(e.source)}</p>"
            for e in card.examples
        )
        flag = " <span class=bad>template detector</span>" if card.template_detector else ""

        def num(value: float | None, fmt: str = ".2f") -> str:
            return "—" if value is None else format(value, fmt)

        cards.append(
            f"<div class=card><b>feature {card.feature}</b> ({esc(card.partition)}; "
            f"#{card.rank} in {esc(card.scope)}){flag}<br>"
            f"Cohen's d {num(card.cohens_d)}, AUROC {num(card.auroc)}, fires on "
            f"{num(card.rate_tool, '.0%')} of tool prompts and {num(card.rate_general, '.0%')} "
            f"of general texts; relative norm {num(card.relative_norm)}, decoder cosine "
            f"{num(card.decoder_cosine)}{examples}</div>"
        )
    sec.html = "".join(cards)
    sec.filled = True
    return sec


def examples_section(r: StudyResults) -> Section:
    """Example generations before and after steering."""
    grid = r.steering
    sec = Section("generations", "Generations before and after steering", "", False)
    if grid is None or not grid.examples:
        sec.html = _missing("the steering grid")
        return sec
    chosen = next((p for p in grid.chosen if p.feature_set == "a_exclusive"), None)
    head = (
        f"<p class=note>A-exclusive features {list(chosen.features)} at α = {chosen.alpha:g} "
        "(chosen on dev), test prompts.</p>"
        if chosen
        else ""
    )
    rows = [
        [
            esc(e.prompt_id) + "<br>" + esc(e.user),
            ("✓ " if e.before_correct else "· ") + f"<pre>{esc(e.before)}</pre>",
            ("✓ " if e.after_correct else "· ") + f"<pre>{esc(e.after)}</pre>",
        ]
        for e in grid.examples
    ]
    sec.html = head + table(("prompt", "before", "after steering"), rows)
    sec.filled = True
    return sec


def experiments_section(r: StudyResults) -> Section:
    """Splice, spillover, ablation, control, penalised and layer tables."""
    parts = []
    filled = False
    for title, result in (("Splice model A", r.splice), ("Spillover into model B", r.spillover)):
        if result is None:
            parts.append(f"<h3>{title}</h3>" + _missing(title))
            continue
        filled = True
        formats = "; ".join(
            f"{esc(row.dictionary)}: format {pct(row.format_before.rate)} → "
            f"{pct(row.format_after.rate)}"
            for row in result.rows
        )
        parts.append(
            f"<h3>{title}</h3>"
            + comparison_table([row.comparison for row in result.rows], title)
            + f"<p class=note>{formats}</p>"
            + (comparison_table(result.head_to_head, "head to head") if result.head_to_head else "")
        )
    if r.ablation:
        filled = True
        parts.append(
            "<h3>Ablation in model A</h3>"
            + comparison_table([row.comparison for row in r.ablation.rows], "ablations")
        )
    if r.control:
        filled = True
        c = r.control
        parts.append(
            f"<h3>Random-direction control (features {list(c.features)}, α = {c.alpha:g})</h3>"
            + comparison_table([c.steer, *c.controls, *c.steer_vs_control], "steer and controls")
        )
    if r.penalised:
        filled = True
        p = r.penalised
        parts.append(
            f"<h3>Penalised (λ_excl = {p.lambda_excl_penalised:g}) vs free exclusive partition</h3>"
            + comparison_table([p.free.comparison, p.penalised.comparison], "splice per DFC")
            + comparison_table([p.head_to_head], "free vs penalised")
        )
    if r.layers:
        filled = True
        ls = r.layers
        png = figures.layer_figure(ls)
        sec_figs = {"layers.png": png} if png else {}
        parts.append(
            "<h3>Layer sweep (one feature)</h3>"
            + (image(png, "layer sweep", "One A-exclusive feature per layer, test.") if png else "")
            + comparison_table([row.point.test for row in ls.rows if row.point], "layers")
        )
    else:
        sec_figs = {}
    return Section("experiments", "Experiments", "".join(parts), filled, dict(sec_figs))


SECTIONS: tuple[Callable[[StudyResults], Section], ...] = (
    claims_section,
    saturation_section,
    steering_section,
    relative_norm_section,
    correlation_section,
    flips_section,
    features_section,
    examples_section,
    experiments_section,
)
