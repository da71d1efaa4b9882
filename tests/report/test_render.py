"""The report as rendered from a fixture results.json: self-contained, verdict first, and the HTML, summary.md
and results.json showing the same verdicts and the same numbers."""

from __future__ import annotations

import copy
import html.parser
import re
from pathlib import Path
from typing import Any

import pytest

from harness.fronts.nginx import FLOWS
from harness.report import latency, output, schema
from harness.report.fmt import DASH, num
from harness.report.render import agrees_text, boundary_text, predicted_text
from harness.report.verdict import decide

pytestmark = pytest.mark.unit


class Rows(html.parser.HTMLParser):
    """The data-* attributes of every <tr> that has them, and every <img> src."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.images: list[str] = []
        self.first_paragraph: str | None = None
        self._in_first_p = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "tr" and "data-config" in values:
            self.rows.append(values)
        if tag == "img":
            self.images.append(values.get("src", ""))
        if tag == "p" and self.first_paragraph is None:
            self._in_first_p, self.first_paragraph = True, ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._in_first_p = False

    def handle_data(self, data: str) -> None:
        if self._in_first_p:
            self.first_paragraph = (self.first_paragraph or "") + data


def parse(path: Path) -> Rows:
    parser = Rows()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def md_rows(text: str, first_cell: str) -> list[list[str]]:
    """Markdown table rows (cells stripped) of the table whose header starts with `first_cell`."""
    tables = re.split(r"\n\s*\n", text)
    table = next(t for t in tables if t.lstrip().startswith(f"| {first_cell} |"))
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in table.strip().splitlines()[2:]]


def test_the_html_is_self_contained_and_opens_with_the_verdict(
    rendered: output.Written, results: dict[str, Any]
) -> None:
    text = rendered.html.read_text(encoding="utf-8")
    page = parse(rendered.html)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text), "an external asset would need the network"
    assert "<link" not in text and "@import" not in text
    assert len(page.images) == 4 and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert page.first_paragraph is not None and page.first_paragraph.strip() == results["verdict"]["sentence"]
    assert page.first_paragraph.startswith("ship recommended: ")


def test_html_markdown_and_json_show_the_same_matrix(rendered: output.Written, results: dict[str, Any]) -> None:
    html_rows = {(r["data-config"], r["data-flow"]): r for r in parse(rendered.html).rows if "data-verdict" in r}
    markdown = rendered.markdown.read_text(encoding="utf-8")
    md = {(r[0], r[1]): r for r in md_rows(markdown, "config | flow | verdict")}
    saved = schema.load(rendered.json)
    assert saved == results
    assert len(html_rows) == len(md) == len(results["configs"]) * len(FLOWS)
    for config in results["configs"]:
        for flow in FLOWS:
            f = config["flows"][flow]
            numbers = [num(f[k]) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "max_gap_s")]
            h, m = html_rows[(config["name"], flow)], md[(config["name"], flow)]
            assert h["data-verdict"] == m[2] == f["verdict"]
            assert (h["data-expected"] or DASH) == m[3] == (f["expected"] or DASH)
            assert h["data-proxy-timeouts"] == m[5] == str(f["proxy_timeouts"])
            assert [h["data-p50"], h["data-p95"], h["data-p99"], h["data-max"], h["data-gap"]] == m[7:12] == numbers
    assert f"**{results['verdict']['sentence']}**" in markdown


def test_html_markdown_and_json_show_the_same_boundaries(rendered: output.Written, results: dict[str, Any]) -> None:
    html_rows = [r for r in parse(rendered.html).rows if "data-measured" in r]
    md = md_rows(rendered.markdown.read_text(encoding="utf-8"), "config | flow | measured")
    assert len(html_rows) == len(md) == len(results["boundaries"]) == 6
    for b, h, m in zip(results["boundaries"], html_rows, md, strict=True):
        assert (h["data-config"], h["data-flow"]) == (m[0], m[1]) == (b["config"], b["flow"])
        assert h["data-measured"] == m[2] == boundary_text(b)
        assert h["data-predicted"] == m[4] == predicted_text(b)
        assert m[6] == agrees_text(b) == ("yes" if b["agrees"] else m[6])


def test_latest_points_at_the_newest_report(tmp_path: Path) -> None:
    results = schema.build(run_id="r", kind="compare", title="nothing measured", time_scale=0.05)  # no plot to draw
    root = tmp_path / "reports"
    first = output.write(results, output.run_dir("demo", root=root), root=root)
    second = output.write(results, output.run_dir("demo", root=root), root=root)
    assert first.directory != second.directory
    assert (root / "latest").resolve() == second.directory.resolve()
    elsewhere = output.write(results, tmp_path / "elsewhere", root=root)
    assert elsewhere.html.is_file() and (root / "latest").resolve() == second.directory.resolve()


def test_percentiles_are_exact() -> None:
    values = [i / 1000 for i in range(1, 1001)]  # 1 ms .. 1000 ms
    got = latency.summary(values)
    assert got["n"] == 1000
    assert got["p50_ms"] == pytest.approx(500, rel=1e-3)
    assert got["p99_ms"] == pytest.approx(990, rel=1e-3)
    assert got["max_ms"] == pytest.approx(1000, rel=1e-3)
    assert latency.summary([]) == {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}


def test_the_verdict_ships_the_widest_safe_margin_and_names_what_is_broken(results: dict[str, Any]) -> None:
    configs = results["configs"]
    assert decide(configs, [])["ship"] == "recommended"
    broken = copy.deepcopy(configs)
    broken[0]["safe"] = False
    broken[0]["flows"]["poll"]["verdict"] = "fail"
    broken[0]["flows"]["poll"]["proxy_timeouts"] = 3
    verdict = decide(broken, [])
    assert verdict["ship"] == "nginx-defaults"
    assert "recommended (poll cut 3 times by the proxy)" in verdict["sentence"]
    for c in broken:
        c["safe"] = False
    assert decide(broken, [])["sentence"].startswith("ship none: ")
    assert decide([], results["boundaries"])["ship"] == "recommended"
    legacy_only = decide([], [b for b in results["boundaries"] if b["flow"] == "legacy"])
    assert legacy_only["ship"] is None and "the async flow was not measured" in legacy_only["sentence"]


def test_a_document_of_another_schema_is_refused(results: dict[str, Any], tmp_path: Path) -> None:
    from harness.core.errors import HarnessError

    with pytest.raises(HarnessError, match="schema"):
        output.write({**results, "schema": "other/0"}, tmp_path)
