"""Which ready step starts first: the one heading the longest chain of projected work, so a run ends sooner on
the same workers; the dry run's wall time is that schedule simulated, dependencies included; the runner starts
steps in that order (and one worker keeps the plans' order)."""
import concurrent.futures as cf
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.campaign import runner
from experiments.campaign.schedule import chains, makespan, ordered, priority, tiers
from experiments.campaign.steps import Context, Status, Step

# the zoo's case: a long chain (ResNet-56 quant -> approx -> approx AT) listed after two short fine-tunes
ZOO_LIKE = {"short1": [], "short2": [], "long": [], "after_long": ["long"], "last": ["after_long"]}
COSTS = {"short1": 1.0, "short2": 1.0, "long": 10.0, "after_long": 2.0, "last": 3.0}


def test_chains_sum_each_step_with_its_costliest_chain_of_dependants():
    deps = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": []}
    costs = {"a": 1.0, "b": 5.0, "c": 2.0, "d": 1.0, "e": 4.0}
    assert chains(deps, costs) == {"a": 7.0, "b": 6.0, "c": 3.0, "d": 1.0, "e": 4.0}


def test_longest_chain_starts_first_and_ends_the_run_sooner():
    chain = chains(ZOO_LIKE, COSTS)
    assert ordered(["short1", "short2", "long"], chain) == ["long", "short1", "short2"]
    assert ordered(["short1", "short2", "long"], chain, "plan") == ["short1", "short2", "long"]
    # two workers: 'long' from 0 to 10, its chain to 15, the short ones beside it
    assert makespan(ZOO_LIKE, COSTS, 2) == 15.0
    # in the plans' order 'long' waits for a short one: 1 + 10 + 2 + 3
    assert makespan(ZOO_LIKE, COSTS, 2, "plan") == 16.0
    assert makespan(ZOO_LIKE, COSTS, 1) == makespan(ZOO_LIKE, COSTS, 1, "plan") == sum(COSTS.values())
    with pytest.raises(ValueError, match="longest, plan"):
        ordered(["a"], {}, "random")


def test_a_plan_s_first_steps_start_before_the_longest_chain():
    tier = tiers(ZOO_LIKE, ["short2", "short*"])
    assert tier == {"short2": 0, "short1": 1, "long": 2, "after_long": 2, "last": 2}
    chain = chains(ZOO_LIKE, COSTS)
    assert ordered(["short1", "short2", "long"], chain, "longest", tier) == ["short2", "short1", "long"]
    assert ordered(["long", "short1", "short2"], chain, "plan", tier) == ["short2", "short1", "long"]
    # as one number for Dask, higher first: the same order
    assert sorted(["short1", "short2", "long"], key=lambda s: -priority(s, chain, tier)) == ["short2", "short1", "long"]
    # the short ones first on both workers delay the long chain by one
    assert makespan(ZOO_LIKE, COSTS, 2, "longest", tier) == 16.0
    # the zoo plan keeps the campaign issue's order for its first models, then the longest chain
    from experiments.campaign import load_plan
    first = load_plan("zoo").first
    zoo = tiers(["train:resnet8_quant", "train:resnet32_approx_at", "train:resnet56_float", "train:resnet56_quant",
                 "train:resnet20_approx"], first)
    assert zoo["train:resnet8_quant"] < zoo["train:resnet32_approx_at"] < zoo["train:resnet56_float"] \
        < zoo["train:resnet56_quant"] == zoo["train:resnet20_approx"]


@st.composite
def dags(draw):
    n = draw(st.integers(1, 9))
    deps = {f"s{i}": sorted({f"s{j}" for j in draw(st.sets(st.integers(0, i - 1), max_size=3))} if i else set())
            for i in range(n)}
    costs = {s: float(draw(st.integers(0, 20))) for s in deps}
    return deps, costs


@given(dags(), st.integers(1, 4))
@settings(max_examples=200, deadline=None)
def test_simulated_wall_time_within_the_bounds_of_any_schedule(dag, jobs):
    deps, costs = dag
    chain = chains(deps, costs)
    total = sum(costs.values())
    for order in ("longest", "plan"):
        wall = makespan(deps, costs, jobs, order)
        # no schedule beats the longest chain or the work spread over every worker, and a list schedule is
        # within (2 - 1/jobs) of the best (Graham); one worker runs the steps back to back
        assert max([total / jobs, *chain.values()]) - 1e-9 <= wall <= total + 1e-9
        assert wall <= (2 - 1 / jobs) * max([total / jobs, *chain.values()]) + 1e-9
        if jobs == 1:
            assert wall == pytest.approx(total)
    # a dependency outside the steps counts as done
    assert makespan({"x": ["gone"]}, {"x": 3.0}, 2) == 3.0


