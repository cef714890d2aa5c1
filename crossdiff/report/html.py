"""Small HTML building blocks: escaped text, tables, embedded PNGs. No scripts, no web assets."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

from crossdiff.experiments.core import Comparison

PP = 100.0

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;
       line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #176b2c; font-weight: 600; } .bad { color: #a11; font-weight: 600; }
.muted { color: #777; } .note { font-size: 0.9em; color: #555; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
pre { white-space: pre-wrap; background: #f7f7f7; padding: 0.5em; font-size: 0.85em;
      max-height: 14em; overflow: auto; margin: 0; }
mark { background: #ffe066; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; margin: 0.8em 0; }
.flipgrid span { display: inline-block; width: 1.1em; text-align: center; }
"""


def esc(value: object) -> str:
    """HTML-escaped text."""
    return html.escape(str(value), quote=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 99) -> str:
    """A table; cells are already-escaped HTML; columns from `numeric_from` are right-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{cell}</td>' if index >= numeric_from else f"<td>{cell}</td>"
            for index, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def image(png: bytes, alt: str, caption: str) -> str:
    """An embedded PNG (base64 data URI) with a caption."""
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt)}">'
        f"<figcaption class=note>{esc(caption)}</figcaption></figure>"
    )


def pct(value: float) -> str:
    """A rate as a percentage."""
    return f"{value * PP:.1f} %"


def pp(value: float) -> str:
    """A difference in percentage points."""
    return f"{value * PP:+.1f}"


def p_value(value: float | None) -> str:
    """A p-value, or a dash."""
    return "—" if value is None else f"{value:.3g}"


COMPARISON_HEADERS = (
    "condition",
    "baseline",
    "n",
    "before",
    "after",
    "Δ pp",
    "bootstrap 95 %",
    "paired-t 95 %",
    "gained/lost",
    "McNemar p",
    "Holm p",
    "BH p",
)


def comparison_cells(c: Comparison) -> list[str]:
    """One row of a comparison table (see COMPARISON_HEADERS)."""
    return [
        esc(c.label),
        esc(c.baseline_label),
        str(c.n),
        f"{pct(c.baseline.rate)} [{pct(c.baseline.low)}, {pct(c.baseline.high)}]",
        f"{pct(c.treatment.rate)} [{pct(c.treatment.low)}, {pct(c.treatment.high)}]",
        pp(c.difference),
        f"[{pp(c.bootstrap.low)}, {pp(c.bootstrap.high)}]",
        f"[{pp(c.paired_t.low)}, {pp(c.paired_t.high)}]",
        f"{c.flips.gained}/{c.flips.lost}",
        p_value(c.mcnemar_p),
        p_value(c.holm_p),
        p_value(c.bh_p),
    ]


def comparison_table(comparisons: Sequence[Comparison], what: str) -> str:
    """A table of comparisons with a line saying how many cells the adjustment covered."""
    if not comparisons:
        return "<p class=muted>nothing to show</p>"
    family = comparisons[0].family_size
    split = comparisons[0].split
    note = (
        f"<p class=note>{esc(what)}: {len(comparisons)} row(s) on <b>{esc(split)}</b>; Holm and "
        f"Benjamini–Hochberg p-values adjusted over {family} cell(s) tried. Intervals are 95 %.</p>"
    )
    return note + table(COMPARISON_HEADERS, [comparison_cells(c) for c in comparisons], 2)


def flip_grid(comparisons: Sequence[Comparison]) -> str:
    """Per-prompt outcomes: one row per prompt, one column per condition (✓ correct, · wrong)."""
    if not comparisons:
        return ""
    first = comparisons[0]
    headers = ["prompt", first.baseline_label] + [c.label for c in comparisons]
    rows = []
    for index, flip in enumerate(first.per_prompt):
        cells = [esc(flip.prompt_id), "✓" if flip.baseline else "·"]
        for c in comparisons:
            item = c.per_prompt[index]
            mark = "✓" if item.treatment else "·"
            if item.treatment != item.baseline:
                mark = f"<span class={'ok' if item.treatment else 'bad'}>{mark}</span>"
            cells.append(mark)
        rows.append(cells)
    return table(headers, rows)


def page(title: str, body: str) -> str:
    """The whole document: inline CSS, no scripts, no external references."""
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )
