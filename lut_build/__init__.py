"""Behavioural model, scheme registry, RTL-vs-model verification, LUT writers and loader.

Depends on nothing else of this project (data flows hdl -> sim -> lut_build -> emulator).
"""
from .artifacts import LutError, default_lut_root, ensure_luts, load_luts, write_lut_dir
from .model import all_tables, masked_baugh_wooley, operand_values
from .schemes import SCHEMES, Scheme, get_scheme, register
from .verify import MismatchError, Report, compare

__all__ = [
    "LutError", "MismatchError", "Report", "SCHEMES", "Scheme", "all_tables", "compare",
    "default_lut_root", "ensure_luts", "get_scheme", "load_luts", "masked_baugh_wooley",
    "operand_values", "register", "write_lut_dir",
]
