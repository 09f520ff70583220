"""`axx reproduce`: run plans' steps in dependency order, skipping what is done (by content), resuming
what was interrupted (with --resume), and running independent steps side by side: local worker
processes, or a Dask cluster by address. `--dry-run` lists the steps, what is done, and the
projected time of the rest on this machine; `--partial` writes the pages from what exists so far.
"""
from __future__ import annotations

import fnmatch
import json
import os
import statistics
import time
from pathlib import Path

from ..machine import cores as machine_cores, hardware
from .plan import load_plan
from .schedule import chains, check_order, makespan, ordered, tiers
from .schedule import priority as start_priority
from .steps import Context, Status, Step, derive_steps

REPO = Path(__file__).resolve().parents[2]
LOAD_TOLERANCE = 0.5  # load-average points between a cached rate's timing and now
UNTIMED_MACS_PER_S = 1e10  # Rates(timing=False) where nothing is cached: only the ratios between steps matter
STEPS = 5  # timed steps per rate (median of them): a few steps beside a running training scatter widely


class Untimed(Exception):
    """No rate is cached for what a step runs, and this projection times nothing (`--dry-run --no-timing`)."""


class Rates:
    """Images/s of training steps and evaluations per (arch, exec type) on this machine, measured on
    first use (a few steps each) and cached in WORK/rates.json per CPU and thread count. `timing=False`: only
    what the cache holds, at any load, and where it holds nothing a rate from the network's multiply-accumulates
    alone (for ordering steps, where a minute of timing would cost more than it tells), or with `guess=False`
    the Untimed exception (the dry run then projects that step as unknown)."""

    def __init__(self, path: Path, log=print, timing: bool = True, guess: bool = True):
        self.path, self.log, self.timing, self.guess = path, log, timing, guess
        self.fresh: set[str] = set()
        from emulator.engines import fast
        hw = hardware()
        # the fast engine's planes kernel is part of the key: evaluations of approx models ran 2x faster on AVX2
        # CPUs once it had one, so rates timed before it would project them twice too long
        kernel = "vnni" if fast.vnni_available() else "avx2" if fast.avx2_available() else "no planes kernel"
        self.key = f"{hw['cpu']}|{hw['torch_threads']} threads|{kernel}"
        try:
            self.cache = json.loads(path.read_text()).get(self.key, {})
        except (OSError, ValueError, AttributeError):
            self.cache = {}

    def _get(self, what: str, arch: str, exec_type: str, max_level: int = 0) -> float:
        from ..bench_train import eval_rate
        from ..parsing import parse_arch
        k = f"{what}:{arch}:{exec_type}" + (f":levels 0..{max_level}" if max_level else "")
        load = os.getloadavg()[0]
        hit = self.cache.get(k)
        if not self.timing:
            if isinstance(hit, dict) and hit.get("images_per_s"):
                return float(hit["images_per_s"])
            if not self.guess:
                raise Untimed(k)
            from ..checkpoints import conv_macs
            # a training step is a forward and a backward of about twice its work
            return UNTIMED_MACS_PER_S / conv_macs(arch) / (3.0 if what == "train" else 1.0)
        # a rate timed at another load than now is timed again, quieter as well as busier: the projection
        # divides the trainings' own paces by timed rates, so rates timed under different contention made it
        # nonsense (ResNet-32 quant steps timed beside two trainings, against float ones timed at rest, gave a
        # factor of 0.2 that projected a ResNet-32 AT fine-tune at 4 min instead of about 20). So is a training
        # rate timed eagerly only (before the route was timed too).
        # (one run times each rate once: its own timing raises the load it would then compare against)
        if k not in self.fresh and (not isinstance(hit, dict) or abs(hit.get("load", 0) - load) > LOAD_TOLERANCE
                                    or (what == "train" and "route" not in hit)):
            self.log(f"timing {what} steps of {arch} {exec_type}{f' at levels in 0..{max_level}' if max_level else ''} "
                     "for the projection ...")
            d = parse_arch(arch)
            hit = ({"images_per_s": eval_rate(d, exec_type, STEPS, max_level)} if what == "eval"
                   else self._train_rate(d, exec_type))
            hit["load"] = round(load, 2)
            self.cache[k] = hit
            self.fresh.add(k)
            self._save()
        return hit["images_per_s"]

    @staticmethod
    def _train_rate(depth: int, exec_type: str) -> dict:
        """The faster of eager and compiled training steps (what `axx train --route auto` picks between, but
        for channels-last): compiled steps of quant models ran 1.6x the eager ones (ResNet-32, 2-core AVX2
        EPYC), so eager steps alone projected the quant trainings 1.6x too long."""
        from ..bench_train import train_rate
        from ..compiled import compile_enabled
        rates = {"eager": train_rate(depth, exec_type, False, False, False, 128, STEPS, lambda *a: None)[0]}
        if exec_type in ("float", "quant") and compile_enabled():
            said: list = []
            rate = train_rate(depth, exec_type, True, False, False, 128, STEPS, said.append)[0]
            if not said:  # compilation failed: eager is what a training would run
                rates["compiled"] = rate
        route = max(rates, key=rates.get)
        return {"images_per_s": rates[route], "route": route}

    def _save(self) -> None:
        from fileio import atomic_write_text
        try:
            allc = json.loads(self.path.read_text()) if self.path.is_file() else {}
        except (OSError, ValueError):
            allc = {}
        allc[self.key] = self.cache
        atomic_write_text(self.path, json.dumps(allc, indent=1) + "\n")

    def train(self, arch: str, exec_type: str) -> float:
        return self._get("train", arch, exec_type)

    def eval(self, arch: str, exec_type: str, max_level: int = 0) -> float:
        """images/s of evaluations; `max_level`: of an approx model at random per-layer levels in 0..max_level."""
        return self._get("eval", arch, exec_type, max_level)


