"""A gate-level cost model of any scheme, per approximation level.

- Power proxy of the reconfigurable design (the level is an input, as in MARLIN's measurement):
  the switching activity of every net over N random operand pairs (MARLIN used 100,000 random
  vectors), each toggle weighted by the net's fan-out (the capacitance it drives).
- Area proxy of a fixed-level design (the level tied to a constant): constants propagated, dead
  logic removed, then the cells counted and weighted by the transistors of a static-CMOS cell.

The simulated netlist is first checked against the scheme's LUT (every operand pair of a few
levels, random pairs of all the others), so the model describes the same circuit as the tables.
"""
from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

from fileio import atomic_path

from .netlist import ONES, Gate, Netlist, pack_bits, synthesize, unpack_signed
from .schemes import get_scheme

N_LEVELS = 256
# transistors of the static-CMOS cell (a NAND2 is 4): the weights of the area proxy
TRANSISTORS = {"NOT": 2, "BUF": 4, "NAND": 4, "NOR": 4, "AND": 6, "OR": 6, "ANDNOT": 6, "ORNOT": 6,
               "XOR": 12, "XNOR": 12, "MUX": 12}
FULL_CHECK_LEVELS = (0, 1, 2, 3, 15, 85, 128, 170, 254, 255)


class NetlistMismatch(RuntimeError):
    """The synthesized netlist computes other products than the scheme's tables."""


def _operands(sch, a: np.ndarray, b: np.ndarray) -> dict:
    """8-bit signed operands sign-extended into the scheme's array width (as the CNN drives it)."""
    return {"a": pack_bits(a, sch.width), "b": pack_bits(b, sch.width)}


def _inputs(net: Netlist, ops: dict, levels: np.ndarray) -> dict:
    vals = {}
    for name in ("a", "b"):
        for j, n in enumerate(net.inputs[name]):
            vals[n] = ops[name][j][None, :]
    for j, n in enumerate(net.inputs["level"]):
        vals[n] = np.where(((levels >> j) & 1).astype(bool), ONES, np.uint64(0)).astype(np.uint64)[:, None]
    return vals


