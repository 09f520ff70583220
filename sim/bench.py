"""Benchmark: full sweep (256 levels x 65,536 operand pairs) + bit-exact verification per simulator.

    python -m sim.bench [--scheme marlin] [--sims verilator,icarus] [--repeat 3] [--json FILE]

Prints the median of the repeats (the machines are noisy) and the throughput in products/s.
Build time is reported separately (cached after the first run).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

from lut_build import all_tables, compare, get_scheme

from .sweep import sweep


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--scheme", default="marlin")
    ap.add_argument("--sims", default="verilator,icarus")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="write the figures to this JSON file")
    args = ap.parse_args(argv)
    model = all_tables(get_scheme(args.scheme).model)
    results = {}
    for sim in args.sims.split(","):
        runs = []
        for _ in range(args.repeat):
            r = sweep(args.scheme, sim)
            t = time.perf_counter()
            rep = compare(r.tables, model)
            v = time.perf_counter() - t
            if not rep.ok:
                print(rep.text())
                return 1
            runs.append((r.sweep_s, v, r.build_s))
        med = statistics.median(s + v for s, v, _ in runs)
        results[sim] = {"method": r.method, "sweep_plus_verify_s_median": round(med, 3),
                        "runs": [{"sweep_s": round(s, 3), "verify_s": round(v, 3), "build_s": round(b, 2)} for s, v, b in runs],
                        "products_per_s": round(16_777_216 / med)}
        print(f"{sim:>9}: sweep + verification of 16,777,216 products: median {med:.2f} s over {args.repeat} "
              f"({results[sim]['products_per_s']:,} products/s, method {r.method})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"scheme": args.scheme, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
