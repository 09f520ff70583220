#!/usr/bin/env python3
"""Emit hdl/mult_cores.v: the datapath of the multiplier, one module per operand width.

Each `mult_core_w<W>` is written out cell by cell: one pp_bit (the hand-written masking
cell, pp_bit.v) per partial product, then the Dadda reduction tree, one labelled block
per stage with every full/half adder named after its stage and column, then the ripple
carry-propagate adder. A Dadda tree is fixed by the column heights, so spelling it out
lets a designer read which adder consumes which (possibly masked) partial product.

Every signal is its own net (no wide shared buses inside): event-driven simulators such
as Icarus rebuild a whole vector whenever one part-driver of it changes, which made a
bus-based version of this design two orders of magnitude slower to simulate.

Re-run after changing the matrix shape (the masking itself lives in pp_bit.v):

    python hdl/gen_cores.py > hdl/mult_cores.v

tests/test_hdl_sources.py fails when the committed file differs from this output.
"""
from __future__ import annotations

import sys

WIDTHS = (8, 9, 10, 11, 12)
L = "[LANES-1:0]"


def dadda_targets(max_height: int) -> list[int]:
    seq = [2]
    while seq[-1] < max_height:
        seq.append(seq[-1] * 3 // 2)
    return [d for d in reversed(seq) if d < max_height]


def core_module(w: int) -> str:
    ncol = 2 * w
    body: list[str] = []
    decl: list[str] = []

    body.append("    // ---- operand bits ----")
    for j in range(w):
        body.append(f"    wire {L} a{j} = a[{j}*LANES +: LANES];")
    for i in range(w):
        body.append(f"    wire {L} b{i} = b[{i}*LANES +: LANES];")

    body.append("\n    // ---- partial products (modified Baugh-Wooley, masked per level: pp_bit.v) ----")
    cols: list[list[str]] = [[] for _ in range(ncol)]
    for i in range(w):
        for j in range(w):
            n = f"pp_r{i}_c{j}"
            decl.append(f"    wire {L} {n};  // row {i}, column {j}: weight 2^{i + j}")
            body.append(
                f"    pp_bit #(.I({i}), .J({j}), .WIDTH({w}), .BIAS_COMP(BIAS_COMP), .LANES(LANES)) "
                f"u_{n} (.a_j(a{j}), .b_i(b{i}), .level(level), .pp({n}));"
            )
            cols[i + j].append(n)
    cols[w].append("one")
    cols[2 * w - 1].append("one")
    height0 = max(len(c) for c in cols)
    targets = dadda_targets(height0)
    body.append(f"    // column heights (LSB first), constant 1s included: {[len(c) for c in cols]}")

    n_fa = n_ha = 0
    for stage, d in enumerate(targets, start=1):
        body.append(f"\n    // ---- Dadda stage {stage}: every column down to at most {d} bits ----")
        new_cols: list[list[str]] = [[] for _ in range(ncol + 1)]
        for c in range(ncol):
            bits = cols[c]
            h = len(bits) + len(new_cols[c])  # carries already sent up by column c-1
            used = k = 0
            while h > d:
                s, co = f"s{stage}_c{c}_{k}", f"k{stage}_c{c}_{k}"
                decl.append(f"    wire {L} {s}, {co};")
                if h - d >= 2 and len(bits) - used >= 3:
                    x, y, z = bits[used:used + 3]
                    used += 3
                    body.append(f"    full_adder #(.LANES(LANES)) fa_s{stage}_c{c}_{k} (.x({x}), .y({y}), .z({z}), .s({s}), .c({co}));")
                    n_fa += 1
                    h -= 2
                else:
                    x, y = bits[used:used + 2]
                    used += 2
                    body.append(f"    half_adder #(.LANES(LANES)) ha_s{stage}_c{c}_{k} (.x({x}), .y({y}), .s({s}), .c({co}));")
                    n_ha += 1
                    h -= 1
                new_cols[c].append(s)
                new_cols[c + 1].append(co)
                k += 1
            new_cols[c].extend(bits[used:])
        cols = new_cols[:ncol]  # a carry out of the top column has weight 2^(2W): dropped
        body.append(f"    // heights after stage {stage}: {[len(c) for c in cols]}")
    assert max(len(c) for c in cols) <= 2

    body.append("\n    // ---- carry-propagate adder: ripple over the two remaining rows ----")
    carry = None
    for c in range(ncol):
        bits = list(cols[c]) + ([carry] if carry else [])
        s, co = f"sum{c}", f"cy{c}"
        decl.append(f"    wire {L} {s}, {co};")
        if len(bits) == 1:
            body.append(f"    assign {s} = {bits[0]};  assign {co} = zero;")
        elif len(bits) == 2:
            body.append(f"    half_adder #(.LANES(LANES)) cpa_{c} (.x({bits[0]}), .y({bits[1]}), .s({s}), .c({co}));")
            n_ha += 1
        else:
            body.append(f"    full_adder #(.LANES(LANES)) cpa_{c} (.x({bits[0]}), .y({bits[1]}), .z({bits[2]}), .s({s}), .c({co}));")
            n_fa += 1
        carry = co
        body.append(f"    assign sum[{c}*LANES +: LANES] = {s};")
    body.append(f"    // cy{ncol - 1} has weight 2^{ncol}: outside the product, intentionally unused.")

    head = [
        f"// {w}x{w} datapath: {w * w} partial products, Dadda stages with targets {targets},",
        f"// {n_fa} full adders and {n_ha} half adders in all (tree + carry-propagate adder).",
        f"module mult_core_w{w} #(",
        "    parameter integer BIAS_COMP = 1,",
        "    parameter integer LANES     = 1",
        ") (",
        f"    input  wire [{w}*LANES-1:0]  a,      // bit j of every lane: a[j*LANES +: LANES]",
        f"    input  wire [{w}*LANES-1:0]  b,",
        "    input  wire [8*LANES-1:0]  level,",
        f"    output wire [{ncol}*LANES-1:0] sum     // the product mod 2^{ncol}, before zero gating",
        ");",
        f"    wire {L} one = {{LANES{{1'b1}}}};   // modified Baugh-Wooley constant 1s (columns {w} and {2 * w - 1})",
        f"    wire {L} zero = {{LANES{{1'b0}}}};",
        "    /* verilator lint_off UNUSEDSIGNAL */",
        f"    wire {L} unused_top_carry = cy{ncol - 1};",
        "    /* verilator lint_on UNUSEDSIGNAL */",
    ]
    return "\n".join(head + decl + body + ["endmodule\n"])


def main() -> None:
    sys.stdout.write(
        "// GENERATED by hdl/gen_cores.py -- do not edit by hand; edit the generator and re-run it.\n"
        "// Multiplier datapaths (partial products, explicit Dadda tree, carry-propagate adder),\n"
        "// one module per supported operand width. The masking scheme is in pp_bit.v.\n"
        "`timescale 1ns/1ps\n"
        "`default_nettype none\n"
        "// Lint waiver: one module per width in one file on purpose (DECLFILENAME wants one per file).\n"
        "/* verilator lint_off DECLFILENAME */\n\n"
    )
    for w in WIDTHS:
        sys.stdout.write(core_module(w) + "\n")
    sys.stdout.write("`default_nettype wire\n")


if __name__ == "__main__":
    main()