def _hours(s: float) -> str:
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min" if s >= 60 else f"{s:.0f} s"


def select(steps: dict[str, Step], only: list[str] | None) -> dict[str, Step]:
    if not only:
        return steps
    chosen = {k: s for k, s in steps.items() if any(fnmatch.fnmatch(k, pat) or k == pat for pat in only)}
    if not chosen:
        raise ValueError(f"--only {' '.join(only)} matches no step; the steps are: {', '.join(steps)}")
    return chosen


NOT_NEEDED = "not needed: every result made from it is done"


def statuses(steps: dict[str, Step], ctx: Context, everything: dict[str, Step] | None = None,
             status=None) -> dict[str, Status]:
    """Each step's status, with the adversarial sets that nothing needs counted as done: a set that is not
    here (a new machine) while every step made from it is done, by its unchanged recipe (steps._standins), is
    not made again (Square and AutoAttack sets take hours each). `everything`: all the plans' steps, where
    `steps` is a --only selection (a set's consumers may lie outside it)."""
    everything = everything or steps
    status = status or (lambda s: s.status(ctx))
    known: dict[str, Status] = {}

    def of(sid: str) -> Status:
        if sid not in known:
            known[sid] = status(everything[sid] if sid in everything else steps[sid])
        return known[sid]

    out = {sid: of(sid) for sid in steps}
    for sid, step in steps.items():
        if step.kind != "attack" or out[sid].state in ("done", "waiting", "damaged"):
            continue
        consumers = [k for k, s in everything.items() if sid in s.deps]
        if consumers and all(of(k).state == "done" for k in consumers):
            out[sid] = Status("done", NOT_NEEDED)
    return out


