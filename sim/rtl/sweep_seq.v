// Sequential sweep wrapper (testbench only), for event-driven simulators (Icarus).
//
// One hardware multiplier (LANES = 1). Each toggle of `go` makes the HDL itself step through
// BPV activation values x NLEV levels (1 ns per product, NLEV levels taken from `levels` in
// the order cocotb wrote them), capturing every product into p_all; cocotb then reads the
// whole bus once. cocotb orders the levels as a Gray code, so consecutive products differ in
// one level bit: only one column's masking toggles, and Icarus's event-driven evaluation does
// ~6x less work than with changing operands (measured: 3 us vs 18 us per product).
//
// Slot s = k*NLEV + j holds the full 2*WIDTH-bit product of a * b_k at levels[j]:
// p_all[s*2*WIDTH +: 2*WIDTH].
`timescale 1ns/1ps
`default_nettype none

module sweep_seq #(
    parameter integer WIDTH     = 9,
    parameter integer BIAS_COMP = 1,
    parameter integer OPW       = 8,
    parameter integer BPV       = 4,
    parameter integer NLEV      = 256
) (
    input  wire [OPW-1:0]                   a,
    input  wire [BPV*OPW-1:0]               b,
    input  wire [NLEV*8-1:0]                levels,
    input  wire                             go,
    output reg  [BPV*NLEV*2*WIDTH-1:0]      p_all
);
    // The loop only moves the indices k, j; operands and level follow continuously, so
    // every capture (1 ns after an index change) sees settled inputs whatever order cocotb's
    // writes of a, b, levels and go reach the simulator in.
    integer k, j;
    wire signed [OPW-1:0]   a_s = a;
    wire signed [OPW-1:0]   b_s = b[k*OPW +: OPW];
    // Sign extension into the WIDTH-bit array by signed assignment (intended widening).
    /* verilator lint_off WIDTHEXPAND */
    wire signed [WIDTH-1:0] ax = a_s;
    wire signed [WIDTH-1:0] bx = b_s;
    /* verilator lint_on WIDTHEXPAND */
    wire [7:0] lv = levels[j*8 +: 8];
    wire [2*WIDTH-1:0] p;

    approx_mult #(.WIDTH(WIDTH), .BIAS_COMP(BIAS_COMP), .LANES(1)) u_mult (
        .a(ax), .b(bx), .level(lv), .p(p)
    );

    initial begin
        k = 0;
        j = 0;
    end

    always @(go) begin
        for (k = 0; k < BPV; k = k + 1) begin
            for (j = 0; j < NLEV; j = j + 1) begin
                #1;
                p_all[(k*NLEV + j)*2*WIDTH +: 2*WIDTH] = p;
            end
        end
        k = 0;
        j = 0;
    end
endmodule

`default_nettype wire
