"""Values derived from a tensor (a table's int32 copy, its decomposition, a layer's int8 weights), cached by
the tensor's memory and version.

The address alone is no identity: once a tensor is freed, the allocator hands its memory to the next one
of that size, and a cache keyed by (address, dtype, version) returned the freed table's values for the new
table (measured: a level-1 table built after a level-0 one was freed got level 0's int32 copy, so the C and
CUDA engines computed the wrong products). Each entry therefore holds a weak reference to the tensor that
owns the memory (the view's base, else the tensor): while that owner lives no other tensor can have the
address, and once it is gone the entry no longer matches.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable

import torch


def owner(t: torch.Tensor) -> torch.Tensor:
    """The tensor whose memory `t` uses: its base if it is a view (views share the base's version counter)."""
    return t._base if t._base is not None else t


def tensor_key(t: torch.Tensor, *extra) -> tuple:
    """Where t's values lie and which write of them it holds (in-place writes bump the version)."""
    return (t.data_ptr(), t.dtype, str(t.device), tuple(t.shape), t.stride(), t._version, *extra)


def still_owned(ref: weakref.ref, t: torch.Tensor) -> bool:
    return ref() is owner(t)


class TensorCache:
    """make(t) per tensor content, at most `maxsize` entries (cleared when full: entries are cheap to remake)."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._entries: dict = {}

    def get(self, t: torch.Tensor, make: Callable[[torch.Tensor], Any], *extra) -> Any:
        key = tensor_key(t, *extra)
        hit = self._entries.get(key)
        if hit is not None and still_owned(hit[0], t):
            return hit[1]
        if len(self._entries) >= self.maxsize:
            self._entries.clear()
        value = make(t)
        self._entries[key] = (weakref.ref(owner(t)), value)
        return value

    def clear(self) -> None:
        self._entries.clear()


__all__ = ["TensorCache", "owner", "still_owned", "tensor_key"]