def record_recipes(steps: dict[str, Step], status: dict[str, Status], ctx: Context) -> int:
    """Results made before sidecars recorded their sets' recipes get them now, while the sets are here (and the
    result is up to date with them: its status is done); returns how many sidecars were completed."""
    from ..provenance import REMADE_ROLES, record_recipes as record

    n = 0
    for sid, step in steps.items():
        if step.kind in ("eval", "search") and status[sid].state == "done":
            inputs = step.inputs(ctx)
            if all(Path(p).is_file() for r, p in inputs.items() if r.startswith(REMADE_ROLES)):
                n += record(step.result(ctx), inputs)
    return n


def dry_run(steps: dict[str, Step], ctx: Context, rates: Rates, log=print,
            everything: dict[str, Step] | None = None, jobs: int = 1, order: str = "longest",
            first: list[str] | None = None) -> dict:
    """Print every step's state and the projected time of what is left; returns the totals. `jobs`: local
    workers that will run side by side (the caller set torch's threads to their share); their wall time is
    the run of the rest simulated on them in `order` after the plans' `first` steps, each step waiting for the
    steps it needs."""
    from ..data import DataError, default_root, missing_files, no_downloads

    width = max(len(k) for k in steps)
    left = {"train": 0.0, "other": 0.0}
    counts: dict[str, int] = {}
    missing = missing_files(ctx.data_dir)
    if missing:
        log(f"CIFAR-10 is not in {ctx.data_dir or default_root()} ({', '.join(missing)} missing): a run downloads it "
            "first (170 MB, md5-checked; or set CIFAR10_DIR). Steps whose state depends on its images are listed as "
            "'needs data'")
    calibrated = _calibrate(steps, ctx, rates)

    def status(step: Step) -> Status:
        try:
            with no_downloads():
                return step.status(ctx)
        except DataError:
            return Status("needs data", "its state is known once CIFAR-10 is here")

    table = statuses(steps, ctx, everything, status)
    costs: dict[str, float] = {}
    unknown = 0
    for sid, step in steps.items():
        st = table[sid]
        counts[st.state] = counts.get(st.state, 0) + 1
        try:
            est = 0.0 if st.state == "done" else step.estimate_s(ctx, rates)
        except Untimed:
            est, unknown = 0.0, unknown + 1
            when = "?"
        else:
            when = "" if st.state == "done" else f"~{_hours(est)}"
        if st.state != "done":
            costs[sid] = est
        left["train" if step.kind == "train" else "other"] += est
        log(f"{sid:<{width}}  {st.state:<11} {when:>10}  {st.detail}")
    kept = [str(f) for sid, step in steps.items() if table[sid].state != "done" for f in step.kept_files(ctx)]
    if kept:
        # sessions end and machines change: what a stopped step kept continues elsewhere only if it travels
        log(f"work of stopped steps, kept in {len(kept)} file(s) (commit them and another machine continues it): "
            + " ".join(kept))
    hw = hardware()
    log(f"{len(steps)} steps: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    load = os.getloadavg()[0]
    timed = getattr(rates, "timing", True)  # any object with train() and eval() projects
    how = (f"trainings from the pace of {calibrated} here: of their parameter types scaled by work, of the others "
           f"timed fp32 steps x{rates.calibration:.2f}" if calibrated else "timed fp32 steps")
    threads = f"{hw['torch_threads']} thread{'s' if hw['torch_threads'] != 1 else ''}"
    log(f"projected on this machine ({hw['cpu']}, {threads}, {how}): trainings left "
        f"{_hours(left['train'])} ({left['train'] / 3600:.1f} CPU-hours), other steps {_hours(left['other'])}"
        + (f"; load average {load:.1f} on {os.cpu_count()} cores: timed under load, pessimistic"
           if load > 0.5 * (os.cpu_count() or 1) and not calibrated and timed else "")
        + ("; from the rates cached here, whatever load they were timed at" if not timed else "")
        + (f"; {unknown} step(s) not projected (nothing timed for them here: a dry run without --no-timing "
           "times them)" if unknown else ""))
    wall = None
    if jobs > 1:
        wall = makespan({sid: steps[sid].deps for sid in costs}, costs, jobs, order, tiers(costs, first or []))
        how = ("the plans' first steps first, then " if first else "") + (
            "the longest chain of work first" if order == "longest" else "in the plans' order")
        log(f"with --jobs {jobs} ({hw['torch_threads']} thread(s) each, the pace projected above, {how}, each step "
            f"waiting for those it needs): about {_hours(wall)} of wall time")
    return {"counts": counts, "train_s": left["train"], "other_s": left["other"], "wall_s": wall, "kept": kept,
            "unknown": unknown}


def _calibrate(steps: dict[str, Step], ctx: Context, rates) -> str:
    """Set `rates.paces` (seconds per multiply-accumulate of training, per parameter type, from the interrupted
    trainings whose states hold epochs run here) and `rates.calibration` (the median of their own pace over the
    timed steps' projection, for the types without such a training): a few steps timed beside a
    running training projected ResNet-56 quant at 86 h for 42 epochs. Returns their names ('' when none)."""
    factors, paces = {}, {}
    for step in steps.values():
        if step.kind == "train":
            own = step._own_rate(ctx)  # reads the training state: once per step
            if own:
                try:
                    factors[step.model.name] = own / step.timed_epoch_s(ctx, rates)
                except Untimed:  # --no-timing and nothing cached: its own pace still projects its type
                    pass
                paces.setdefault(step.model.params, []).append(own / step.work(ctx))
    rates.calibration = statistics.median(factors.values()) if factors else 1.0
    # seconds per multiply-accumulate of each parameter type that trains here now: a deeper network of the
    # same type takes as much longer as it has more work (the timed steps scatter far more under load)
    rates.paces = {p: statistics.median(v) for p, v in paces.items()}
    return ", ".join(sorted(factors))


def projected_costs(steps: dict[str, Step], todo: list[str], ctx: Context, log=print) -> dict[str, float]:
    """Projected seconds of the steps in `todo`, from cached rates and the interrupted trainings' own paces only
    (nothing is timed): what orders the ready steps. A step that cannot be projected counts 0."""
    rates = Rates(Path(ctx.work) / "rates.json", log, timing=False)
    try:
        _calibrate({k: steps[k] for k in todo}, ctx, rates)
    except Exception:  # noqa: BLE001  (an unreadable state: project from cached rates alone)
        rates.calibration, rates.paces = 1.0, {}
    out = {}
    for sid in todo:
        try:
            out[sid] = steps[sid].estimate_s(ctx, rates)
        except Exception:  # noqa: BLE001  (ordering is a preference: it never stops a run)
            out[sid] = 0.0
    return out


def run_step(step: Step, ctx: Context, threads: int | None = None) -> str:
    """Run one step (in this process, a worker process or a Dask worker); returns its id."""
    if threads:
        import torch
        torch.set_num_threads(threads)
    else:
        from ..machine import rebalance_threads
        rebalance_threads()  # a --jobs worker's share of the cores now (a no-op elsewhere)
    os.chdir(REPO)
    step.run(ctx, log=lambda m: print(f"[{step.id}] {m}", flush=True))
    return step.id


def _share_cores(running, cores: int) -> None:
    from ..machine import share_cores
    share_cores(running, cores)


class _Local:
    """Local worker processes that share the cores among the steps running: each takes cores / (steps running)
    threads when it starts and again as it goes (trainings every 50 batches), so the last training of a chain,
    left alone, gets every core back instead of keeping its share until it ends. (torch's own kernels follow at
    once; kernels torch.compile generated keep the thread count they were compiled with.)"""

    def __init__(self, jobs: int, cores: int | None = None):
        import concurrent.futures as cf
        import multiprocessing as mp
        self.cf = cf
        ctx = mp.get_context("spawn")
        self.running = ctx.Value("i", 0)
        self.pool = cf.ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_share_cores,
                                           initargs=(self.running, cores or machine_cores()))

    def submit(self, step: Step, ctx: Context, priority: float = 0.0):
        with self.running.get_lock():
            self.running.value += 1
        fut = self.pool.submit(run_step, step, ctx)
        fut.add_done_callback(self._ended)
        return fut

    def _ended(self, fut) -> None:
        with self.running.get_lock():
            self.running.value -= 1

    def wait_any(self, futures):
        done, _ = self.cf.wait(futures, return_when=self.cf.FIRST_COMPLETED)
        return done

    def close(self):
        # a run that stops early (an error, Ctrl-C, SIGTERM) must not leave a worker training on, orphaned, beside
        # the next run's (it would write the same training state): end the workers, then the pool. Their steps
        # keep what they finished (an epoch's state, an evaluation's rows) and continue with --resume.
        for p in list(getattr(self.pool, "_processes", {}).values()):  # no public way before Python 3.14
            if p.is_alive():
                p.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)


