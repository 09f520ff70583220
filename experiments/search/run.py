"""NSGA-II search of per-layer approximation levels (thesis 4.4.4) with pymoo.

One integer gene per approximated convolution (the final linear layer stays exact), bounded by
axx_levels; objectives: maximise adversarial and standard accuracy (pymoo minimises their
negatives), optionally minimise energy (MACs x MARLIN's per-level power). Genomes are evaluated
through pymoo's parallelization objects (a local process pool, or Dask by address); identical
genomes are evaluated once (a cache that travels with the checkpoint). The whole algorithm,
its RNG included, is saved as plain JSON (state.py) after every generation, so --resume continues
exactly, and resuming never executes code from the folder.
"""
from __future__ import annotations

import csv
from dataclasses import asdict
from pathlib import Path

from emulator import resnet
from fileio import atomic_path, output_folder

from ..advsets import image_digests, load_advset
from ..checkpoints import ckpt_meta
from ..energy import conv_macs
from ..parsing import parse_arch
from ..data import data_files
from ..provenance import digest_inputs, input_recipes, lut_tables, same_content, write_sidecar
from .algorithm import make_algorithm
from .config import SearchConfig
from .evaluator import GenomeEvaluator
from .journal import JOURNAL, Journal
from .parallel import make_runner
from .plot import plot_front
from .problem import ApproxLevelsProblem
from .state import LEGACY, STATE, identity_json, read_state, restore, save_state

SET = "adversarial set"


def run_search(cfg: SearchConfig, out: str | Path, workers: int = 1, dask: str | None = None, resume: bool = False,
               progress: bool = True, log=print, restart: bool = False):
    """Run (or resume) the search; writes out/state.json every generation (and each genome of the generation
    under way to out/generation.jsonl, so a stop loses one genome at most), evaluations.csv and pareto.csv.

    A folder holding an interrupted search is resumed with `resume`, started over with `restart`,
    and otherwise refused (it may hold hours of work), as is a resume whose victim, data or tables changed
    since the search started, or whose adversarial set is of another recipe. A set made again by the same
    recipe (sets are not committed: a search resumed on another machine finds its set made there) continues
    the search, and the state and the front's sidecar record how many of the searched images differ."""
    cfg.check()
    if resume and restart:
        raise ValueError("--resume and --restart exclude each other")
    out = Path(out)
    arch = ckpt_meta(cfg.victim)["arch"]  # a victim that is not a checkpoint is the first thing said
    state, legacy = out / STATE, out / LEGACY
    saved = None
    inputs = {"victim": cfg.victim, "adversarial set": cfg.advset, **data_files(("test", "train"), cfg.data_dir),
              "lut": lut_tables()}
    digests = digest_inputs(inputs)
    about = None
    if state.is_file() and not restart:
        saved = read_state(state)
        if saved["config"] != identity_json(cfg):
            raise ValueError(f"{state} belongs to another search configuration; use another output folder, "
                             "or --restart to replace it")
        changed = [r for r, d in saved.get("inputs", {}).items() if not same_content(d, digests.get(r, {}))]
        if changed == [SET] and (about := _remade_set(saved, cfg, inputs, log)) is not None:
            changed = []
        if changed:
            raise ValueError(f"{state}: its {', '.join(changed)} changed since the search started; --restart "
                             "starts it over")
        if saved["n_iter"] - 1 < cfg.gens and not resume:
            raise ValueError(f"{out} holds an interrupted search ({state}, {saved['n_iter'] - 1} of {cfg.gens} "
                             "generations); continue it with --resume or start over with --restart")
    elif legacy.is_file() and not restart:
        raise ValueError(f"{legacy} is a search state of an earlier version (a pickle, which runs code when "
                         f"loaded): if you trust it, `axx convert {legacy}` rewrites it as {STATE}; or start "
                         "over with --restart")
    if about is None:
        about = {"recipes": input_recipes({SET: cfg.advset}), "searched_images": _searched_images(cfg),
                 "set_remade": list((saved or {}).get("set_remade") or [])}
    if restart:
        (out / JOURNAL).unlink(missing_ok=True)  # starting over measures every genome again
    with output_folder(out):
        return _search(cfg, out, state, saved, arch, workers, dask, progress, log, inputs, about)


def _searched_images(cfg: SearchConfig) -> list[str]:
    adv, _, _ = load_advset(cfg.advset)
    return image_digests(adv[:cfg.n_images or len(adv)])


