"""Emulator of approximate CNN inference (LUT engines, models, data)."""
