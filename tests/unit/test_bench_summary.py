"""The national bench reads its figures off `numecole rebuild`'s own summary, numbers written the
French way: the figures it reads are the ones printed."""

from __future__ import annotations

from bench.national_bench import cli_summary
from infra.audit_commands import rebuild_summary
from services.reporting.rebuild import RebuildReport


def test_the_bench_reads_the_figures_of_the_rebuild_s_summary() -> None:
    report = RebuildReport(
        applied=3_155_721,
        parked=2,
        seconds=61.42,
        max_rss_kib=365 * 1024,
        cells_seconds=58.32,
        cells_max_rss_kib=362 * 1024,
    )
    output = "reconstruction [####] 3 155 721/3 155 721\n" + rebuild_summary(report) + "\n"
    assert cli_summary(output) == {
        "applied": 3_155_721,
        "seconds": 61.4,
        "parked": 2,
        "peak_mib": 727,
        "cells_mib": 362,
        "cells_seconds": 58.3,
    }


def test_without_a_summary_there_are_no_figures() -> None:
    assert cli_summary("Modèles de lecture : erreur\n") == {}