def _remade_set(saved: dict, cfg: SearchConfig, inputs: dict, log) -> dict | None:
    """What the state will say of its set when the set here is not the one the saved generations saw but was
    made by the same recipe (configuration and inputs' contents: on another machine, where floating-point
    rounding may flip a few gradient signs); None when the recipes differ or the state recorded none."""
    was = (saved.get("recipes") or {}).get(SET)
    if was is None or input_recipes({SET: inputs[SET]}).get(SET) != was:
        return None
    old, new = saved.get("searched_images") or [], _searched_images(cfg)
    differ = sum(a != b for a, b in zip(old, new)) if len(old) == len(new) else None
    gen = saved["n_iter"] - 1
    log(f"note: the adversarial set here was made again by the recipe of the one the search's first {gen} "
        f"generation(s) saw; {'?' if differ is None else differ} of its {len(new)} searched images differ from "
        "those: continuing (the state and the front's sidecar record it; --restart starts over instead)")
    return {"recipes": {SET: was}, "searched_images": new,
            "set_remade": list(saved.get("set_remade") or []) + [
                {"after_generation": gen, "images_differing": differ, "images": len(new)}]}


def _search(cfg: SearchConfig, out: Path, state: Path, saved: dict | None, arch: str, workers: int,
            dask: str | None, progress: bool, log, inputs: dict, about: dict):
    from tqdm import tqdm

    runner, close = make_runner(workers, dask)
    try:
        problem = ApproxLevelsProblem(cfg, conv_macs(resnet(parse_arch(arch))), runner)
        algorithm = make_algorithm(cfg)
        algorithm.setup(problem, termination=("n_gen", cfg.gens), seed=cfg.seed, verbose=False)
        if saved is not None:
            restore(saved, algorithm, problem)
            # pymoo counts the generation it will run next: n_gen - 1 are done
            log(f"resuming {out} after generation {algorithm.n_gen - 1}")
        # the genomes a stopped run evaluated in the generation it did not finish, for this search on these
        # inputs' contents (a set made again elsewhere is other content: its genomes are evaluated again)
        journal = Journal(out / JOURNAL, identity_json(cfg), digest_inputs(inputs))
        nxt = problem.generation + 1
        kept = journal.pending(nxt)
        journal.clear()  # rewritten as the generation goes, its kept genomes first
        if kept:
            problem.pending = {nxt: kept}
            log(f"taking {len(kept)} genome(s) of generation {algorithm.n_gen or 1} that the stopped run evaluated "
                f"({JOURNAL})")
        problem.on_evaluated = journal.add
        bar = tqdm(total=cfg.gens, initial=max(0, (algorithm.n_gen or 1) - 1), desc="NSGA-II", unit="gen",
                   disable=None if progress else True)
        while algorithm.has_next():
            algorithm.next()
            save_state(state, algorithm, cfg.identity(), digest_inputs(inputs), about)
            journal.clear()  # its genomes are in the state now
            F = algorithm.opt.get("F")
            best = {o: (-1 if o != "energy" else 1) * F[:, i].min() for i, o in enumerate(cfg.objectives)}
            bar.set_postfix({k: f"{v:.4g}" for k, v in best.items()})
            bar.update(1)
        bar.close()
    finally:
        close()
    problem = algorithm.problem
    _write_csv(out / "evaluations.csv", problem.records)
    front = [dict(problem.cache[tuple(int(v) for v in x)], levels=tuple(int(v) for v in x))
             for x in algorithm.opt.get("X")]
    front = sorted({r["levels"]: r for r in front}.values(), key=lambda r: -r["adv"])
    zeros = (0,) * problem.n_var
    exact = problem.cache.get(zeros) or problem.evaluator(zeros)
    if cfg.n_images:
        # the search saw a subset: report the front on the full sets too
        full = GenomeEvaluator(dict(asdict(cfg), n_images=None))
        for r in tqdm(front, desc="front on the full sets", disable=None if progress else True):
            f = full(r["levels"])
            r["adv_full"], r["std_full"] = f["adv"], f["std"]
        exact = dict(exact, **{k + "_full": v for k, v in full(zeros).items() if k in ("adv", "std")})
    _write_csv(out / "pareto.csv", front)
    plot_front(problem.records, front, exact, out / "pareto.png", cfg)
    write_sidecar(out / "pareto.csv", {"config": asdict(cfg), "evaluations": len(problem.records),
                                       "front": len(front), "exact": exact, "complete": True,
                                       **({"set_remade": about["set_remade"]} if about["set_remade"] else {})},
                  inputs)
    log(f"{len(problem.records)} distinct genomes evaluated; Pareto front of {len(front)} in {out / 'pareto.csv'}")
    return front, problem.records


def _write_csv(path: Path, rows: list[dict]) -> None:
    cols = ["generation", "levels", "adv", "std", "energy", "seconds"]
    if any("adv_full" in r for r in rows):
        cols += ["adv_full", "std_full"]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({**r, "levels": "-".join(map(str, r["levels"]))})


__all__ = ["run_search"]
