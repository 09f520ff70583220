"""`make bench-cost`: the cost model's time for one scheme (synthesis, LUT check, 256 levels x
100,000 vectors of switching activity, 256 fixed-level areas), and the bit-parallel switching count
against a baseline measured in the same run: the same netlist on numpy booleans, one vector per byte."""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np

from fileio import cpu_id

from . import cost
from .model import all_tables
from .netlist import Netlist, synthesize
from .schemes import get_scheme


def _bool_toggles(net: Netlist, scheme: str, levels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """The baseline: every net as a bool array [levels, vectors]."""
    sch = get_scheme(scheme)
    rng = np.random.default_rng(seed)
    a, b = rng.integers(-128, 128, n), rng.integers(-128, 128, n)
    val = {"0": np.zeros((1, 1), bool), "1": np.ones((1, 1), bool)}
    for name, x in (("a", a), ("b", b)):
        for j, k in enumerate(net.inputs[name][:sch.width]):
            val[k] = (((x >> j) & 1).astype(bool))[None, :]
    for j, k in enumerate(net.inputs["level"]):
        val[k] = (((levels >> j) & 1).astype(bool))[:, None]
    f = {"AND": lambda x, y: x & y, "NAND": lambda x, y: ~(x & y), "OR": lambda x, y: x | y,
         "NOR": lambda x, y: ~(x | y), "XOR": lambda x, y: x ^ y, "XNOR": lambda x, y: ~(x ^ y),
         "ANDNOT": lambda x, y: x & ~y, "ORNOT": lambda x, y: x | ~y}
    tog = np.zeros(len(levels), np.int64)
    for g in net.gates:
        x = [val[i] for i in g.ins]
        y = (x[0] & ~x[2]) | (x[1] & x[2]) if g.kind == "MUX" else ~x[0] if g.kind == "NOT" else \
            x[0] if g.kind == "BUF" else f[g.kind](*x)
        val[g.out] = y
        if y.shape[-1] > 1:
            tog += (y[:, 1:] != y[:, :-1]).sum(axis=1) * net.fanout.get(g.out, 0)
    return tog


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scheme", default="marlin")
    ap.add_argument("--vectors", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    tables = all_tables(get_scheme(args.scheme).model)
    print(f"bench-cost: {args.scheme}, 256 levels x {args.vectors:,} random vectors; {cpu_id()}")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        net = Netlist.from_yosys(synthesize(args.scheme, cache=tmp))
        synth = time.perf_counter() - t
    t = time.perf_counter()
    cost.check_against_lut(net, args.scheme, tables)
    check = time.perf_counter() - t
    sw = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        cost.toggles(net, args.scheme, args.vectors)
        sw.append(time.perf_counter() - t)
    t = time.perf_counter()
    for lv in range(256):
        cost.area(net, lv)
    ar = time.perf_counter() - t
    few = np.arange(0, 256, 32)
    t = time.perf_counter()
    _bool_toggles(net, args.scheme, few, args.vectors)
    base = (time.perf_counter() - t) * 256 / len(few)
    med = statistics.median(sw)
    print(f"  synthesis (Yosys, uncached)    {synth:7.2f} s")
    print(f"  netlist = tables check         {check:7.2f} s")
    print(f"  switching, bit-parallel        {med:7.2f} s (median of {args.repeats})")
    print(f"  switching, booleans (baseline) {base:7.2f} s (8 levels timed, x32)   ratio {base / med:.1f}x")
    print(f"  area of 256 fixed-level designs{ar:7.2f} s")
    print(f"  total                          {synth + check + med + ar:7.2f} s (goal: under 60 s on 2 cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
