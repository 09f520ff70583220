"""The steps of a campaign, derived from its plans: trainings (from scratch, fine-tunes, adversarial
trainings), adversarial sets, evaluations, searches and the results page. Each step knows its
output, the steps it needs, whether it is done (by content: campaign/../provenance.py), and how long
it should take here; running one calls the same function as the matching `axx` command, which
skips or resumes by itself. Steps are plain data, so they travel to worker processes and Dask.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from ..provenance import is_complete, read_sidecar, stale_reason
from .names import AT_EPS, ZOO_RECIPE, ModelName
from .plan import Plan

TRAIN_IMAGES, TEST_IMAGES = 45_000, 10_000


@dataclass
class Context:
    """Where a campaign reads and writes, relative to the repository root (the runner works there)."""
    zoo: str = "experiments/zoo"
    work: str = "artifacts/campaign"        # adversarial sets (large: not committed)
    results: str = "experiments/results"
    data_dir: str | None = None
    n_images: int | None = None             # first N test images for sets and evaluations (None: all 10,000)
    resume: bool = False
    restart: bool = False
    progress: bool = True
    partial: bool = False                   # --partial: evaluate and report what the trained models allow now
    device: str = "auto"                    # where steps compute (auto: a CUDA GPU when torch sees one); no identity

    def model(self, m: ModelName) -> str:
        return f"{self.zoo}/{m.name}.pt"

    def advset(self, set_id: str) -> str:
        return f"{self.work}/sets{'' if self.n_images is None else f'-n{self.n_images}'}/{set_id}.pt"

    def result_dir(self, plan: str) -> str:
        return f"{self.results}/{plan}{'' if self.n_images is None else f'-n{self.n_images}'}"


DAMAGED = ("changed since it was made", "has no readable sidecar")  # stale_reason's words for a damaged model


@dataclass
class Status:
    state: str            # done | todo | interrupted | waiting | damaged
    detail: str = ""


@dataclass
class Step:
    id: str
    deps: list[str] = field(default_factory=list)

    kind = "step"

    def output(self, ctx: Context) -> str:
        raise NotImplementedError

    def status(self, ctx: Context) -> Status:
        raise NotImplementedError

    def estimate_s(self, ctx: Context, rates) -> float:
        return 0.0

    def run(self, ctx: Context, log=print) -> None:
        raise NotImplementedError

    def kept_files(self, ctx: Context) -> list[Path]:
        """The files in which a stopped run of this step keeps its work, where they exist and travel with the
        checkout (commit them, and another machine continues the step): none for most steps."""
        return []


def _existing(*paths) -> list[Path]:
    return [Path(p) for p in paths if Path(p).is_file()]


@dataclass
class TrainStep(Step):
    model: ModelName = None
    overrides: dict = field(default_factory=dict)

    kind = "train"

    def config(self, ctx: Context):
        from ..parsing import parse_eps
        from ..train import TrainConfig
        init = self.model.init
        return TrainConfig(arch=self.model.arch, exec_type=self.model.params, init=ctx.model(init) if init else None,
                           at_eps=parse_eps(AT_EPS) if self.model.at else None, data_dir=ctx.data_dir,
                           **{"device": ctx.device, **self.overrides})

    def output(self, ctx: Context) -> str:
        return ctx.model(self.model)

    def kept_files(self, ctx: Context) -> list[Path]:
        return _existing(self.output(ctx) + ".state", self.output(ctx) + ".state.json")

    def status(self, ctx: Context) -> Status:
        from ..train import train_config
        init = self.model.init
        if init is not None and not Path(ctx.model(init)).is_file():
            return Status("waiting", f"needs {init.name}")
        c, cfg, inputs = train_config(self.config(ctx))
        why = stale_reason(self.output(ctx), cfg, inputs)
        if why is None:
            return Status("done")
        if why.startswith(DAMAGED):  # a zoo model costs hours: never retrained over without being asked
            return Status("damaged", f"{self.output(ctx)} {why}: restore it (git checkout {self.output(ctx)}) or "
                                     "make it again with --restart")
        state = read_sidecar(self.output(ctx) + ".state")
        if state and Path(self.output(ctx) + ".state").is_file():
            return Status("interrupted", f"epoch {state.get('epoch', '?')} of {c.epochs} saved")
        return Status("todo", "" if why == "does not exist" else why)

    def epochs_left(self, ctx: Context) -> tuple[int, int]:
        c = self.config(ctx).resolved()
        st = read_sidecar(self.output(ctx) + ".state") if Path(self.output(ctx) + ".state").is_file() else None
        done = int(st.get("epoch", 0)) if st and st.get("config", {}).get("epochs") == c.epochs else 0
        return c.epochs - done, c.epochs

    def estimate_s(self, ctx: Context, rates) -> float:
        left, _ = self.epochs_left(ctx)
        own = self._own_rate(ctx)
        if own:  # an interrupted run's own pace on its machine beats a few timed steps
            return left * own
        pace = getattr(rates, "paces", {}).get(self.model.params)
        if pace:  # an interrupted run of these parameters here, scaled by work: the steadiest projection
            return left * pace * self.work(ctx)
        scale = getattr(rates, "calibration", 1.0)
        return scale * (left * self.timed_epoch_s(ctx, rates)
                        + TEST_IMAGES / rates.eval(self.model.arch, self.model.params))

    def work(self, ctx: Context) -> float:
        """One epoch's work in multiply-accumulates: training images x the network's MACs per image, twice
        for adversarial training (one more forward and backward per step)."""
        from ..checkpoints import conv_macs
        c = self.config(ctx).resolved()
        return min(TRAIN_IMAGES, c.subset or TRAIN_IMAGES) * conv_macs(self.model.arch) * (2.0 if self.model.at else 1.0)

    def timed_epoch_s(self, ctx: Context, rates) -> float:
        """One epoch's seconds from the timed training steps (`rates`: the faster of eager and compiled)."""
        c = self.config(ctx).resolved()
        images = min(TRAIN_IMAGES, c.subset or TRAIN_IMAGES)
        rate = rates.train(self.model.arch, self.model.params)
        return images / rate * (2.0 if self.model.at else 1.0) + 5000 / rates.eval(self.model.arch, self.model.params)

    def _own_rate(self, ctx: Context) -> float | None:
        """Seconds per epoch of the interrupted run in OUT.state, if one is there and its epochs ran on the
        machine that would continue it (a state trained on a GPU says nothing of a CPU's pace)."""
        from emulator.safe_load import load_plain

        from ..machine import pace_key
        p = Path(self.output(ctx) + ".state")
        if not p.is_file():
            return None
        try:
            pace = load_plain(p, "training state")["pace"]
            if pace["machine"] != pace_key(self.config(ctx).resolved().device):
                return None
            # the median of its latest epochs here: an hour of sharing the CPU with another job (or a session's
            # slow start) would bias a mean over every epoch for the rest of the training
            if pace.get("latest"):
                return statistics.median(uncontended_epochs(pace))
            return float(pace["seconds"]) / int(pace["epochs"])  # states of earlier versions: only the mean
        except (ValueError, KeyError, TypeError, ZeroDivisionError):
            return None

    def run(self, ctx: Context, log=print) -> None:
        from ..train import train
        train(self.config(ctx), self.output(ctx), resume=ctx.resume, restart=ctx.restart, progress=ctx.progress,
              log=log)


