"""The planted-defect matrix: each defect of the second implementation (tests/other_impl/defects.py) switched on
alone, the harness pointed at it as a user would (conformance, then the chaos workload under a few faults, every
history judged by the checker), and whether the defect was named.

    .venv/bin/python bench/defect_matrix.py [--defects a,b] [--time-scale 0.05] [--jobs 8]

Prints one row per defect: what caught it (failed conformance points, anomaly kinds of the checker, inconclusive
verdicts) and whether that is the class the defect belongs to. The clean variant (`none`) comes first: it must
show nothing, or every other row means nothing. Exit 1 when a defect was missed or the clean variant was flagged.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.other_impl.matrix import CASES, CONFORMANCE, EXPECTED, run_variant  # noqa: E402


def judge_variant(defect: str, scale: float, jobs: int, out: Path) -> tuple[set[str], list[str], float]:
    """(what flagged it, inconclusive reasons, seconds) for one variant: conformance, then every case."""
    started = time.monotonic()
    judged = run_variant(defect, (CONFORMANCE, *CASES), scale, out, jobs)
    flagged = {name for j in judged.values() for name in j.flagged}
    reasons = [f"{tool}: {why}" for tool, j in judged.items() for why in j.inconclusive]
    return flagged, reasons, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--defects", default=",".join(EXPECTED), help="comma list (default: all, clean first)")
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--jobs", type=int, default=16)
    args = parser.parse_args()
    defects = [d.strip() for d in args.defects.split(",") if d.strip()]
    unknown = [d for d in defects if d not in EXPECTED]
    if unknown:
        parser.error(f"unknown defect(s) {unknown}; known: {', '.join(EXPECTED)}")
    caught = missed = 0
    print(f"{'defect':28} {'caught':7} {'s':>6}  flagged by (expected: {' / '.join(CASES)} + conformance)")
    with TemporaryDirectory(prefix="defect-matrix-") as tmp:
        for defect in defects:
            flagged, reasons, seconds = judge_variant(defect, args.time_scale, args.jobs, Path(tmp))
            if defect == "none":
                ok = not flagged and not reasons
                mark = "clean" if ok else "FLAGGED"
            else:
                ok = bool(flagged & EXPECTED[defect])
                mark = "yes" if ok else "MISSED"
                caught, missed = caught + ok, missed + (not ok)
            shown = ", ".join(sorted(flagged)) or "-"
            print(f"{defect:28} {mark:7} {seconds:6.1f}  {shown}", flush=True)
            for why in reasons:
                print(f"{'':44}inconclusive: {why}")
            if defect == "none" and not ok:
                missed += 1
    print(f"caught {caught} of {caught + missed} planted defects")
    return 0 if missed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
