"""Scenario labels of thesis Table 5.1: how much the attacker knew of the victim."""
from __future__ import annotations

SCENARIOS = ("white-box", "partial white-box", "black-box")


def scenario(source_arch: str, source_params: str, victim_arch: str, victim_params: str, adaptive: bool = False) -> str:
    """Table 5.1: identical architecture and parameter type (the execution type the parameters were
    trained with) = white-box; identical architecture, other parameters = partial white-box; other
    architecture = black-box. An attack computed on the victim itself is white-box by definition."""
    if adaptive:
        return "white-box"
    if source_arch != victim_arch:
        return "black-box"
    return "white-box" if source_params == victim_params else "partial white-box"


__all__ = ["SCENARIOS", "scenario"]
