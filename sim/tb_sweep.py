"""cocotb sweep testbench: drive operand pairs into sweep_top and record every lane's product.

Python does one round trip per operand set (256 * BPV products) and stores the raw bus
bytes; decoding to integers happens once, vectorised, at the end. Settings come from the
environment (set by sim.sweep): AXX_A0/AXX_A1 (weight patterns to cover), AXX_OPW,
AXX_WIDTH, AXX_BPV, AXX_LEVEL_LANES, AXX_LEVELS (levels when not in lanes), AXX_OUT.
"""
from __future__ import annotations

import os

import numpy as np

import cocotb
from cocotb.triggers import Timer


def decode(raw: bytes, n_vectors: int, lanes: int, out_bits: int) -> np.ndarray:
    """Raw little-endian bus images -> signed products int64 [n_vectors, lanes]."""
    nbytes = out_bits * lanes // 8
    buf = np.frombuffer(raw, dtype=np.uint8).reshape(n_vectors, nbytes)
    out = np.empty((n_vectors, lanes), dtype=np.int64)
    weights = (1 << np.arange(out_bits, dtype=np.int64))[None, :, None]
    for s in range(0, n_vectors, 1024):
        bits = np.unpackbits(buf[s:s + 1024], axis=1, bitorder="little").reshape(-1, out_bits, lanes)
        val = (bits.astype(np.int64) * weights).sum(axis=1)
        out[s:s + 1024] = np.where(val >= 1 << (out_bits - 1), val - (1 << out_bits), val)
    return out


@cocotb.test()
async def sweep(dut) -> None:
    e = os.environ
    a0, a1 = int(e["AXX_A0"]), int(e["AXX_A1"])
    opw, width, bpv = int(e["AXX_OPW"]), int(e["AXX_WIDTH"]), int(e["AXX_BPV"])
    level_lanes = e["AXX_LEVEL_LANES"] == "1"
    levels = [0] if level_lanes else [int(x) for x in e["AXX_LEVELS"].split(",")]
    n_b = 1 << opw
    lanes = (256 if level_lanes else 1) * bpv
    out_bits = 2 * width
    nbytes = out_bits * lanes // 8
    a_h, b_h, p_h, lvl_h = dut.a, dut.b, dut.p, dut.level
    chunks: list[bytes] = []
    for level in levels:
        lvl_h.value = level
        for a in range(a0, a1):
            a_h.value = a
            for b in range(0, n_b, bpv):
                # lane group k carries activation pattern b + k
                b_h.value = sum((b + k) << (k * opw) for k in range(bpv))
                await Timer(1, unit="ns")
                chunks.append(p_h.value.to_unsigned().to_bytes(nbytes, "little"))
    n_vec = len(chunks)
    vals = decode(b"".join(chunks), n_vec, lanes, out_bits)
    if level_lanes:
        # vector (a, b-group) x lane (k, level) -> [level, a, b]
        vals = vals.reshape(a1 - a0, n_b // bpv, bpv, 256).transpose(3, 0, 1, 2).reshape(256, a1 - a0, n_b)
    else:
        # vector (level, a, b-group) x lane k -> [level, a, b]
        vals = vals.reshape(len(levels), a1 - a0, n_b)
    tmp = e["AXX_OUT"] + ".tmp.npy"
    np.save(tmp, vals)
    os.replace(tmp, e["AXX_OUT"])
