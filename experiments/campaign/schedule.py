"""Which ready step starts first, and how long a run of the rest takes N at a time.

With more steps ready than workers, the plans' order started the zoo's short fine-tunes before ResNet-56 quant,
whose chain (42 epochs, then its approx fine-tune, then that one's adversarial training) decides when the zoo is
done; the searches, listed last, waited behind every evaluation. Starting the step that heads the longest chain of
work still to do (critical path first, as list schedulers do) ends a run sooner on the same workers. The same
rule, run on the projected times, gives the dry run's wall time, dependencies included.
"""
from __future__ import annotations

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


def ordered(ready: list[str], chain: dict[str, float], order: str = "longest") -> list[str]:
    """`ready` in the order they start: the longest chain first (ties in the plans' order), or the plans' order."""
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}: choose one of {', '.join(ORDERS)}")
    if order == "plan":
        return list(ready)
    rank = {s: i for i, s in enumerate(ready)}
    return sorted(ready, key=lambda s: (-chain.get(s, 0.0), rank[s]))


def makespan(deps: dict[str, list[str]], costs: dict[str, float], jobs: int, order: str = "longest") -> float:
    """Seconds until every step of `deps` (those still to run, each taking `costs`) has run on `jobs` workers, each
    starting the first ready step by `order` as one frees; dependencies outside `deps` count as done."""
    chain = chains(deps, costs)
    todo = list(deps)
    done: set[str] = set()
    running: list[tuple[float, int, str]] = []
    now, n = 0.0, 0
    while todo or running:
        ready = [s for s in todo if all(d in done or d not in deps for d in deps[s])]
        for s in ordered(ready, chain, order)[:max(0, jobs - len(running))]:
            todo.remove(s)
            heapq.heappush(running, (now + costs.get(s, 0.0), n, s))
            n += 1
        if not running:  # a dependency cycle: plans cannot make one, but never loop
            break
        now, _, s = heapq.heappop(running)
        done.add(s)
    return now


__all__ = ["ORDERS", "chains", "makespan", "ordered"]