def uncontended_epochs(pace: dict) -> list[float]:
    """A state's latest epoch times (s), each as it would have taken with the share of the processor its least
    contended epoch got: a CPU epoch's processor time over its wall time says how much of the epoch other
    jobs took (a CI run or a benchmark beside a training made its epochs 2.5x longer, and the median of three
    such epochs projected a 2.4 h rest at 5.5 h). Epochs recorded without processor time (states of earlier
    versions) keep their wall time until MIN_TIMED epochs with it exist, then are left out: their contention is
    unknown (a window of ten such epochs projected ResNet-32 quant at 14.7 min an epoch, where epochs beside only
    the other training took 7.5)."""
    walls = [float(w) for w in pace["latest"]]
    cpus = [float(c) for c in pace.get("latest_cpu") or []][-len(walls):]
    timed = walls[len(walls) - len(cpus):]
    shares = [c / w for w, c in zip(timed, cpus) if w > 0 and c > 0]
    if not shares:
        return walls
    best = max(shares)
    counted = [c / best if c > 0 else w for w, c in zip(timed, cpus)]
    return counted if len(shares) >= MIN_TIMED else walls[:len(walls) - len(cpus)] + counted


MIN_TIMED = 3  # epochs with processor time that outweigh a state's older epochs without it


_RECIPES: dict = {}  # AttackStep.recipe's memory: (step, source file version, test subset, data) -> key


