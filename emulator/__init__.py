"""Emulator of approximate CNN inference: LUT engines (reference, C, exact fast path), quantizers,
MARLIN's CIFAR ResNets, and `approximate()` for any torch CNN."""
from .models import approximate, calibrate, get_levels, load_state, resnet, set_engine, set_levels

__all__ = ["approximate", "calibrate", "get_levels", "load_state", "resnet", "set_engine", "set_levels"]
