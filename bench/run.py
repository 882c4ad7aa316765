"""Run every benchmark in this folder and print one table of figures.

Each ``bench_*.py`` module exposes ``run(quick: bool) -> list[tuple[str, str, str]]``
(figure, value, target). ``python bench/run.py [--quick] [name ...]``.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    wanted = [a for a in argv if not a.startswith("--")]
    rows: list[tuple[str, str, str, str]] = []
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        t0 = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        for figure, value, target in module.run(quick):
            rows.append((name, figure, value, target))
        print(f"  {name} took {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    widths = [
        max(len(r[i]) for r in [*rows, ("bench", "figure", "value", "target")]) for i in range(4)
    ]
    line = " | ".join
    header = ("bench", "figure", "value", "target")
    print(line(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(line(c.ljust(w) for c, w in zip(row, widths, strict=False)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
