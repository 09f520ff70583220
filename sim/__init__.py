"""cocotb co-verification of hdl/ on Icarus Verilog and Verilator; the exhaustive LUT sweep."""
