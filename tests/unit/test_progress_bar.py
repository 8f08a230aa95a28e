"""The progress bar of `numecole rebuild` and `numecole verify` writes its numbers as French does."""

import io

from infra.progress import ProgressBar, french


def test_numbers_are_written_the_french_way() -> None:
    assert french(1234567) == "1\u202f234\u202f567"
    assert french(1234.56, 1) == "1\u202f234,6"
    assert french(12) == "12"


def test_the_bar_shows_events_done_and_the_total_with_french_thousands() -> None:
    shown = io.StringIO()
    bar = ProgressBar(total=1_234_567, out=shown)
    bar(1_234_567)
    bar.close()
    line = shown.getvalue()
    assert "[" + "#" * 30 + "]" in line
    assert "1\u202f234\u202f567/1\u202f234\u202f567 événements" in line
    assert "," not in line.split("événements")[1].split("/s")[0]
    assert line.endswith("reste 0 s \n")


def test_the_bar_is_not_redrawn_more_than_five_times_a_second() -> None:
    shown = io.StringIO()
    bar = ProgressBar(total=1_000_000, out=shown)
    for _ in range(100):
        bar(10)
    assert shown.getvalue().count("\r") == 1