@dataclass
class FakeStep(Step):
    cost: float = 0.0
    ran: list = field(default_factory=list)
    kind = "fake"

    def status(self, ctx):
        return Status("todo")

    def estimate_s(self, ctx, rates):
        return self.cost

    def run(self, ctx, log=print):
        pass


class InlinePool:
    """Runs each submitted step at once, in this process, and records the order they started in."""
    started: list = []

    def __init__(self, jobs, cores=None):
        pass

    def submit(self, step, ctx, priority=0.0):
        InlinePool.started.append((step.id, priority))
        fut = cf.Future()
        fut.set_result(step.id)
        return fut

    def wait_any(self, futures):
        return [f for f in futures if f.done()][:1]

    def close(self):
        pass


@pytest.mark.parametrize("jobs, order, plan_first, first", [
    (2, "longest", None, ["long", "short1"]), (2, "plan", None, ["short1", "short2"]),
    (2, "longest", ["short2"], ["short2", "long"]), (1, "longest", ["short2"], None)])
def test_runner_starts_the_longest_chain_first(tmp_path, monkeypatch, jobs, order, plan_first, first):
    steps = {sid: FakeStep(sid, list(deps), cost=COSTS[sid]) for sid, deps in ZOO_LIKE.items()}
    ctx = Context(zoo=str(tmp_path / "zoo"), work=str(tmp_path / "work"), results=str(tmp_path / "res"))
    monkeypatch.setattr(runner, "_Local", InlinePool)
    ran: list = []
    monkeypatch.setattr(runner, "run_step", lambda step, ctx, threads=None: ran.append(step.id))
    InlinePool.started = []
    res = runner.execute(steps, ctx, jobs=jobs, log=lambda *a: None, order=order, first=plan_first)
    assert sorted(res["ran"]) == sorted(ZOO_LIKE)
    if first is None:  # one worker: the plans' order, whatever the order asked
        assert ran == list(ZOO_LIKE)
    else:
        assert [s for s, _ in InlinePool.started[:2]] == first
        if order == "longest" and not plan_first:  # the chain's seconds travel as the Dask priority
            assert dict(InlinePool.started)["long"] == 15.0


def test_dry_run_wall_time_is_the_simulated_schedule(tmp_path):
    steps = {sid: FakeStep(sid, list(deps), cost=COSTS[sid]) for sid, deps in ZOO_LIKE.items()}
    ctx = Context(zoo=str(tmp_path / "zoo"), work=str(tmp_path / "work"), results=str(tmp_path / "res"))

    class Rates:
        calibration, paces = 1.0, {}

    said: list = []
    res = runner.dry_run(steps, ctx, Rates(), log=said.append, jobs=2)
    assert res["wall_s"] == 15.0 and said[-1].endswith("about 15 s of wall time") and "longest chain" in said[-1]
    res = runner.dry_run(steps, ctx, Rates(), log=said.append, jobs=2, order="plan")
    assert res["wall_s"] == 16.0


def test_untimed_rates_read_the_cache_at_any_load_and_weigh_the_rest_by_work(tmp_path):
    import json

    from experiments.checkpoints import conv_macs
    r = runner.Rates(tmp_path / "rates.json", timing=False)
    key = r.key
    (tmp_path / "rates.json").write_text(json.dumps({key: {"eval:resnet8:quant": {"images_per_s": 5.0,
                                                                                   "load": 99.0}}}))
    r = runner.Rates(tmp_path / "rates.json", log=lambda *a: pytest.fail("timed a rate"), timing=False)
    assert r.eval("resnet8", "quant") == 5.0
    assert r.eval("resnet20", "float") / r.eval("resnet56", "float") == pytest.approx(
        conv_macs("resnet56") / conv_macs("resnet20"))
    assert r.train("resnet20", "float") == pytest.approx(r.eval("resnet20", "float") / 3)
    assert "resnet20" not in (tmp_path / "rates.json").read_text()  # an untimed guess is never cached
