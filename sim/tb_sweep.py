"""cocotb sweep testbenches: every operand pair x level through the RTL, few Python round trips.

Two drivers, one per wrapper in sim/rtl/ (see sim/sweep.py for which simulator uses which):
  sweep_lanes      -> sweep_top: bit-parallel lanes, 256 * BPV products per evaluation.
  sweep_sequential -> sweep_seq: the HDL loops over BPV activations x the levels (Gray order).
Python stores the raw bus images; decoding to integers happens once, vectorised, at the end.
Settings come from the environment (set by sim.sweep): AXX_A0/AXX_A1 (weight patterns to
cover), AXX_OPW, AXX_WIDTH, AXX_BPV, AXX_LEVELS (comma list), AXX_OUT (.npy written atomically,
int64 [len(levels), A1-A0, 2^OPW] indexed [level, weight, activation]).
"""
from __future__ import annotations

import os

import numpy as np

import cocotb
from cocotb.triggers import Timer


def _settings() -> dict:
    e = os.environ
    return dict(a0=int(e["AXX_A0"]), a1=int(e["AXX_A1"]), opw=int(e["AXX_OPW"]), width=int(e["AXX_WIDTH"]),
                bpv=int(e["AXX_BPV"]), levels=[int(x) for x in e["AXX_LEVELS"].split(",")], out=e["AXX_OUT"])


def _unpack(raw: bytes, n_vectors: int, n_bits: int) -> np.ndarray:
    """Little-endian bus images -> bits uint8 [n_vectors, n_bits]."""
    buf = np.frombuffer(raw, dtype=np.uint8).reshape(n_vectors, n_bits // 8)
    return np.unpackbits(buf, axis=1, bitorder="little")


def _signed(bits: np.ndarray, axis: int) -> np.ndarray:
    """Two's-complement value of a bit axis (LSB first)."""
    n = bits.shape[axis]
    shape = [1] * bits.ndim
    shape[axis] = n
    w = (1 << np.arange(n, dtype=np.int64)).reshape(shape)
    val = (bits.astype(np.int64) * w).sum(axis=axis)
    return np.where(val >= 1 << (n - 1), val - (1 << n), val)


def _progress(done: int) -> None:
    """Tell the parent (sim.sweep) how many weight rows are done: it drives a progress bar."""
    path = os.environ.get("AXX_PROGRESS")
    if path:
        with open(path + ".tmp", "w") as f:
            f.write(str(done))
        os.replace(path + ".tmp", path)


def _save(vals: np.ndarray, path: str) -> None:
    tmp = path + ".tmp.npy"
    np.save(tmp, vals)
    os.replace(tmp, path)


@cocotb.test()
async def sweep_lanes(dut) -> None:
    s = _settings()
    opw, bpv, nb = s["opw"], s["bpv"], 1 << s["opw"]
    lanes, out_bits = 256 * bpv, 2 * s["width"]
    nbytes = out_bits * lanes // 8
    a_h, b_h, p_h = dut.a, dut.b, dut.p
    chunks: list[bytes] = []
    for a in range(s["a0"], s["a1"]):
        a_h.value = a
        for b in range(0, nb, bpv):
            b_h.value = sum((b + k) << (k * opw) for k in range(bpv))  # lane group k: activation b + k
            await Timer(1, unit="ns")
            chunks.append(p_h.value.to_unsigned().to_bytes(nbytes, "little"))
        _progress(a - s["a0"] + 1)
    n_a = s["a1"] - s["a0"]
    vals = np.empty((256, n_a, nb), dtype=np.int64)
    per_a = nb // bpv
    raw = b"".join(chunks)
    for i in range(n_a):  # bit-major bus: bit m of lane (k*256 + level) at m*LANES + lane
        bits = _unpack(raw[i * per_a * nbytes:(i + 1) * per_a * nbytes], per_a, out_bits * lanes)
        v = _signed(bits.reshape(per_a, out_bits, bpv, 256), axis=1)  # [b-group, k, level]
        vals[:, i, :] = v.reshape(nb, 256).T
    _save(vals, s["out"])  # all 256 levels ride in the lanes


@cocotb.test()
async def sweep_sequential(dut) -> None:
    s = _settings()
    opw, bpv, nb = s["opw"], s["bpv"], 1 << s["opw"]
    levels = s["levels"]
    nlev, out_bits = len(levels), 2 * s["width"]
    # Gray order: consecutive levels differ in one bit (see sweep_seq.v); undone below.
    order = sorted(range(nlev), key=lambda i: _gray_rank(levels[i]))
    dut.levels.value = sum(levels[i] << (8 * j) for j, i in enumerate(order))
    nbytes = bpv * nlev * out_bits // 8
    go = 0
    chunks: list[bytes] = []
    for a in range(s["a0"], s["a1"]):
        dut.a.value = a
        for b in range(0, nb, bpv):
            dut.b.value = sum((b + k) << (k * opw) for k in range(bpv))
            go ^= 1
            dut.go.value = go
            await Timer(bpv * nlev + 1, unit="ns")
            chunks.append(dut.p_all.value.to_unsigned().to_bytes(nbytes, "little"))
        _progress(a - s["a0"] + 1)
    n_a = s["a1"] - s["a0"]
    bits = _unpack(b"".join(chunks), len(chunks), nbytes * 8)
    v = _signed(bits.reshape(n_a, nb // bpv, bpv, nlev, out_bits), axis=4)  # [a, b-group, k, slot]
    v = v.reshape(n_a, nb, nlev)
    vals = np.empty((nlev, n_a, nb), dtype=np.int64)
    vals[order] = v.transpose(2, 0, 1)
    _save(vals, s["out"])


def _gray_rank(level: int) -> int:
    """Position of `level` in the 8-bit reflected Gray sequence (inverse Gray code)."""
    r = level
    shift = 1
    while shift < 8:
        r ^= r >> shift
        shift <<= 1
    return r