def autoattack_iters(standing: float | None) -> float:
    """Gradient-step equivalents per image of torchattacks' standard AutoAttack: APGD-CE's 100 steps on every
    image, then APGD-T, FAB-T and Square (about 1,900 more) on the images APGD-CE leaves standing, a share no
    larger than what adaptive PGD leaves (`standing`; all of them where that is unmeasured). Measured: ResNet-8
    float AT (adaptive PGD leaves 0.0 %), 100 images in 8.7 s on one thread of a 2-core Xeon, where 2,000 steps
    an image projected 4 min."""
    return 100 + 1900 * (1.0 if standing is None else min(1.0, max(0.0, standing)))


@dataclass
class AttackStep(Step):
    set_id: str = ""
    source: ModelName = None
    attack: str = ""
    eps: str = ""
    exec: str = ""
    alpha: str | None = None
    steps: int | None = None
    adaptive: bool = False

    kind = "attack"

    def kwargs(self, ctx: Context) -> dict:
        from ..parsing import parse_eps
        return dict(source=ctx.model(self.source), exec_type=self.exec, attack=self.attack, eps=parse_eps(self.eps),
                    alpha=parse_eps(self.alpha) if self.alpha else None, steps=self.steps, n=ctx.n_images,
                    data_dir=ctx.data_dir, adaptive=self.adaptive)

    def output(self, ctx: Context) -> str:
        return ctx.advset(self.set_id)

    def status(self, ctx: Context) -> Status:
        from ..attacks import attack_config
        if not Path(ctx.model(self.source)).is_file():
            return Status("waiting", f"needs {self.source.name}")
        from ..attacks import AttackState
        prov, inputs, (_, y) = attack_config(**self.kwargs(ctx))
        why = stale_reason(self.output(ctx), prov, inputs)
        if why is None:
            return Status("done")
        state = AttackState(self.output(ctx), prov, inputs)
        if state.exists():
            return Status("interrupted", f"{state.done() or '?'} of {len(y)} images saved")
        return Status("todo", "" if why == "does not exist" else why)

    def recipe(self, ctx: Context) -> str | None:
        """The recipe key of the set this step makes (provenance.recipe_key: what its sidecar will record), known
        before the set exists; None while its source model is missing. Remembered per source file version
        (many tables ask for the same set's; each computation reads the test images)."""
        from ..attacks import attack_config
        from ..provenance import digest_inputs, recipe_key
        src = Path(ctx.model(self.source))
        if not src.is_file():
            return None
        st = src.stat()
        key = (self.id, src.resolve(), st.st_size, st.st_mtime_ns, ctx.n_images, ctx.data_dir)
        if key not in _RECIPES:
            prov, inputs, _ = attack_config(**self.kwargs(ctx))
            _RECIPES[key] = recipe_key(prov, digest_inputs(inputs))
        return _RECIPES[key]

    def estimate_s(self, ctx: Context, rates) -> float:
        n = ctx.n_images or TEST_IMAGES
        # FGSM: one gradient; BIM / PGD: 10 steps; Square (up to 5,000 queries, fewer once an image falls): a
        # rough equivalent in gradient steps; AutoAttack: see autoattack_iters
        iters = {"fgsm": 1, "ffgsm": 1, "square": 1000}.get(self.attack, self.steps or 10)
        if self.attack == "autoattack":
            iters = autoattack_iters(self.standing_share(ctx))
        left = n
        if Path(self.output(ctx) + ".state").is_file():  # an interrupted attack: only its images left
            done = (read_sidecar(self.output(ctx) + ".state") or {}).get("done")
            left = max(0, n - done) if isinstance(done, int) else n
        return left * iters / rates.train(self.source.arch, self.exec) + 2 * n / rates.eval(self.source.arch, self.exec)

    def standing_share(self, ctx: Context) -> float | None:
        """The share of the test images this step's victim kept under adaptive PGD at the same eps, where any
        results table under ctx.results measured it (None where none did)."""
        if not self.adaptive:
            return None
        from ..parsing import parse_eps
        from .results_page import _all_rows
        eps = parse_eps(self.eps)
        for r in _all_rows(Path(ctx.results))[0]:
            if (r.get("adaptive") == "True" and r.get("attack") == "pgd" and r.get("victim_exec") == self.exec
                    and Path(r.get("victim") or "").stem == self.source.name):
                try:
                    if abs(float(r.get("eps")) - eps) < 1e-9:
                        return float(r.get("adv_acc"))
                except (TypeError, ValueError):
                    continue  # a damaged row projects nothing
        return None

    def run(self, ctx: Context, log=print) -> None:
        from ..attacks import run_attack
        run_attack(out=self.output(ctx), progress=ctx.progress, log=log, device=ctx.device, resume=ctx.resume,
                   restart=ctx.restart, **self.kwargs(ctx))


