"""Write the report: one self-contained HTML file, its PNG figures, and the results as JSON.

    report.html     opens offline: CSS inline, figures embedded as data URIs, no scripts
    figures/*.png   the same figures as files
    results.json    every typed result the report was built from
The directory is built in a staging directory and renamed into place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crossdiff.files import atomic_output_dir, write_bytes_atomic
from crossdiff.report.html import esc, page
from crossdiff.report.inputs import StudyResults, dumps
from crossdiff.report.sections import SECTIONS, Section

REPORT_FILE = "report.html"


@dataclass(frozen=True)
class ReportFiles:
    """Where the report went and which sections hold results."""

    html: Path
    figures: list[Path]
    filled: dict[str, bool]


def render_sections(results: StudyResults) -> list[Section]:
    """Every section of the report, rendered."""
    return [make(results) for make in SECTIONS]


def render_html(results: StudyResults, sections: list[Section]) -> str:
    """The whole page."""
    described = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in results.pair.items()
    )
    contents = "".join(
        f'<li><a href="#{s.id}">{esc(s.title)}</a>{"" if s.filled else " (not run)"}</li>'
        for s in sections
    )
    body = (
        f"<h1>{esc(results.title)}</h1><table>{described}</table>"
        "<p class=note>Cells are chosen on the dev prompts and reported on held-out test prompts; "
        "rates carry Wilson intervals, differences paired-bootstrap and paired-t intervals, "
        "p-values exact McNemar with Holm and Benjamini–Hochberg adjustment over the cells "
        "tried.</p>"
        f"<ul>{contents}</ul>"
        + "".join(
            f'<section id="{s.id}" data-filled="{str(s.filled).lower()}">'
            f"<h2>{esc(s.title)}</h2>{s.html}</section>"
            for s in sections
        )
    )
    return page(results.title, body)


def write_report_files(results: StudyResults, directory: str | Path) -> ReportFiles:
    """Render the report into an existing (staging) directory; return files and filled sections."""
    sections = render_sections(results)
    target = Path(directory)
    names = []
    for section in sections:
        for name, png in section.figures.items():
            write_bytes_atomic(target / "figures" / name, png)
            names.append(name)
    write_bytes_atomic(target / REPORT_FILE, render_html(results, sections).encode())
    write_bytes_atomic(target / "results.json", dumps(results).encode())
    return ReportFiles(
        html=target / REPORT_FILE,
        figures=[target / "figures" / n for n in names],
        filled={s.id: s.filled for s in sections},
    )


def write_report(results: StudyResults, out_dir: str | Path, force: bool = True) -> ReportFiles:
    """Write the report directory `out_dir` atomically (see `write_report_files`)."""
    target = Path(out_dir)
    with atomic_output_dir(target, force=force) as staging:
        staged = write_report_files(results, staging)
    return ReportFiles(
        html=target / REPORT_FILE,
        figures=[target / "figures" / f.name for f in staged.figures],
        filled=staged.filled,
    )