def check_against_lut(net: Netlist, scheme: str, tables: np.ndarray, random_pairs: int = 4096,
                      seed: int = 0) -> None:
    """Every operand pair at FULL_CHECK_LEVELS, `random_pairs` random pairs at every level."""
    sch = get_scheme(scheme)
    w, a = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij")
    w, a = w.ravel(), a.ravel()
    checks = [(np.array(FULL_CHECK_LEVELS), w, a)]
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 65536, random_pairs // 64 * 64)
    checks.append((np.arange(N_LEVELS), w[k], a[k]))
    for levels, ws, acts in checks:
        for lo in range(0, len(levels), 32):
            lv = levels[lo:lo + 32]
            out = net.simulate(_inputs(net, _operands(sch, ws, acts), lv))
            got = unpack_signed([np.broadcast_to(out[n], (len(lv), len(ws) // 64)) for n in net.outputs["p"]])
            want = tables[lv][:, ws.astype(np.uint8), acts.astype(np.uint8)].astype(np.int64)
            bad = np.argwhere(got != want)
            if len(bad):
                i, t = bad[0]
                raise NetlistMismatch(f"the synthesized netlist of {scheme!r} disagrees with its tables: level "
                                      f"{lv[i]}, weight {ws[t]}, activation {acts[t]}: netlist {got[i, t]}, "
                                      f"table {want[i, t]} ({len(bad)} differences in this batch)")


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x).astype(np.int64)


def toggles(net: Netlist, scheme: str, n_vectors: int = 100_000, seed: int = 0, chunk: int = 64,
            progress=None) -> tuple[np.ndarray, np.ndarray]:
    """(toggles, fan-out-weighted toggles) per level, over the same `n_vectors` random operand pairs
    at every level; vectors beyond n_vectors (up to a multiple of 64) repeat the last one (no toggle)."""
    sch = get_scheme(scheme)
    rng = np.random.default_rng(seed)
    n = -(-n_vectors // 64) * 64
    a = rng.integers(-128, 128, n_vectors)
    b = rng.integers(-128, 128, n_vectors)
    a = np.concatenate([a, np.full(n - n_vectors, a[-1])])
    b = np.concatenate([b, np.full(n - n_vectors, b[-1])])
    ops = _operands(sch, a, b)
    low63 = np.uint64(0x7FFF_FFFF_FFFF_FFFF)
    raw = np.zeros(N_LEVELS, dtype=np.int64)
    weighted = np.zeros(N_LEVELS, dtype=np.int64)
    for lo in range(0, N_LEVELS, chunk):
        lv = np.arange(lo, min(lo + chunk, N_LEVELS))

        def count(node, v, lv=lv):
            # a net of the operands only has shape [1, W]: its count holds for every level of the chunk
            if v.shape[1] == 1:  # constant across vectors (a level bit): never toggles
                return
            inside = _popcount((v ^ (v >> np.uint64(1))) & low63).sum(axis=1)
            across = ((v[:, :-1] >> np.uint64(63)) ^ (v[:, 1:] & np.uint64(1))).astype(np.int64).sum(axis=1)
            t = inside + across
            raw[lv] += t
            weighted[lv] += t * net.fanout.get(node, 0)

        net.simulate(_inputs(net, ops, lv), on_net=count)
        if progress:
            progress(len(lv))
    return raw, weighted


def area(net: Netlist, level: int) -> tuple[int, int]:
    """(cells, transistors) of the design with the level tied to `level` (fixed_level)."""
    fixed = fixed_level(net, level)
    return len(fixed.gates), sum(TRANSISTORS[g.kind] for g in fixed.gates)


def _eval_const(kind: str, c: list[int]) -> int:
    if kind == "NOT":
        return 1 - c[0]
    if kind == "BUF":
        return c[0]
    if kind == "MUX":
        return c[1] if c[2] else c[0]
    a, b = c
    return {"AND": a & b, "NAND": 1 - (a & b), "OR": a | b, "NOR": 1 - (a | b), "XOR": a ^ b, "XNOR": 1 - (a ^ b),
            "ANDNOT": a & (1 - b), "ORNOT": a | (1 - b)}[kind]


def fixed_level(net: Netlist, level: int) -> Netlist:
    """The netlist with the level tied to `level`: constants propagated, single-input leftovers as
    inverters or wires, logic that reaches no output removed. Its ports: a, b and p."""
    const: dict = {"0": 0, "1": 1}
    for j, n in enumerate(net.inputs["level"]):
        const[n] = (level >> j) & 1
    alias: dict = {}
    kept: list = []

    def res(x):
        while x in alias:
            x = alias[x]
        return x

    for g in net.gates:
        ins = [res(i) for i in g.ins]
        c = [const.get(i) for i in ins]
        k = g.kind
        y = g.out
        if all(v is not None for v in c):
            const[y] = _eval_const(k, c)
            continue
        if k == "MUX" and c[2] is not None:
            src = ins[1] if c[2] else ins[0]
            if src in const:
                const[y] = const[src]
            else:
                alias[y] = src
            continue
        if k in ("AND", "NAND", "OR", "NOR", "XOR", "XNOR", "ANDNOT", "ORNOT") and any(v is not None for v in c):
            i = 0 if c[0] is not None else 1
            v, other = c[i], ins[1 - i]
            # what the gate becomes with one input constant: ("const", value) / ("wire",) / ("not",)
            table = {
                "AND": ("const", 0) if v == 0 else ("wire",), "NAND": ("const", 1) if v == 0 else ("not",),
                "OR": ("const", 1) if v == 1 else ("wire",), "NOR": ("const", 0) if v == 1 else ("not",),
                "XOR": ("not",) if v == 1 else ("wire",), "XNOR": ("wire",) if v == 1 else ("not",),
                # A & ~B / A | ~B: which input is constant matters
                "ANDNOT": (("const", 0) if v == 0 else ("not",)) if i == 0 else (("const", 0) if v == 1 else ("wire",)),
                "ORNOT": (("const", 1) if v == 1 else ("not",)) if i == 0 else (("const", 1) if v == 0 else ("wire",)),
            }[k]
            if table[0] == "const":
                const[y] = table[1]
            elif table[0] == "wire":
                alias[y] = other
            else:
                kept.append(("NOT", (other,), y))
            continue
        kept.append((k, tuple(ins), y))
    # dead logic: keep what an output depends on
    live = {res(b) for bits in net.outputs.values() for b in bits}
    used = []
    for k, ins, y in reversed(kept):
        if y in live:
            used.append(Gate(k, tuple(str(const[i]) if i in const else i for i in map(res, ins)), y))
            live |= {res(i) for i in ins}
    # outputs that became constants or wires: buffers from the constant or the source (no cell counted)
    outputs = {}
    for name, bits in net.outputs.items():
        outputs[name] = []
        for b in bits:
            r = res(b)
            outputs[name].append(str(const[r]) if r in const else r)
    inputs = {k: v for k, v in net.inputs.items() if k != "level"}
    return Netlist(inputs, outputs, list(reversed(used)))


def cost_table(scheme: str, tables: np.ndarray, n_vectors: int = 100_000, seed: int = 0,
               progress: bool = True, defines: dict | None = None) -> tuple[list[dict], dict]:
    """Per level: toggles, power proxy (fan-out-weighted toggles per vector), cells, area proxy
    (transistors); and a summary (netlist size, timing)."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    net = Netlist.from_yosys(synthesize(scheme, defines))
    t1 = time.perf_counter()
    check_against_lut(net, scheme, tables, seed=seed)
    t2 = time.perf_counter()
    with tqdm(total=N_LEVELS, desc=f"{scheme}: switching activity", unit="level",
              disable=None if progress else True) as bar:
        raw, weighted = toggles(net, scheme, n_vectors, seed, progress=bar.update)
    t3 = time.perf_counter()
    rows = []
    for lv in range(N_LEVELS):
        cells, tr = area(net, lv)
        rows.append({"level": lv, "toggles": int(raw[lv]), "power_proxy": weighted[lv] / n_vectors,
                     "cells": cells, "area_proxy": tr})
    t4 = time.perf_counter()
    summary = {"scheme": scheme, "vectors": n_vectors, "seed": seed, "netlist_cells": net.cells(),
               "seconds": {"synthesis": round(t1 - t0, 2), "lut_check": round(t2 - t1, 2),
                           "switching": round(t3 - t2, 2), "area": round(t4 - t3, 2)}}
    return rows, summary


def write_cost(rows: list[dict], path: Path | str, png: Path | str | None = None, title: str = "") -> None:
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["level", "toggles", "power_proxy", "cells", "area_proxy"])
        w.writeheader()
        for r in rows:
            w.writerow({**r, "power_proxy": f"{r['power_proxy']:.4f}"})
    if png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        lv = [r["level"] for r in rows]
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
        ax[0].plot(lv, [r["power_proxy"] for r in rows], lw=1)
        ax[0].set_ylabel("power proxy (fan-out x toggles / vector)")
        ax[1].plot(lv, [r["area_proxy"] for r in rows], lw=1, color="#dd8452")
        ax[1].set_ylabel("area proxy (transistors, fixed level)")
        for a in ax:
            a.set_xlabel("approximation level")
            a.grid(alpha=0.3)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        with atomic_path(png) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)


__all__ = ["FULL_CHECK_LEVELS", "NetlistMismatch", "TRANSISTORS", "area", "fixed_level", "check_against_lut", "cost_table", "toggles",
           "write_cost"]