@dataclass
class EvalStep(Step):
    plan: str = ""
    name: str = ""
    victims: list[ModelName] = field(default_factory=list)
    exec: list[str] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)
    levels: int = 0
    makers: dict = field(default_factory=dict)          # set id -> the AttackStep that makes it

    kind = "eval"

    def args(self, ctx: Context) -> tuple:
        return ([ctx.model(v) for v in self.victims], list(self.exec), [ctx.advset(s) for s in self.sets])

    def output(self, ctx: Context) -> str:
        return f"{ctx.result_dir(self.plan)}/{self.name}.csv"

    def status(self, ctx: Context) -> Status:
        from ..evaluation import eval_config
        victims, execs, sets = self.args(ctx)
        missing = [Path(p).stem for p in victims if not Path(p).is_file()]
        absent = {p: sid for sid, p in zip(self.sets, sets) if not Path(p).is_file()}
        if missing:
            return _waiting(missing + [Path(p).stem for p in absent])
        cfg, inputs = eval_config(victims, execs, sets, self.levels, ctx.data_dir)
        why = stale_reason(self.output(ctx), cfg, inputs, _standins(self.output(ctx), inputs, absent, self.makers, ctx))
        if why is None:
            return Status("done", f"made from {len(absent)} set(s) not here, by their unchanged recipes" if absent
                          else "")
        if absent:
            return _waiting([Path(p).stem for p in absent], _unvouched(self.output(ctx)))
        kept = self._kept(ctx)
        detail = "" if why == "does not exist" else why
        return Status("todo", f"{detail}{'; ' if detail and kept else ''}{kept} rows kept by an interrupted run"
                      if kept else detail)

    def result(self, ctx: Context) -> str:
        return self.output(ctx)

    def inputs(self, ctx: Context) -> dict:
        from ..evaluation import eval_config
        return eval_config(*self.args(ctx), self.levels, ctx.data_dir)[1]

    def kept_files(self, ctx: Context) -> list[Path]:
        from ..eval_reuse import progress_path
        from ..provenance import sidecar_path
        kept = progress_path(self.output(ctx))
        return _existing(kept, sidecar_path(kept))

    def _kept(self, ctx: Context) -> int:
        """Rows an interrupted run of this table kept (eval_reuse.py takes them up by content)."""
        from ..eval_reuse import progress_path
        meta = read_sidecar(progress_path(self.output(ctx))) or {}
        return int(meta.get("rows") or 0) if isinstance(meta.get("rows"), int) else 0

    def estimate_s(self, ctx: Context, rates) -> float:
        n = ctx.n_images or TEST_IMAGES
        whole = sum(2 * n * len(self.sets) / rates.eval(v.arch, e) for v in self.victims for e in self.exec)
        rows = len(self.victims) * len(self.exec) * len(self.sets)
        return whole * max(0, rows - self._kept(ctx)) / max(1, rows)

    def run(self, ctx: Context, log=print) -> None:
        from ..evaluation import eval_to_csv
        victims, execs, sets = self.args(ctx)
        eval_to_csv(victims, execs, sets, self.output(ctx), levels=self.levels, data_dir=ctx.data_dir, log=log,
                    device=ctx.device, reuse_from=[self.partial_output(ctx)], restart=ctx.restart,
                    progress=ctx.progress)
        drop_partial(self.partial_output(ctx))  # the complete table supersedes it

    def partial_output(self, ctx: Context) -> str:
        return partial_path(self.output(ctx))

    def available(self, ctx: Context) -> tuple[list[str], list[str]]:
        """The victims and sets of this evaluation that exist now (their model / set file)."""
        victims, _, sets = self.args(ctx)
        return [v for v in victims if is_complete(v)], [s for s in sets if is_complete(s)]

    def run_partial(self, ctx: Context, log=print) -> str | None:
        """Evaluate the victims and sets that exist into NAME.partial.csv (a name no complete reader takes
        for the table); None when nothing exists yet. Skipped by content like the complete table."""
        from ..evaluation import eval_to_csv
        victims, sets = self.available(ctx)
        if not victims or not sets:
            drop_partial(self.partial_output(ctx))
            return None
        eval_to_csv(victims, list(self.exec), sets, self.partial_output(ctx), levels=self.levels,
                    data_dir=ctx.data_dir, log=log, device=ctx.device, reuse_from=[self.output(ctx)],
                    restart=ctx.restart, progress=ctx.progress)
        return self.partial_output(ctx)