class _Dask:
    def __init__(self, address: str, timeout_s: float = 10):
        from distributed import Client
        try:
            self.client = Client(address, timeout=f"{timeout_s}s")
        except (OSError, TimeoutError) as e:
            raise RuntimeError(f"cannot reach the Dask scheduler at {address} within {timeout_s:.0f} s ({e})") from None

    def submit(self, step: Step, ctx: Context, priority: float = 0.0):
        # the cluster starts the longest chains first too, when it has fewer free workers than tasks
        return self.client.submit(run_step, step, ctx, pure=False, key=f"axx-{step.id}-{time.time_ns()}",
                                  priority=int(priority))

    def wait_any(self, futures):
        from distributed import wait
        return wait(list(futures), return_when="FIRST_COMPLETED").done

    def close(self):
        self.client.close()


def execute(steps: dict[str, Step], ctx: Context, jobs: int = 1, dask: str | None = None, log=print,
            everything: dict[str, Step] | None = None, order: str = "longest", first: list[str] | None = None,
            cores: int | None = None) -> dict:
    """Run every step that is not done once its dependencies are; a failed step stops only what
    depends on it. `everything`: all the plans' steps, when `steps` is a --only selection (its dependencies
    outside the selection must be done). `order`, `first`: which ready step a free worker starts (schedule.py;
    one worker runs them in the plans' order, which ends no later and gives the short results first). `cores`: the
    local workers share that many (default: all the machine's). Returns
    {'done': [...], 'ran': [...], 'failed': {id: error}, 'blocked': [...]}."""
    status = statuses(steps, ctx, everything)
    if record_recipes(steps, status, ctx):
        log("recorded the recipes of their adversarial sets in the sidecars of results made before sidecars held them")
    damaged = [sid for sid, st in status.items() if st.state == "damaged"]
    if damaged and not ctx.restart:
        raise ValueError(status[damaged[0]].detail + (f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""))
    interrupted = [sid for sid, st in status.items() if st.state == "interrupted"]
    if interrupted and not (ctx.resume or ctx.restart):
        raise ValueError(f"{', '.join(interrupted)}: interrupted ({status[interrupted[0]].detail}); continue with "
                         "--resume or start over with --restart")
    done = {sid for sid, st in status.items() if st.state == "done"}
    outside = {d for s in steps.values() for d in s.deps if d not in steps}
    # dependencies outside a --only selection must be done already
    known = everything or {}
    found = statuses({d: known[d] for d in outside if d in known}, ctx, everything) if known else {}
    outside_status = {d: found.get(d, Status("todo")) for d in outside}
    for sid, s in steps.items():
        missing = [d for d in s.deps if d in outside and outside_status[d].state != "done"]
        if missing and sid not in done:
            st = s.status(ctx)
            if st.state == "waiting":
                raise ValueError(f"{sid} {st.detail}: run its steps first ({', '.join(missing)}) or widen --only")
    todo = [sid for sid in steps if sid not in done]
    ran, failed, blocked = [], {}, []
    if not todo:
        log("everything is up to date")
        return {"done": sorted(done), "ran": ran, "failed": failed, "blocked": blocked}
    log(f"{len(done)} of {len(steps)} steps done; running {len(todo)}")
    pool = _Dask(dask) if dask else (_Local(jobs, cores) if jobs > 1 else None)
    if pool is None:  # one worker: reordering ends no sooner, and the plans' order gives the short results first
        order, first = "plan", None
    chain: dict[str, float] = {}
    tier = tiers(todo, first or [])
    if order != "plan" and len(todo) > 1:
        chain = chains({sid: steps[sid].deps for sid in todo}, projected_costs(steps, todo, ctx, log))
    running: dict = {}
    started: dict[str, float] = {}
    try:
        while todo or running:
            ready = ordered([sid for sid in todo if all(d in done or d in outside for d in steps[sid].deps)], chain,
                            order, tier)
            dead = [sid for sid in todo if any(d in failed or d in blocked for d in steps[sid].deps)]
            for sid in dead:
                todo.remove(sid)
                blocked.append(sid)
                log(f"[{sid}] not run: a step it needs failed")
            if not ready and not running and not dead:
                for sid in todo:  # needs a step outside the selection that is not done
                    blocked.append(sid)
                    log(f"[{sid}] not run: it needs steps that are not done")
                break
            for sid in ready:
                if pool is None:
                    todo.remove(sid)
                    t = time.perf_counter()
                    try:
                        run_step(steps[sid], ctx)
                        done.add(sid)
                        ran.append(sid)
                        log(f"[{sid}] finished in {_hours(time.perf_counter() - t)}")
                    except (ValueError, OSError, RuntimeError) as e:
                        failed[sid] = str(e).splitlines()[0] if str(e) else type(e).__name__
                        log(f"[{sid}] failed: {failed[sid]}")
                    break  # re-derive what is ready
                if len(running) < (jobs if not dask else 1 << 30):
                    todo.remove(sid)
                    running[pool.submit(steps[sid], ctx, start_priority(sid, chain, tier))] = sid
                    started[sid] = time.perf_counter()
            if pool is not None and running:
                for fut in pool.wait_any(list(running)):
                    sid = running.pop(fut)
                    try:
                        fut.result()
                        done.add(sid)
                        ran.append(sid)
                        log(f"[{sid}] finished in {_hours(time.perf_counter() - started[sid])}")
                    except Exception as e:  # noqa: BLE001 - a worker's error stops its dependants only
                        failed[sid] = str(e).splitlines()[0] if str(e) else type(e).__name__
                        log(f"[{sid}] failed: {failed[sid]}")
    finally:
        if pool is not None:
            pool.close()
    return {"done": sorted(done), "ran": ran, "failed": failed, "blocked": blocked}


