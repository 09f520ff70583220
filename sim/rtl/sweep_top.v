// Exhaustive-sweep wrapper (testbench only): one approx_mult with bit-parallel lanes (see
// hdl/adders.v), so that one operand set presented by cocotb yields many products in one
// simulator evaluation instead of one Python round trip per product.
//
//   LEVEL_LANES = 1: LANES = 256 * BPV; lane (k*256 + l) computes a * b_k at level l
//                    (all 256 levels at once; the `level` input is ignored).
//   LEVEL_LANES = 0: LANES = BPV; lane k computes a * b_k at the level on input `level`.
// b_k is the k-th OPW-bit field of `b`. Operands are sign-extended into the WIDTH-bit array.
//
// p is bit-major: p[m*LANES + lane] is bit m of that lane's full 2*WIDTH-bit product, so
// every bit of the RTL output reaches the comparison with the model.
`timescale 1ns/1ps
`default_nettype none

module sweep_top #(
    parameter integer WIDTH       = 9,
    parameter integer BIAS_COMP   = 1,
    parameter integer OPW         = 8,   // operand width driven by the testbench (<= WIDTH)
    parameter integer BPV         = 1,   // activation values per evaluation
    parameter integer LEVEL_LANES = 1,
    parameter integer LANES       = (LEVEL_LANES != 0 ? 256 : 1) * BPV  // derived: do not override
) (
    input  wire [OPW-1:0]           a,
    input  wire [BPV*OPW-1:0]       b,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [7:0]               level,  // used only when LEVEL_LANES = 0
    /* verilator lint_on UNUSEDSIGNAL */
    output wire [2*WIDTH*LANES-1:0] p
);
    localparam integer GROUP = LANES / BPV;  // lanes per activation value
    wire [WIDTH*LANES-1:0] a_l, b_l;
    wire [8*LANES-1:0] level_l;

    // Lane buses are built from whole-word replications, never from per-bit drivers:
    // Icarus rebuilds the entire vector of a net on every partial driver update.
    genvar k, j;
    generate
        for (j = 0; j < WIDTH; j = j + 1) begin : g_bit
            localparam integer SRC = (j < OPW) ? j : OPW - 1;  // sign extension
            assign a_l[j*LANES +: LANES] = {LANES{a[SRC]}};
            for (k = 0; k < BPV; k = k + 1) begin : g_b
                assign b_l[j*LANES + k*GROUP +: GROUP] = {GROUP{b[k*OPW + SRC]}};
            end
        end
        for (j = 0; j < 8; j = j + 1) begin : g_lvl
            if (LEVEL_LANES != 0) begin : g_all_levels
                // bit j of the lane numbers 0..255: runs of 2^j zeros then 2^j ones
                localparam integer RUN = 1 << j;
                assign level_l[j*LANES +: LANES] = {(BPV * 128 / RUN){{RUN{1'b1}}, {RUN{1'b0}}}};
            end else begin : g_one_level
                assign level_l[j*LANES +: LANES] = {LANES{level[j]}};
            end
        end
    endgenerate

    approx_mult #(.WIDTH(WIDTH), .BIAS_COMP(BIAS_COMP), .LANES(LANES)) u_mult (
        .a(a_l), .b(b_l), .level(level_l), .p(p)
    );
endmodule

`default_nettype wire
