"""Emulation of approximate CNN hardware: the multiplier's LUTs, quantizers, layers, convolution
engines (reference, C, CUDA, exact fast path), MARLIN's CIFAR ResNets, calibration, and
`approximate()` for any torch CNN. Imports nothing from `experiments`."""
from .calibration import calibrate
from .configure import get_levels, set_engine, set_levels
from .convert import approximate
from .resnet import load_state, resnet

__all__ = ["approximate", "calibrate", "get_levels", "load_state", "resnet", "set_engine", "set_levels"]