def run_partial(steps: dict[str, Step], ctx: Context, jobs: int = 1, dask: str | None = None, log=print,
                order: str = "longest", first: list[str] | None = None, cores: int | None = None) -> dict:
    """`--partial`: train and search nothing; make the adversarial sets whose source model exists, run the
    evaluations whose inputs all exist, evaluate the others over the victims and sets that exist
    (NAME.partial.csv), and write every page, partial where something is missing."""
    total = {"done": [], "ran": [], "failed": {}, "blocked": []}

    def run(kind: str) -> None:
        ready = {k: s for k, s in steps.items() if s.kind == kind and s.status(ctx).state != "waiting"}
        if ready:
            res = execute(ready, ctx, jobs, dask, log, steps, order, first, cores)
            for k in ("done", "ran", "blocked"):
                total[k] += res[k]
            total["failed"].update(res["failed"])

    def partial(kind: str) -> None:
        for sid, s in steps.items():
            if s.kind != kind or s.status(ctx).state != "waiting":
                continue
            if any(d in total["failed"] for d in s.deps):
                total["blocked"].append(sid)
                continue
            try:
                if s.run_partial(ctx, log=lambda m, sid=sid: print(f"[{sid}] {m}", flush=True)):
                    total["ran"].append(f"{sid} (partial)")
            except (ValueError, OSError, RuntimeError) as e:
                total["failed"][sid] = str(e).splitlines()[0] if str(e) else type(e).__name__
                log(f"[{sid}] failed: {total['failed'][sid]}")

    run("attack")
    run("eval")
    partial("eval")
    run("report")
    partial("report")
    return total