@dataclass
class SearchStep(Step):
    plan: str = ""
    name: str = ""
    victim: ModelName = None
    set_id: str = ""
    settings: dict = field(default_factory=dict)
    maker: AttackStep | None = None                     # the step that makes its adversarial set

    kind = "search"

    def config(self, ctx: Context):
        from ..search import SearchConfig
        s = dict(self.settings)
        s["objectives"] = tuple(s.get("objectives", ("adv", "std")))
        s.setdefault("device", ctx.device)
        return SearchConfig(victim=ctx.model(self.victim), advset=ctx.advset(self.set_id), data_dir=ctx.data_dir, **s)

    def output(self, ctx: Context) -> str:
        return f"{ctx.result_dir(self.plan)}/search-{self.name}"

    def status(self, ctx: Context) -> Status:
        from dataclasses import asdict

        cfg = self.config(ctx)
        if not Path(cfg.victim).is_file():
            return _waiting([Path(p).stem for p in (cfg.victim, cfg.advset) if not Path(p).is_file()])
        absent = {} if Path(cfg.advset).is_file() else {cfg.advset: self.set_id}
        inputs, front = self.inputs(ctx), self.result(ctx)
        why = stale_reason(front, asdict(cfg), inputs,
                           _standins(front, inputs, absent, {self.set_id: self.maker} if self.maker else {}, ctx))
        if why is None:
            return Status("done", "made from a set not here, by its unchanged recipe" if absent else "")
        n, kept = self.generations_saved(ctx), self._genomes_kept(ctx)
        more = f", {kept} genome(s) of the next kept" if kept else ""
        if absent:
            # an interrupted search that came with the checkout continues once its set is made here again
            return _waiting([Path(cfg.advset).stem], f"generation {n} of {cfg.gens} saved{more}" if n is not None
                            else _unvouched(front))
        if n is not None:
            return Status("interrupted", f"generation {n} of {cfg.gens} saved{more}")
        if kept:
            return Status("todo", f"{kept} genome(s) of generation 1 kept by a stopped run")
        return Status("todo", "" if why == "does not exist" else why)

    def kept_files(self, ctx: Context) -> list[Path]:
        from ..search.journal import JOURNAL
        from ..search.state import STATE
        return _existing(Path(self.output(ctx)) / STATE, Path(self.output(ctx)) / JOURNAL)

    def _genomes_kept(self, ctx: Context) -> int:
        """Genomes of the generation under way that a stopped run journaled (search/journal.py; checked when
        the search resumes, counted here)."""
        from ..search.journal import JOURNAL, genomes_journaled
        return genomes_journaled(Path(self.output(ctx)) / JOURNAL)

    def generations_saved(self, ctx: Context) -> int | str | None:
        """Generations an interrupted run saved (its state.json, committed with the results so that another
        machine continues it); "?" for an unreadable state, None without one."""
        from ..search.state import STATE, read_state
        state = Path(self.output(ctx)) / STATE
        if not state.is_file():
            return None
        try:
            return read_state(state)["n_iter"] - 1
        except ValueError:
            return "?"

    def result(self, ctx: Context) -> Path:
        return Path(self.output(ctx)) / "pareto.csv"

    def inputs(self, ctx: Context) -> dict:
        """What the search reads, as search/run.py records it."""
        from ..data import data_files
        from ..provenance import lut_tables
        cfg = self.config(ctx)
        return {"victim": cfg.victim, "adversarial set": cfg.advset, **data_files(("test", "train"), cfg.data_dir),
                "lut": lut_tables()}

    def estimate_s(self, ctx: Context, rates) -> float:
        cfg = self.config(ctx)
        n = cfg.n_images or ctx.n_images or TEST_IMAGES
        done = self.generations_saved(ctx)
        gens = max(0, cfg.gens - done) if isinstance(done, int) else cfg.gens
        # its genomes' levels, not level 0: their error planes make an evaluation several times slower
        return cfg.pop * gens * 2 * n / rates.eval(self.victim.arch, "approx", cfg.axx_levels)

    def run(self, ctx: Context, log=print) -> None:
        from ..search import run_search
        run_search(self.config(ctx), self.output(ctx), resume=ctx.resume, restart=ctx.restart, progress=ctx.progress,
                   log=log)


