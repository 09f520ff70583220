// MARLIN-style reconfigurable approximate signed multiplier (top level).
//
//   p = a * b, computed by mult_core_w<WIDTH> (mult_cores.v): partial products with column
//   masking (pp_bit.v) -> explicit Dadda reduction tree -> ripple carry-propagate adder.
//
// WIDTH is the array size (MARLIN's is 9; the 8-bit operands of a CNN are sign-extended into
// it). p is the full 2*WIDTH-bit two's-complement product. When either operand is zero the
// output is gated to zero (MARLIN's zero-operand gating: the many zero activations after ReLU
// cause no switching, and the bias compensation never leaks into a product that must be 0).
//
// LANES = 1 is the hardware. LANES > 1 bundles independent multipliers bit-major
// (a[j*LANES +: LANES] = bit j of every lane) for bit-parallel simulation; see adders.v.
`timescale 1ns/1ps
`default_nettype none

module approx_mult #(
    parameter integer WIDTH     = 9,
    parameter integer BIAS_COMP = 1,
    parameter integer LANES     = 1
) (
    input  wire [WIDTH*LANES-1:0]   a,      // weight
    input  wire [WIDTH*LANES-1:0]   b,      // activation
    input  wire [8*LANES-1:0]       level,  // approximation level, 0 = exact
    output wire [2*WIDTH*LANES-1:0] p
);
    wire [2*WIDTH*LANES-1:0] sum;

    generate
        if (WIDTH == 8) begin : g_core
            mult_core_w8  #(.BIAS_COMP(BIAS_COMP), .LANES(LANES)) u_core (.a(a), .b(b), .level(level), .sum(sum));
        end else if (WIDTH == 9) begin : g_core
            mult_core_w9  #(.BIAS_COMP(BIAS_COMP), .LANES(LANES)) u_core (.a(a), .b(b), .level(level), .sum(sum));
        end else if (WIDTH == 10) begin : g_core
            mult_core_w10 #(.BIAS_COMP(BIAS_COMP), .LANES(LANES)) u_core (.a(a), .b(b), .level(level), .sum(sum));
        end else if (WIDTH == 11) begin : g_core
            mult_core_w11 #(.BIAS_COMP(BIAS_COMP), .LANES(LANES)) u_core (.a(a), .b(b), .level(level), .sum(sum));
        end else if (WIDTH == 12) begin : g_core
            mult_core_w12 #(.BIAS_COMP(BIAS_COMP), .LANES(LANES)) u_core (.a(a), .b(b), .level(level), .sum(sum));
        end else begin : g_core_unsupported
            // Widths outside 8..12 have no generated core (see WIDTHS in gen_cores.py).
            initial begin
                $display("approx_mult: unsupported WIDTH=%0d (supported: 8..12)", WIDTH);
                $finish;
            end
            assign sum = {2*WIDTH*LANES{1'b0}};
        end
    endgenerate

    // Zero-operand gating, per lane: OR-reduce each operand's bits through a chain of
    // named nets (one net per step: see gen_cores.py on why there are no wide buses here).
    genvar k;
    generate
        for (k = 0; k < WIDTH; k = k + 1) begin : g_nz
            wire [LANES-1:0] a_any, b_any;
            if (k == 0) begin : g_first
                assign a_any = a[0 +: LANES];
                assign b_any = b[0 +: LANES];
            end else begin : g_next
                assign a_any = g_nz[k-1].a_any | a[k*LANES +: LANES];
                assign b_any = g_nz[k-1].b_any | b[k*LANES +: LANES];
            end
        end
    endgenerate
    wire [LANES-1:0] nonzero = g_nz[WIDTH-1].a_any & g_nz[WIDTH-1].b_any;

    generate
        for (k = 0; k < 2*WIDTH; k = k + 1) begin : g_gate
            assign p[k*LANES +: LANES] = sum[k*LANES +: LANES] & nonzero;
        end
    endgenerate
endmodule

`default_nettype wire