def reproduce(plans: list[str], ctx: Context, only: list[str] | None = None, dry: bool = False, jobs: int = 1,
              dask: str | None = None, log=print, order: str = "longest", cores: int | None = None,
              timing: bool = True) -> dict:
    """The `axx reproduce` entry: load and check every plan first, then list or run their steps, working
    in the repository root (plans' paths are relative to it). `cores`: how many of this machine's cores the
    local steps may use (default all; fewer leaves the rest to another run beside this one, e.g. the zoo's
    trainings and a campaign plan: each on all the cores, their threads would contend, which costs far more
    than it gains). `timing=False`: the dry run times nothing (cached rates at any load, else no projection)."""
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    here = machine_cores()
    if cores is not None and not 1 <= cores <= here:
        raise ValueError(f"--cores must be between 1 and the {here} cores this process may use, got {cores}")
    if cores is not None and dask:
        raise ValueError("--cores shares this machine's cores between local steps; with --dask the steps run on the "
                         "cluster's workers, whose threads their own settings choose (dask worker --nthreads)")
    given, cores = cores is not None, cores or here
    if ctx.resume and ctx.restart:
        raise ValueError("--resume and --restart exclude each other")
    check_order(order)
    loaded = [load_plan(p) for p in plans]
    if not loaded:
        raise ValueError("name at least one plan")
    if ctx.n_images is None:
        sizes = {p.n_images for p in loaded}
        if len(sizes) > 1:
            raise ValueError(f"the plans use different test subsets ({', '.join(map(str, sizes))} images): run them "
                             "apart, or give --n-images")
        ctx.n_images = sizes.pop()
    os.chdir(REPO)
    everything = derive_steps(loaded, ctx)
    steps = select(everything, only)
    first = [pat for p in loaded for pat in p.first]
    for p in loaded:
        for pat in p.first:
            if not any(fnmatch.fnmatchcase(sid, pat) for sid in everything):
                raise ValueError(f"{p.path.name}: first: {pat!r} matches no step; the steps are: {', '.join(everything)}")
    import torch
    threads = torch.get_num_threads()
    if not dask and (given or jobs > 1):
        # each local worker runs on cores / jobs threads (one job: in this process; left to torch's default, which
        # follows OMP_NUM_THREADS, unless --cores is given): the dry run projects at that pace (timed rates, and
        # the paces of interrupted trainings that ran so, which record their thread count)
        torch.set_num_threads(max(1, cores // jobs))
    try:
        if dry:
            rates = Rates(Path(ctx.work) / "rates.json", log, timing=timing, guess=False)
            return dry_run(steps, ctx, rates, log, everything,
                           jobs=jobs if not dask else 1, order=order, first=first)
        res = (run_partial(steps, ctx, jobs, dask, log, order, first, cores) if ctx.partial
               else execute(steps, ctx, jobs, dask, log, everything, order, first, cores))
    finally:
        torch.set_num_threads(threads)
    if res["failed"] or res["blocked"]:
        log(f"{len(res['failed'])} step(s) failed, {len(res['blocked'])} not run: "
            + "; ".join(f"{k}: {v}" for k, v in res["failed"].items()))
    return res


__all__ = ["NOT_NEEDED", "REPO", "Rates", "Untimed", "dry_run", "execute", "record_recipes", "reproduce", "run_partial", "run_step",
           "select", "statuses"]