@dataclass
class ReportStep(Step):
    plan_path: str = ""
    evals: list[str] = field(default_factory=list)      # result CSVs, by EvalStep output
    models: list[str] = field(default_factory=list)     # zoo checkpoints of the accuracy tables
    searches: list[str] = field(default_factory=list)   # search folders

    kind = "report"

    def output(self, ctx: Context) -> str:
        from .plan import load_plan
        return f"{ctx.result_dir(load_plan(self.plan_path).name)}.md"

    def status(self, ctx: Context) -> Status:
        # an input a killed run left without its sidecar is missing, never read back as complete
        missing = [p for p in self.evals + self.models if not is_complete(p)] + \
                  [s for s in self.searches if not is_complete(Path(s) / "pareto.csv")]
        if missing:
            return Status("waiting", f"needs {len(missing)} result{'s' if len(missing) > 1 else ''}")
        why = stale_reason(self.output(ctx), self._config(), self._inputs())
        return Status("done") if why is None else Status("todo", "" if why == "does not exist" else why)

    def _config(self) -> dict:
        # the plan's content is an input; its name (not where the checkout lives) is the configuration
        return {"plan": Path(self.plan_path).name}

    def _inputs(self, evals: list[str] | None = None, models: list[str] | None = None,
                searches: list[str] | None = None) -> dict:
        """What the page is made from: all its inputs, or (for a partial page) the ones that exist."""
        from .claims import CLAIMS_TOML
        from .results_page import NOTES_TOML, THESIS_CSV
        evals = self.evals if evals is None else evals
        models = self.models if models is None else models
        searches = self.searches if searches is None else searches
        # the thesis's numbers, its claims' tests and the deviation notes the page quotes: an edit remakes it
        return {**{f"results {p}": p for p in evals}, **{f"model {p}": p for p in models},
                **{f"search {s}": f"{s}/pareto.csv" for s in searches}, "plan": self.plan_path,
                "thesis numbers": str(THESIS_CSV), "claims": str(CLAIMS_TOML), "deviation notes": str(NOTES_TOML)}

    def run(self, ctx: Context, log=print) -> None:
        from ..provenance import write_sidecar
        from .plan import load_plan
        from .results_page import write_conclusions, write_results
        out = write_results(load_plan(self.plan_path), ctx, self.evals, self.models, self.searches)
        write_sidecar(out, {"config": self._config(), "complete": True}, self._inputs())
        for p in self.evals:
            drop_partial(partial_path(p))
        log(f"wrote {out} and {write_conclusions(ctx)}")

    def run_partial(self, ctx: Context, log=print) -> str:
        """The page from what exists now (complete tables, else partial ones; trained models), headed by
        what is missing. Its sidecar says partial, so the complete page is written over it once it can be."""
        from ..provenance import write_sidecar
        from .plan import load_plan
        from .results_page import write_conclusions, write_results
        evals = [p if is_complete(p) else partial_path(p) for p in self.evals]
        evals = [p for p in evals if is_complete(p)]
        models = [m for m in self.models if is_complete(m)]
        searches = [s for s in self.searches if is_complete(Path(s) / "pareto.csv")]
        missing = {"complete evaluation tables": [Path(p).stem for p in self.evals if not is_complete(p)],
                   "models": [Path(m).stem for m in self.models if not is_complete(m)],
                   "searches": [Path(s).name for s in self.searches if not is_complete(Path(s) / "pareto.csv")]}
        missing = {k: v for k, v in missing.items() if v}
        out = write_results(load_plan(self.plan_path), ctx, evals, models, searches, missing=missing)
        write_sidecar(out, {"config": {**self._config(), "partial": True}, "complete": False, "missing": missing},
                      self._inputs(evals, models, searches))
        log(f"wrote {out} (partial) and {write_conclusions(ctx)}")
        return str(out)


