"""One way to write a number in every report (HTML, Markdown, terminal), so they never disagree."""

from __future__ import annotations

DASH = "\u2013"  # what a table shows for a value that does not exist


def num(value: float | None, digits: int = 1) -> str:
    """A dash when absent, whole numbers without decimals, one more decimal below 10 ('5.93', '40.0', '753')."""
    if value is None:
        return DASH
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.{digits}f}" if abs(value) >= 10 else f"{value:.{digits + 1}f}"


def pct(value: float | None) -> str:
    """A signed percentage with one decimal ('-1.7 %'), a dash when absent."""
    return DASH if value is None else f"{value:+.1f} %"
