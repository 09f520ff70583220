"""Readers of the values users type (architectures, eps, per-layer levels): one place, shared by the
command line and the library, each with the error message that says what to write instead."""
from __future__ import annotations

from fractions import Fraction

from emulator.resnet import DEPTHS

ARCHS = tuple(f"resnet{d}" for d in DEPTHS)



def parse_arch(arch: str | int) -> int:
    s = str(arch).lower().removeprefix("resnet")
    if not s.isdigit() or int(s) not in DEPTHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    return int(s)


def parse_eps(text: str | float) -> float:
    """'8/255' or 0.031 (a fraction of the [0, 1] range); negative or > 1 refused."""
    try:
        v = float(Fraction(str(text).strip())) if isinstance(text, str) else float(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"cannot read {text!r} as a number (write 8/255 or 0.031)") from None
    if not 0 <= v <= 1:
        raise ValueError(f"{text} is outside [0, 1] (images are in [0, 1]; 8/255 is a typical eps)")
    return v


def parse_levels(text: str | int | None):
    """'50' -> 50; '0,5,9,...' -> a per-convolution list; None -> 0."""
    if text is None or text == "":
        return 0
    if isinstance(text, int):
        return text
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    bad = [p for p in parts if not p.isdigit() or not 0 <= int(p) <= 255]
    if bad or not parts:
        raise ValueError(f"levels must be integers in 0..255 (one, or one per convolution, comma-separated); "
                         f"got {', '.join(map(repr, bad)) if bad else repr(text)}")
    vals = [int(p) for p in parts]
    return vals[0] if len(vals) == 1 else vals


__all__ = ["ARCHS", "parse_arch", "parse_eps", "parse_levels"]