def _waiting(missing: list[str], why: str = "") -> Status:
    return Status("waiting", f"needs {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}"
                             + (f" ({why})" if why else ""))


def _unvouched(result: str | Path) -> str:
    """Why a complete result waits for sets that are not here: it records no recipes for them (made before
    results did), so nothing shows it still matches them, and they are made again to check it."""
    side = read_sidecar(result)  # the recipes first: is_complete hashes the result
    if side is not None and not side.get("recipes") and is_complete(result):
        return "complete, but made before results recorded their sets' recipes: the sets are made again to check it"
    return ""


def _standins(result: str | Path, inputs: dict, absent: dict, makers: dict, ctx: Context) -> dict | None:
    """{role: recipe key} for the adversarial sets of `result` that are not here ({path: set id}), from the steps
    that would make them: a complete result made from sets of the same recipes stays up to date without them
    (provenance.stale_reason), so a new machine does not remake hours of sets for tables that are done. None
    when some set is missing with no recipe to stand in (no maker, or its source model is missing)."""
    if not absent:
        return None
    if not (read_sidecar(result) or {}).get("recipes"):
        return None  # a result that records no recipes needs its sets (cheap test first: no data is read)
    out = {}
    for role, path in inputs.items():
        if path in absent:
            maker = makers.get(absent[path])
            key = maker.recipe(ctx) if maker is not None else None
            if key is None:
                return None
            out[role] = key
    return out


