"""PDF profile generation time, as a ratio to a minimal one-line PDF made with the same library.

    python -m bench.pdf_bench                 # 200 renders of each
    python -m bench.pdf_bench --renders 50

No server is needed: the profiles are built in memory (`services.reporting.pdf.sample`), so the
figure is the rendering alone (the HTTP endpoint adds its read-model queries). Each round times,
back to back, (a) the baseline: a one-line A4 PDF drawn with reportlab's canvas in the same
embedded font, (b) a realistic profile (12 usages, every section filled), (c) a heavy one
(60 usages, the list in three columns). Alternating them spreads the machine's noise evenly.

Also usable from `python -m bench` as a bench module (`run`), were `pdf` added to its list.
"""

from __future__ import annotations

import argparse
import gc
import io
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import median

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from bench.common import Figure, Options, Section, Servers, monotonic, percentile, text_table
from services.reporting.pdf import render_profile_pdf
from services.reporting.pdf.fonts import REGULAR
from services.reporting.pdf.sample import sample_profile

GOAL_MS = 200.0
REALISTIC_USAGES = 12
HEAVY_USAGES = 60


def one_line_pdf() -> bytes:
    """The least a PDF takes with the library: one page, one line, the same embedded font."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setFont(REGULAR, 12)
    canvas.drawString(72, 770, "Numécole — profil numérique de l'école")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def timed(make: Callable[[], bytes]) -> tuple[float, int]:
    """Milliseconds to make the document, and its size in bytes."""
    started = monotonic()
    data = make()
    return (monotonic() - started) * 1000, len(data)


def measure(renders: int) -> Section:
    realistic = sample_profile(REALISTIC_USAGES)
    heavy = sample_profile(HEAVY_USAGES)
    jobs: dict[str, Callable[[], bytes]] = {
        "baseline": one_line_pdf,
        "realistic": lambda: render_profile_pdf(realistic),
        "heavy": lambda: render_profile_pdf(heavy),
    }
    times: dict[str, list[float]] = {name: [] for name in jobs}
    sizes: dict[str, int] = {}
    for make in jobs.values():  # warm-up: imports, font tables, caches
        make()
    gc.collect()
    for _ in range(renders):
        for name, make in jobs.items():
            ms, size = timed(make)
            times[name].append(ms)
            sizes[name] = size
    base = times["baseline"]
    section = Section(f"pdf ({renders} renders each)")
    goal = f"< {GOAL_MS:.0f} ms"
    for name, usages in (("realistic", REALISTIC_USAGES), ("heavy", HEAVY_USAGES)):
        section.figures += [
            Figure(
                f"{name} profile ({usages} usages), median",
                median(times[name]),
                "ms",
                baseline=median(base),
                baseline_name="one-line PDF, median",
                goal=goal,
                digits=1,
            ),
            Figure(
                f"{name} profile ({usages} usages), p99",
                percentile(times[name], 99),
                "ms",
                baseline=percentile(base, 99),
                baseline_name="one-line PDF, p99",
                digits=1,
            ),
        ]
    section.figures.append(
        Figure(
            f"realistic profile size ({REALISTIC_USAGES} usages)",
            sizes["realistic"] / 1024,
            "KiB",
            baseline=sizes["baseline"] / 1024,
            baseline_name="one-line PDF",
            digits=1,
        )
    )
    section.notes.append(
        "rendering only (profiles built in memory); reportlab with the Vera fonts embedded "
        "as subsets, page compression on"
    )
    return section


async def run(servers: Servers, options: Options, workdir: Path) -> Section:
    """The bench harness's entry point (no server is used)."""
    return measure(50 if options.quick else 200)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pdf_bench", description=__doc__)
    parser.add_argument("--renders", type=int, default=200, help="renders of each document")
    args = parser.parse_args(argv)
    section = measure(max(1, args.renders))
    print(text_table([section]))
    realistic = section.figures[0]
    verdict = "within" if realistic.value < GOAL_MS else "OVER"
    print(
        f"\nmedian {realistic.value:.1f} ms for a realistic profile: {verdict} the "
        f"{GOAL_MS:.0f} ms goal; {realistic.ratio:.1f}× the one-line PDF"
        if realistic.ratio is not None
        else ""
    )
    return 0 if realistic.value < GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
