"""Which ready step starts first, and how long a run of the rest takes N at a time.

With more steps ready than workers, the plans' order started the zoo's short fine-tunes before ResNet-56 quant,
whose chain (42 epochs, then its approx fine-tune, then that one's adversarial training) decides when the zoo is
done; the searches, listed last, waited behind every evaluation. Starting the step that heads the longest chain of
work still to do (critical path first, as list schedulers do) ends a run sooner on the same workers. A plan may
still put steps first (its `first` patterns: the zoo's models in the campaign issue's order, which the campaign
needs soonest): an earlier pattern's ready steps start before a later one's, and before the steps matching none;
the longest chain decides within each. The same rule, run on the projected times, gives the dry run's wall time,
dependencies included.
"""
from __future__ import annotations

import fnmatch
import heapq

ORDERS = ("longest", "plan")  # longest chain of projected work first | the plans' order


def chains(deps: dict[str, list[str]], costs: dict[str, float]) -> dict[str, float]:
    """Each step's cost plus the costliest chain of steps (among `deps`' keys) that need it, in seconds."""
    needed_by: dict[str, list[str]] = {s: [] for s in deps}
    for s, ds in deps.items():
        for d in ds:
            if d in needed_by:
                needed_by[d].append(s)
    out: dict[str, float] = {}
    for start in deps:  # iterative depth-first: plans derive chains of any length
        stack = [start]
        while stack:
            s = stack[-1]
            if s in out:
                stack.pop()
                continue
            later = [n for n in needed_by[s] if n not in out]
            if later:
                stack.extend(later)
                continue
            stack.pop()
            out[s] = costs.get(s, 0.0) + max((out[n] for n in needed_by[s]), default=0.0)
    return out


def check_order(order: str) -> None:
    if order not in ORDERS:
        raise ValueError(f"unknown --order {order!r}: choose one of {', '.join(ORDERS)}")


def tiers(step_ids, first: list[str]) -> dict[str, int]:
    """Each step's place among the `first` patterns (shell patterns of step ids): the index of the first one it
    matches, len(first) where it matches none."""
    return {s: next((i for i, pat in enumerate(first) if fnmatch.fnmatchcase(s, pat)), len(first)) for s in step_ids}


def ordered(ready: list[str], chain: dict[str, float], order: str = "longest",
            tier: dict[str, int] | None = None) -> list[str]:
    """`ready` in the order they start: by `tier` (see tiers), then the longest chain first (ties in the plans'
    order), or for order 'plan' in the plans' order."""
    check_order(order)
    tier = tier or {}
    rank = {s: i for i, s in enumerate(ready)}
    if order == "plan":
        return sorted(ready, key=lambda s: (tier.get(s, 0), rank[s]))
    return sorted(ready, key=lambda s: (tier.get(s, 0), -chain.get(s, 0.0), rank[s]))


def priority(sid: str, chain: dict[str, float], tier: dict[str, int]) -> int:
    """The same order as one number, higher first (a Dask task's priority)."""
    return int(chain.get(sid, 0.0)) - tier.get(sid, 0) * 10**9


def makespan(deps: dict[str, list[str]], costs: dict[str, float], jobs: int, order: str = "longest",
             tier: dict[str, int] | None = None) -> float:
    """Seconds until every step of `deps` (those still to run, each taking `costs`) has run on `jobs` workers, each
    starting the first ready step by `order` and `tier` as one frees; dependencies outside `deps` count as done."""
    chain = chains(deps, costs)
    todo = list(deps)
    done: set[str] = set()
    running: list[tuple[float, int, str]] = []
    now, n = 0.0, 0
    while todo or running:
        ready = [s for s in todo if all(d in done or d not in deps for d in deps[s])]
        for s in ordered(ready, chain, order, tier)[:max(0, jobs - len(running))]:
            todo.remove(s)
            heapq.heappush(running, (now + costs.get(s, 0.0), n, s))
            n += 1
        if not running:  # a dependency cycle: plans cannot make one, but never loop
            break
        now, _, s = heapq.heappop(running)
        done.add(s)
    return now


__all__ = ["ORDERS", "chains", "check_order", "makespan", "ordered", "priority", "tiers"]
