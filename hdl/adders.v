// Full and half adders: the only cells of the reduction tree and of the final adder.
//
// LANES (default 1) makes every net a bundle of independent copies of the cell ("lanes").
// All logic is bitwise, so lane k of the outputs depends only on lane k of the inputs:
// LANES = 1 is the hardware; LANES > 1 lets a simulator evaluate many multiplications per
// event (bit-parallel simulation), which is what makes the exhaustive sweep fast on Icarus.
`timescale 1ns/1ps
`default_nettype none
// Lint waiver: the two cells share one file on purpose (DECLFILENAME wants one module per file).
/* verilator lint_off DECLFILENAME */

module full_adder #(
    parameter integer LANES = 1
) (
    input  wire [LANES-1:0] x, y, z,
    output wire [LANES-1:0] s, c
);
    assign s = x ^ y ^ z;
    assign c = (x & y) | (x & z) | (y & z);
endmodule

module half_adder #(
    parameter integer LANES = 1
) (
    input  wire [LANES-1:0] x, y,
    output wire [LANES-1:0] s, c
);
    assign s = x ^ y;
    assign c = x & y;
endmodule

`default_nettype wire
