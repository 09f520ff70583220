// One partial-product bit of the reconfigurable signed multiplier, with the approximation
// masking. THIS is the cell a designer edits to change the masking scheme; the generated
// cores (mult_cores.v) place one instance per (row I, column J) of the matrix.
//
// Modified Baugh-Wooley, WIDTH x WIDTH two's-complement operands:
//   row I, column J (weight 2^(I+J)): a_J & b_I, inverted when exactly one of I, J is the
//   sign position WIDTH-1 (the constant 1s of the method are added in the core).
//
// Approximation: level bit c (c = 0..7) masks partial-product column c (weight 2^c).
// In a masked column every partial product is forced to 0, except the row-0 bit
// (a_c & b_0), which is forced to 1 when c >= 2 and BIAS_COMP = 1: that 1 compensates on
// average for the value removed from the column, so the error is less biased.
//
// LANES (default 1 = the hardware) bundles independent copies bit-parallel; see adders.v.
`timescale 1ns/1ps
`default_nettype none

module pp_bit #(
    parameter integer I         = 0,   // row: multiplier (activation) bit b_I
    parameter integer J         = 0,   // column within the row: multiplicand (weight) bit a_J
    parameter integer WIDTH     = 9,
    parameter integer BIAS_COMP = 1,
    parameter integer LANES     = 1
) (
    input  wire [LANES-1:0]   a_j,
    input  wire [LANES-1:0]   b_i,
    // Lint waiver: each cell reads only its own column's level bit (or none above column 7).
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [8*LANES-1:0] level,   // bit c of every lane: level[c*LANES +: LANES]
    /* verilator lint_on UNUSEDSIGNAL */
    output wire [LANES-1:0]   pp
);
    localparam integer COL = I + J;
    wire [LANES-1:0] and_ij = a_j & b_i;
    // Baugh-Wooley: invert the bits that carry exactly one sign bit.
    wire [LANES-1:0] raw = ((I == WIDTH-1) != (J == WIDTH-1)) ? ~and_ij : and_ij;
`ifdef AXX_MUTANT_DROP_PP
    // Verification hook (tests only): a broken design that loses the partial product of
    // row 1, column 3. Co-verification must catch it.
    wire [LANES-1:0] bit_in = (I == 1 && J == 3) ? {LANES{1'b0}} : raw;
`else
    wire [LANES-1:0] bit_in = raw;
`endif
    generate
        if (COL < 8) begin : g_maskable
            // Column COL is masked where its level bit is set: the bit becomes FORCE.
            localparam [0:0] FORCE = (I == 0 && COL >= 2 && BIAS_COMP != 0) ? 1'b1 : 1'b0;
            wire [LANES-1:0] masked = level[COL*LANES +: LANES];
            assign pp = (masked & {LANES{FORCE}}) | (~masked & bit_in);
        end else begin : g_fixed
            // Columns 8 and up are never approximated.
            assign pp = bit_in;
        end
    endgenerate
endmodule

`default_nettype wire
