"""Does a candidate default model beat today's on every eval number? (issue 10's rule for replacing it)

    python trainer/recipes/beats_default.py CANDIDATE_EVAL [TODAY_EVAL]

Both are `stargan-rt eval` output folders (report.json of the face crops, frames/report.json of the whole frames);
TODAY_EVAL defaults to trainer/recipes/default_model_eval. Prints one Markdown row per number (every domain and
the mean, each metric with the direction that is better) and exits 0 only when the candidate is at least as good
on all of them, 1 otherwise, 2 when a report is missing or the two were not measured on the same thing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# metric -> +1 when larger is better, -1 when smaller is better
CROPS = {"accuracy": 1, "psnr": 1, "ssim": 1, "l1": -1, "preserved": 1, "cycle_l1": -1, "cycle_psnr": 1,
         "checkerboard": -1}
FRAMES = {"gain": 1, "spill": -1, "accuracy": 1}
TODAY = Path(__file__).parent / "default_model_eval"


def _rows(report: dict) -> dict[str, dict]:
    rows = {c["domain"]: c for c in report["columns"]}
    rows["mean"] = report["summary"]
    return rows


def compare(candidate: dict, today: dict, metrics: dict[str, int], phase: str) -> list[tuple[str, str, float, float, bool]]:
    """(phase, domain/metric, today, candidate, candidate at least as good) for every number both reports have."""
    for key in ("renderer_version", "people"):
        if candidate.get(key) != today.get(key):
            raise ValueError(f"{phase}: {key} differs ({today.get(key)} vs {candidate.get(key)}): not comparable")
    new, old = _rows(candidate), _rows(today)
    if set(new) != set(old):
        raise ValueError(f"{phase}: the domains differ ({sorted(old)} vs {sorted(new)})")
    out = []
    for domain in old:
        for metric, sign in metrics.items():
            a, b = float(old[domain][metric]), float(new[domain][metric])
            out.append((phase, f"{domain} {metric}", a, b, sign * (b - a) >= 0))
    return out


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    cand, today = Path(argv[0]), Path(argv[1]) if len(argv) > 1 else TODAY
    rows = []
    try:
        for phase, rel, metrics in (("crops", "report.json", CROPS), ("frames", "frames/report.json", FRAMES)):
            rows += compare(json.loads((cand / rel).read_text()), json.loads((today / rel).read_text()), metrics, phase)
    except (OSError, ValueError, KeyError) as e:
        print(f"beats_default: {e}", file=sys.stderr)
        return 2
    print("| phase | number | today | candidate | |\n|---|---|---|---|---|")
    for phase, name, a, b, ok in rows:
        print(f"| {phase} | {name} | {a:.4g} | {b:.4g} | {'ok' if ok else '**worse**'} |")
    worse = [f"{p} {n}" for p, n, *_, ok in rows if not ok]
    print(f"\n{len(rows) - len(worse)} of {len(rows)} numbers at least as good" + (f"; worse: {', '.join(worse)}" if worse else ""))
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