def _repo_relative(path: Path) -> str:
    """A plan inside the checkout by its path from the root (sidecars committed with the results then
    name no machine's folders); others as given."""
    root = Path(__file__).resolve().parents[2]
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def partial_path(csv_path: str) -> str:
    return str(Path(csv_path).with_suffix(".partial.csv"))


def drop_partial(path: str) -> None:
    from ..provenance import sidecar_path
    for p in (Path(path), sidecar_path(path)):
        p.unlink(missing_ok=True)


def derive_steps(plans: list[Plan], ctx: Context) -> dict[str, Step]:
    """Every step the plans need, once each (plans share models and sets), in dependency order."""
    steps: dict[str, Step] = {}

    def add(step: Step) -> str:
        steps.setdefault(step.id, step)
        return step.id

    def train(m: ModelName, plan: Plan) -> str:
        deps = [train(m.init, plan)] if m.init is not None else []
        over = dict(ZOO_RECIPE.get(m.arch, {}))
        over.update(plan.training.get("all", {}))
        over.update(plan.training.get(m.arch, {}))
        if m.init is not None:  # the fine-tune and AT recipes are the thesis's; overrides are for scratch runs
            over = {k: v for k, v in over.items() if k in ("subset", "val_images", "test_images", "calib_images")}
        sid = f"train:{m.name}"
        if sid in steps and steps[sid].overrides != over:
            raise ValueError(f"two plans train {m.name} with different recipes ({steps[sid].overrides} and {over})")
        return add(TrainStep(id=sid, deps=deps, model=m, overrides=over))

    for plan in plans:
        for m in plan.models():
            train(m, plan)
        set_ids = {}
        for s in plan.sets:
            set_ids[s.id] = add(AttackStep(id=f"attack:{s.id}", deps=[train(s.source, plan)], set_id=s.id,
                                           source=s.source, attack=s.attack, eps=s.eps, exec=s.exec, alpha=s.alpha,
                                           steps=s.steps, adaptive=s.adaptive))
        evals, searches = [], []
        for e in plan.evaluations:
            step = EvalStep(id=f"eval:{plan.name}/{e.name}", deps=[train(v, plan) for v in e.victims]
                            + [set_ids[s] for s in e.sets], plan=plan.name, name=e.name, victims=e.victims,
                            exec=e.exec, sets=e.sets, levels=e.levels, makers={s: steps[set_ids[s]] for s in e.sets})
            add(step)
            evals.append(step)
        for s in plan.searches:
            settings = {k: getattr(s, k) for k in ("axx_levels", "pop", "gens", "n_images", "objectives", "operators",
                                                   "seed")}
            step = SearchStep(id=f"search:{plan.name}/{s.name}", deps=[train(s.victim, plan), set_ids[s.set]],
                              plan=plan.name, name=s.name, victim=s.victim, set_id=s.set, settings=settings,
                              maker=steps[set_ids[s.set]])
            add(step)
            searches.append(step)
        models = [ctx.model(m) for a in plan.accuracy for m in a.models]
        add(ReportStep(id=f"report:{plan.name}", deps=[e.id for e in evals] + [s.id for s in searches]
                       + [f"train:{m.name}" for a in plan.accuracy for m in a.models],
                       plan_path=_repo_relative(plan.path), evals=[e.output(ctx) for e in evals], models=models,
                       searches=[s.output(ctx) for s in searches]))
    return steps


__all__ = ["AttackStep", "Context", "EvalStep", "ReportStep", "SearchStep", "Status", "Step", "TrainStep",
           "derive_steps"]
