"""`axx reproduce`: plans derive the right steps, a run makes every artifact once and a rerun skips
them by content, retraining one model redoes exactly what depends on it, parallel runs equal serial
ones, and bad plans fail with one line naming the valid choices."""
import csv
from pathlib import Path

import pytest

from axx.cli import main
from experiments.campaign import Context, builtin_plans, derive_steps, load_plan, reproduce
from experiments.campaign.runner import dry_run, execute
from experiments.provenance import is_complete
from helpers import learnable_cifar

PLAN = """
title = "tiny"
n_images = 20
[training.all]
epochs = 1
subset = 80
batch_size = 40
val_images = 20
route = "eager"
calib_images = 40
[[sets]]
source = "resnet8_float"
attack = "fgsm"
[[sets]]
source = "resnet8_quant"
attack = "fgsm"
[[evaluations]]
name = "r8"
victims = ["resnet8_float", "resnet8_quant"]
exec = ["float", "quant"]
sets = ["resnet8_float-fgsm-eps8", "resnet8_quant-fgsm-eps8"]
[[accuracy]]
table = "4.1"
models = ["resnet8_float", "resnet8_quant"]
[[tables]]
table = "5.2"
arch = "resnet8"
attack = "fgsm"
"""


class FakeRates:
    def train(self, arch, e):
        return 100.0

    def eval(self, arch, e, max_level=0):
        return 1000.0 / (1 + max_level / 50)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("campaign")
    data = str(learnable_cifar(d / "cifar", n=40))
    (d / "tiny.toml").write_text(PLAN)
    return d, data


def ctx_for(d: Path, data: str, sub: str = "run", **kw) -> Context:
    return Context(zoo=str(d / sub / "zoo"), work=str(d / sub / "work"), results=str(d / sub / "results"),
                   data_dir=data, n_images=20, progress=False, **kw)


def test_builtin_plans_load_and_derive_the_zoo():
    assert set(builtin_plans()) >= {"table4_1", "table4_2", "fgsm", "bim", "pgd", "search", "quick", "beyond"}
    beyond = derive_steps([load_plan("beyond")], Context(n_images=1000))
    sq = beyond["attack:resnet32_quant_at-square-eps8-adaptive-quant"]
    assert sq.adaptive and sq.kwargs(Context())["source"] == "experiments/zoo/resnet32_quant_at.pt"
    assert beyond["eval:beyond/resnet32_approx_at"].exec == ["approx"]
    plans = [load_plan(p) for p in ("table4_1", "table4_2", "fgsm", "bim", "pgd", "search")]
    steps = derive_steps(plans, Context())
    trains = sorted(s for s in steps if s.startswith("train:"))
    assert len(trains) == 24  # the thesis's zoo: 4 depths x 3 parameter types x standard / AT
    assert steps["train:resnet32_approx_at"].deps == ["train:resnet32_approx"]
    assert steps["train:resnet32_approx"].deps == ["train:resnet32_quant"]
    assert steps["attack:resnet20_approx-bim-eps8"].deps == ["train:resnet20_approx"]
    assert {"attack:resnet32_float-pgd-eps8", "attack:resnet32_float-pgd-eps16"} <= set(steps)
    ev = steps["eval:fgsm/resnet8"]
    assert len(ev.victims) == 6 and ev.exec == ["float", "quant", "approx"]
    assert steps["search:search/levels50"].settings["axx_levels"] == 50
    # the fine-tune and AT recipes are the thesis's: 2 epochs from their init
    c = steps["train:resnet8_float_at"].config(Context()).resolved()
    assert (c.epochs, c.init, round(c.at_eps * 255)) == (2, "experiments/zoo/resnet8_float.pt", 1)


def test_run_skip_and_redo_by_content(tiny, capsys, monkeypatch):
    d, data = tiny
    ctx = ctx_for(d, data)
    said = []
    res = reproduce([str(d / "tiny.toml")], ctx, log=said.append)
    assert not res["failed"] and len(res["ran"]) == 6  # 2 trainings, 2 sets, 1 evaluation, the page
    page = Path(ctx.results) / "tiny-n20.md"
    text = page.read_text()
    assert "## Table 4.1" in text and "| resnet8_float |" in text and "## Table 5.2" in text
    assert "White-box" in text and "Partial white-box" in text
    # the thesis's claims that these rows measure, with a verdict each; all claims on the results README
    assert "## The thesis's claims, on these numbers" in text and "`quant-params-partial-white-box`" in text
    readme = (Path(ctx.results) / "README.md").read_text()
    assert "## Do they survive adaptive attacks?" in readme and "[tiny-n20](tiny-n20.md)" in readme
    assert "`tiny-n20/r8.csv`" in readme
    rows = list(csv.DictReader(open(Path(ctx.results) / "tiny-n20" / "r8.csv")))
    assert len(rows) == 8 and {r["scenario"] for r in rows} == {"white-box", "partial white-box"}
    said.clear()
    res = reproduce([str(d / "tiny.toml")], ctx_for(d, data), log=said.append)
    assert res["ran"] == [] and said == ["everything is up to date"]
    # retrain the quant model in place: its set, the evaluation and the page are redone, nothing else
    q = Path(ctx.zoo) / "resnet8_quant.pt"
    q.unlink()
    res = reproduce([str(d / "tiny.toml")], ctx_for(d, data, ), log=said.append)
    assert sorted(res["ran"]) == ["attack:resnet8_quant-fgsm-eps8", "eval:tiny/r8", "report:tiny",
                                  "train:resnet8_quant"]
    # dry run: everything done
    out = []
    dry_run(derive_steps([load_plan(d / "tiny.toml")], ctx), ctx, FakeRates(), log=out.append)
    assert "6 steps: 6 done" in out[-2]
    # a table made before sidecars held its sets' recipes gets them while the sets are here
    import json
    import shutil
    side = Path(ctx.results) / "tiny-n20" / "r8.csv.json"
    meta = json.loads(side.read_text())
    assert set(meta.pop("recipes")) == {"adversarial set 1", "adversarial set 2"}
    float_set = meta["inputs"]["adversarial set 1"]["sha256"]
    side.write_text(json.dumps(meta))
    said.clear()
    assert reproduce([str(d / "tiny.toml")], ctx, log=said.append)["ran"] == []
    assert said[0].startswith("recorded the recipes") and "recipes" in json.loads(side.read_text())
    # a new machine without the sets (never committed): the table and page stand by the sets' unchanged
    # recipes, and the sets are not made again
    shutil.rmtree(Path(ctx.work) / "sets-n20")
    said.clear()
    assert reproduce([str(d / "tiny.toml")], ctx, log=said.append)["ran"] == [] and said == ["everything is up to date"]
    out.clear()
    dry_run(derive_steps([load_plan(d / "tiny.toml")], ctx), ctx, FakeRates(), log=out.append)
    assert [line.split(None, 2)[1:] for line in out if line.startswith("attack:")] == \
        [["done", "not needed: every result made from it is done"]] * 2
    assert any(line.startswith("eval:tiny/r8") and "made from 2 set(s) not here" in line for line in out)
    # had the table recorded no recipes, the dry run says why its sets would be made again
    with_recipes = side.read_text()
    side.write_text(json.dumps({k: v for k, v in json.loads(with_recipes).items() if k != "recipes"}))
    out.clear()
    dry_run(derive_steps([load_plan(d / "tiny.toml")], ctx), ctx, FakeRates(), log=out.append)
    assert any(line.startswith("eval:tiny/r8") and "waiting" in line and "made before results recorded" in line
               for line in out)
    side.write_text(with_recipes)
    # a victim retrained: its table needs both sets again (the float one is made again, byte for byte)
    q.unlink()
    res = reproduce([str(d / "tiny.toml")], ctx, log=said.append)
    assert sorted(res["ran"]) == ["attack:resnet8_float-fgsm-eps8", "attack:resnet8_quant-fgsm-eps8", "eval:tiny/r8",
                                  "report:tiny", "train:resnet8_quant"]
    assert json.loads(side.read_text())["inputs"]["adversarial set 1"]["sha256"] == float_set
    # without the data: listed, never downloaded (the trainings here used other data than the official)
    import dataclasses

    from experiments import data as cifar

    def no(*a, **k):
        raise AssertionError("a dry run downloaded CIFAR-10")
    monkeypatch.setattr(cifar, "download", no)
    out.clear()
    bare = dataclasses.replace(ctx, data_dir=str(d / "no-data-here"))
    dry_run(derive_steps([load_plan(d / "tiny.toml")], bare), bare, FakeRates(), log=out.append)
    assert out[0].startswith(f"CIFAR-10 is not in {d / 'no-data-here'} (data_batch_1, ")
    assert [line.split()[1:3] for line in out if line.startswith("attack:")] == [["needs", "data"]] * 2
    assert not (d / "no-data-here").exists()


def test_parallel_equals_serial(tiny):
    d, data = tiny
    serial = ctx_for(d, data, "serial")
    reproduce([str(d / "tiny.toml")], serial, only=["train:*"], log=lambda *a: None)
    par = ctx_for(d, data, "par")
    # the same zoo, then sets and evaluations in 2 worker processes
    import shutil
    shutil.copytree(serial.zoo, par.zoo)
    res = reproduce([str(d / "tiny.toml")], par, jobs=2, log=lambda *a: None)
    assert not res["failed"] and not any(s.startswith("train:") for s in res["ran"])
    reproduce([str(d / "tiny.toml")], serial, log=lambda *a: None)
    key = lambda p: sorted((r["victim"].split("/")[-1], r["victim_exec"], r["advset"].split("/")[-1], r["std_acc"],  # noqa: E731
                            r["adv_acc"]) for r in csv.DictReader(open(p)))
    assert key(Path(par.results) / "tiny-n20" / "r8.csv") == key(Path(serial.results) / "tiny-n20" / "r8.csv")


def test_partial_pages_from_what_exists_then_complete(tiny, capsys, monkeypatch):
    """--partial trains nothing, evaluates the victims and sets that exist into NAME.partial.csv, and
    writes a page that names what is missing; the complete run supersedes both."""
    d, data = tiny
    ctx = ctx_for(d, data, "partial", partial=True)
    reproduce([str(d / "tiny.toml")], ctx_for(d, data, "partial"), only=["train:resnet8_float"], log=lambda *a: None)
    res = reproduce([str(d / "tiny.toml")], ctx, log=lambda *a: None)
    assert not res["failed"] and not (Path(ctx.zoo) / "resnet8_quant.pt").exists()  # nothing trained
    assert res["ran"] == ["attack:resnet8_float-fgsm-eps8", "eval:tiny/r8 (partial)", "report:tiny (partial)"]
    out = Path(ctx.results) / "tiny-n20"
    part = list(csv.DictReader(open(out / "r8.partial.csv")))
    assert {r["victim"].split("/")[-1] for r in part} == {"resnet8_float.pt"}
    assert {r["advset"].split("/")[-1] for r in part} - {""} == {"resnet8_float-fgsm-eps8.pt"}
    assert not (out / "r8.csv").exists()
    text = (Path(ctx.results) / "tiny-n20.md").read_text()
    assert "**Partial results.**" in text and "models: `resnet8_quant`" in text and "--partial`" in text
    assert "| resnet8_float | " in text and "| resnet8_quant | - |" in text
    readme = (Path(ctx.results) / "README.md").read_text()
    assert "[tiny-n20](tiny-n20.md) (partial: the zoo is still being trained)" in readme
    assert "The zoo: 1 of its 24 models trained (resnet8_float)" in readme
    # a second partial run finds nothing new to do but the page
    res = reproduce([str(d / "tiny.toml")], ctx_for(d, data, "partial", partial=True), log=lambda *a: None)
    assert res["ran"] == ["eval:tiny/r8 (partial)", "report:tiny (partial)"] and not res["failed"]
    # the complete run: trains the rest, writes the complete table (measuring only the rows the partial one
    # lacks) and page, drops the partial table; a dry run first shows the rows an interrupted run kept
    (out / "r8.csv.progress.json").write_text('{"rows": 3, "complete": false}')
    said = []
    reproduce([str(d / "tiny.toml")], ctx_for(d, data, "partial"), only=["train:*", "attack:*"], log=lambda *a: None)
    reproduce([str(d / "tiny.toml")], ctx_for(d, data, "partial"), dry=True, log=said.append)
    assert any(m.startswith("eval:tiny/r8") and "3 rows kept by an interrupted run" in m for m in said), said
    assert any(m.startswith("work of stopped steps") and m.endswith("r8.csv.progress.json") for m in said), said
    capsys.readouterr()
    res = reproduce([str(d / "tiny.toml")], ctx_for(d, data, "partial"), log=lambda *a: None)
    assert "report:tiny" in res["ran"] and not res["failed"]
    assert "took 2 of 8 rows from earlier evaluations" in capsys.readouterr().out
    assert not (out / "r8.csv.progress.json").exists()
    assert (out / "r8.csv").is_file() and not (out / "r8.partial.csv").exists()
    assert not list(out.glob("r8.partial.csv*"))
    assert "**Partial results.**" not in (Path(ctx.results) / "tiny-n20.md").read_text()
    # a table whose run was killed before its sidecar is never read back as complete: the page waits for it
    (out / "r8.csv.json").unlink()
    with pytest.raises(ValueError, match="report:tiny needs 1 result: run its steps first"):
        reproduce([str(d / "tiny.toml")], ctx_for(d, data, "partial"), only=["report:*"], log=lambda *a: None)
    res = reproduce([str(d / "tiny.toml")], ctx_for(d, data, "partial"), log=lambda *a: None)
    assert res["ran"] == ["eval:tiny/r8", "report:tiny"]
    # the page quotes the deviation notes (and the thesis's numbers, the claims' tests): editing them remakes the
    # page, and nothing else
    from experiments.campaign import results_page
    notes = d / "deviation_notes.toml"
    notes.write_text(results_page.NOTES_TOML.read_text() + "\n# an edit\n")
    monkeypatch.setattr(results_page, "NOTES_TOML", notes)
    said = []
    reproduce([str(d / "tiny.toml")], ctx_for(d, data, "partial"), dry=True, log=said.append)
    assert any(m.startswith("report:tiny") and "deviation notes" in m for m in said), said
    res = reproduce([str(d / "tiny.toml")], ctx_for(d, data, "partial"), log=lambda *a: None)
    assert res["ran"] == ["report:tiny"]


def test_a_partial_page_says_why():
    """Once the zoo is complete a page stays partial only for its plan's own steps (a search, a set of
    attacks): it must not say the zoo is still being trained."""
    from experiments.campaign.results_page import partial_reason
    assert partial_reason({"models": ["resnet8_quant"], "searches": ["s"]}) == "the zoo is still being trained"
    assert partial_reason({"searches": ["search-levels50"]}) == "waiting for its searches"
    assert partial_reason({"complete evaluation tables": ["a"], "searches": ["b"]})== (
        "waiting for its complete evaluation tables and searches")


def test_autoattack_projection_counts_the_images_adaptive_pgd_leaves(tmp_path):
    """AutoAttack runs its later attacks only on what APGD-CE leaves standing: where a table measured the
    victim under adaptive PGD, the projection takes that share (a victim at 0 % costs APGD-CE's 100 steps an
    image, not 2,000)."""
    from experiments.campaign.names import ModelName
    from experiments.campaign.steps import AttackStep, Context, autoattack_iters
    from experiments.results import write_rows
    step = AttackStep(id="attack:x", set_id="x", source=ModelName("resnet8", "quant", True), attack="autoattack",
                      eps="8/255", exec="quant", adaptive=True)
    ctx = Context(results=str(tmp_path))
    assert step.standing_share(ctx) is None and autoattack_iters(None) == 2000
    row = {"victim": "experiments/zoo/resnet8_quant_at.pt", "victim_exec": "quant", "attack": "pgd",
           "adaptive": True, "eps": 8 / 255, "std_acc": 0.84, "adv_acc": 0.25}
    (tmp_path / "beyond").mkdir()
    write_rows([{**row, "victim": "experiments/zoo/resnet8_quant.pt", "adv_acc": 0.5},   # another victim
                {**row, "adaptive": False, "adv_acc": 0.6, "advset": "t.pt"},             # a transfer set
                {**row, "eps": 16 / 255, "adv_acc": 0.1, "advset": "e16.pt"}], tmp_path / "beyond" / "a.csv")
    assert step.standing_share(ctx) is None
    write_rows([{**row, "eps": "?", "advset": "d1.pt"}, {**row, "adv_acc": "", "advset": "d2.pt"}],
               tmp_path / "beyond" / "damaged.csv")
    (tmp_path / "beyond" / "junk.csv").write_bytes(bytes(range(256)))
    assert step.standing_share(ctx) is None
    write_rows([{**row, "advset": "pgd.pt"}], tmp_path / "beyond" / "b.partial.csv")
    assert step.standing_share(ctx) == 0.25 and autoattack_iters(0.25) == 100 + 1900 * 0.25
    assert autoattack_iters(0.0) == 100


def test_waiting_steps_and_only(tiny):
    d, data = tiny
    ctx = ctx_for(d, data, "only")
    with pytest.raises(ValueError, match="eval:tiny/r8 needs .*run its steps first"):
        reproduce([str(d / "tiny.toml")], ctx, only=["eval:*"], log=lambda *a: None)
    with pytest.raises(ValueError, match="matches no step; the steps are: train:resnet8_float"):
        reproduce([str(d / "tiny.toml")], ctx, only=["nope"], log=lambda *a: None)
    out = []
    dry_run(derive_steps([load_plan(d / "tiny.toml")], ctx), ctx, FakeRates(), log=out.append)
    assert out[0].startswith("train:resnet8_float") and "todo" in out[0]
    assert any(line.startswith("eval:tiny/r8") and "waiting" in line for line in out)


def test_interrupted_steps_need_resume_or_restart(tiny, capsys):
    d, data = tiny
    ctx = ctx_for(d, data, "interrupted")
    zoo = Path(ctx.zoo)
    zoo.mkdir(parents=True)
    (zoo / "resnet8_float.pt.state").write_bytes(b"a training state")
    (zoo / "resnet8_float.pt.state.json").write_text('{"epoch": 1, "complete": false}')
    with pytest.raises(ValueError, match="train:resnet8_float: interrupted .*epoch 1 of 1 saved.*--resume.*--restart"):
        reproduce([str(d / "tiny.toml")], ctx, log=lambda *a: None)
    assert not (zoo / "resnet8_quant.pt").exists()  # refused before any work


def test_damaged_zoo_model_is_refused_not_retrained(tiny):
    d, data = tiny
    ctx = ctx_for(d, data, "damaged")
    reproduce([str(d / "tiny.toml")], ctx, only=["train:resnet8_float"], log=lambda *a: None)
    model = Path(ctx.zoo) / "resnet8_float.pt"
    model.write_bytes(model.read_bytes() + b"\0")  # weights that no longer match the sidecar's sha256
    before = model.stat().st_mtime_ns
    with pytest.raises(ValueError, match=r"resnet8_float.pt changed since it was made \(its sha256 differs.*restore it "
                                         r"\(git checkout .*\) or make it again with --restart"):
        reproduce([str(d / "tiny.toml")], ctx_for(d, data, "damaged"), log=lambda *a: None)
    assert model.stat().st_mtime_ns == before and not (Path(ctx.zoo) / "resnet8_quant.pt").exists()
    out = []
    dry_run(derive_steps([load_plan(d / "tiny.toml")], ctx), ctx, FakeRates(), log=out.append)
    assert out[0].split()[:2] == ["train:resnet8_float", "damaged"]
    res = reproduce([str(d / "tiny.toml")], ctx_for(d, data, "damaged", restart=True), only=["train:resnet8_float"],
                    log=lambda *a: None)
    assert res["ran"] == ["train:resnet8_float"] and model.stat().st_mtime_ns != before


@pytest.mark.parametrize("text,msg", [
    ('[[sets]]\nsource = "resnet9_float"\nattack = "fgsm"', "unknown architecture 'resnet9'"),
    ('[[sets]]\nsource = "resnet8_float"\nattack = "fgsn"', "unknown attack 'fgsn'; torchattacks provides: "),
    ('[[evaluations]]\nname = "x"\nvictims = ["resnet8_float"]\nsets = ["nope"]', "unknown set 'nope'"),
    ('[[sets]]\nsource = "resnet8_float"\nattak = "fgsm"', "unknown key 'attak'; valid keys: adaptive, alpha, attack"),
    ('steps = 3', "unknown key 'steps'; valid keys: accuracy, adaptive, cites"),
    ('[[accuracy]]\ntable = "4.1"\nmodels = ["resnet8_fp32"]', "PARAMS one of float, quant, approx"),
    ("title = ", "not valid TOML"),
    ('first = "train:resnet8_*"', "first must be a list of step ids or patterns"),
    ('first = ["train:resnet9_*"]\n[[accuracy]]\ntable = "4.1"\nmodels = ["resnet8_float"]',
     "first: 'train:resnet9_*' matches no step; the steps are: train:resnet8_float, report:bad"),
])
def test_bad_plans_one_line(tmp_path, capsys, text, msg):
    (tmp_path / "bad.toml").write_text(text)
    assert main(["reproduce", str(tmp_path / "bad.toml"), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and msg in err, err


def test_unknown_plan_and_unreachable_dask(tiny, capsys):
    assert main(["reproduce", "table9", "--dry-run"]) == 2
    assert "unknown plan 'table9'; built-in plans: beyond, bim, fgsm" in capsys.readouterr().err
    d, data = tiny
    ctx = ctx_for(d, data, "dask")
    with pytest.raises(RuntimeError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 10 s"):
        execute(derive_steps([load_plan(d / "tiny.toml")], ctx), ctx, dask="tcp://127.0.0.1:9", log=lambda *a: None)


def test_zoo_plan_order_and_recipe():
    steps = derive_steps([load_plan("zoo")], Context())
    trains = [s for s in steps if s.startswith("train:")]
    # the campaign issue's order: ResNet-8 (all 6), ResNet-20 float and quant, ResNet-32 (all 6),
    # ResNet-56 float, then the rest
    assert trains[:6] == [f"train:resnet8_{p}" for p in ("float", "quant", "approx", "float_at", "quant_at", "approx_at")]
    assert trains[6:8] == ["train:resnet20_float", "train:resnet20_quant"]
    assert trains[8:14] == [f"train:resnet32_{p}" for p in ("float", "quant", "approx", "float_at", "quant_at",
                                                             "approx_at")]
    assert trains[14] == "train:resnet56_float" and len(trains) == 24
    epochs = {s[6:]: steps[s].config(Context()).resolved().epochs for s in trains}
    # ZOO_RECIPE: ResNet-56 from scratch on the shortened schedule; fine-tunes and AT keep the thesis's 2
    assert epochs["resnet56_float"] == epochs["resnet56_quant"] == 64
    assert epochs["resnet32_float"] == epochs["resnet8_quant"] == 128
    assert epochs["resnet56_approx"] == epochs["resnet56_float_at"] == 2
    # the zoo plan and the table plans train the same recipes (no "different recipes" conflict)
    both = derive_steps([load_plan("zoo"), load_plan("table4_1"), load_plan("pgd")], Context())
    assert both["train:resnet56_float"].overrides == {"epochs": 64}


def test_zoo_page_cites_each_models_table(tmp_path):
    from experiments.campaign.names import parse_model
    from experiments.campaign.results_page import accuracy_section
    from experiments.provenance import write_sidecar
    ctx = Context(zoo=str(tmp_path))
    hw = {"cpu": "AMD EPYC", "cores": 2}
    for name, acc, ep in (("resnet8_float", 0.8559, 128), ("resnet8_float_at", 0.80, 2), ("resnet56_float", 0.93, 64)):
        (tmp_path / f"{name}.pt").write_bytes(b"x")
        write_sidecar(tmp_path / f"{name}.pt", {"test_accuracy": acc, "epochs": ep, "test_images": 10000,
                                                "wall_time_s": 5400, "hardware": hw})
    lines, notes = accuracy_section("zoo", [parse_model(n) for n in ("resnet8_float", "resnet8_float_at",
                                                                      "resnet56_float", "resnet32_quant")], ctx)
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:-1]] for ln in lines if ln.startswith("| resnet")}
    assert rows["resnet8_float"][:3] == ["85.59", "85.59", "+0.00"]  # Table 4.1
    assert rows["resnet8_float_at"][1] == "84.08"  # Table 4.2's float ResNet-8 after FGSM-RS
    assert rows["resnet8_float"][5:] == ["1.5 h", "AMD EPYC, 2 cores"]
    assert rows["resnet32_quant"][0] == "-"  # not trained yet
    assert any("resnet56_float: trained 64 epochs, not the thesis's 128" in n for n in notes)
    assert any(n.startswith("- resnet8_float_at:") and "Table 4.2" in n for n in notes)
    # each deviation carries what we know of it (experiments/resources/deviation_notes.toml)
    assert any(n.startswith("- resnet8_float_at:") and "--param-dtype fp16" in n for n in notes)


def test_deviation_notes_parse_and_match_the_keys_the_pages_use():
    from experiments.campaign.results_page import _why, deviation_notes
    assert deviation_notes() and all(p and t for p, t in deviation_notes())
    assert "fp16" in _why("4.2 resnet32_float_at")         # the specific note before the general one
    assert "Same recipe" in _why("4.2 resnet32_quant_at")
    assert "white-box attack" in _why("5.3 white-box AT")
    assert _why("5.3 partial white-box not AT") == "" and _why("4.1 resnet8_float") == ""


def test_adaptive_table_sets_each_victim_beside_its_strongest_transfer_attack():
    from experiments.campaign.plan import AdaptiveSpec
    from experiments.campaign.results_page import adaptive_section

    def row(victim, exec_type, source, attack, adv, adaptive=False, levels=0, n=1000, eps=8 / 255):
        return {"victim": f"zoo/{victim}.pt", "victim_exec": exec_type, "source": f"zoo/{source}.pt", "attack": attack,
                "adv_acc": str(adv), "std_acc": "0.85", "adaptive": str(adaptive), "levels": str(levels),
                "n_images": str(n), "eps": str(eps)}
    own = [row("resnet8_quant", "quant", "resnet8_quant", a, v, adaptive=True)
           for a, v in (("pgd", 0.01), ("square", 0.05), ("autoattack", 0.0))]
    transfer = [row("resnet8_quant", "quant", "resnet8_float", "fgsm", 0.18, n=10000),
                row("resnet8_quant", "quant", "resnet20_float", "fgsm", 0.25, n=10000),
                row("resnet8_quant", "float", "resnet8_float", "fgsm", 0.02),          # another execution type
                row("resnet8_quant", "quant", "resnet8_float", "fgsm", 0.01, levels=128),  # approximate level
                row("resnet8_quant", "quant", "resnet8_quant", "fgsm", 0.03)]           # its own white-box
    text = "\n".join(adaptive_section(AdaptiveSpec("resnet8"), own, transfer + own))
    assert "| resnet8_quant | quant | 85.0 | 18.0 (FGSM from resnet8_float, 10,000 images) | 1.0 | 5.0 | 0.0 |" in text
    assert "first 1,000 test images" in text
    assert "No victim of this family" in "\n".join(adaptive_section(AdaptiveSpec("resnet32"), own, transfer))
    assert "Square leaves far more" not in text  # 5.0 against 1.0: within 10 points
    weak = [dict(r, adv_acc="0.41") if r["attack"] == "square" else r for r in own]
    text = "\n".join(adaptive_section(AdaptiveSpec("resnet8"), weak, transfer + weak))
    assert "Square leaves far more than adaptive PGD on resnet8_quant (41.0 against 1.0)" in text


def test_projection_reuses_an_interrupted_run_s_pace_only_from_this_machine(tiny):
    """A state trained elsewhere (a GPU) says nothing of this machine's pace: the dry run projects the rest
    from the timed rates; a state from here projects from its own epochs."""
    import torch

    from experiments.machine import pace_key
    d, data = tiny
    ctx = ctx_for(d, data, "pace")
    step = derive_steps([load_plan(d / "tiny.toml")], ctx)["train:resnet8_float"]
    zoo = Path(ctx.zoo)
    zoo.mkdir(parents=True)
    timed = step.estimate_s(ctx, FakeRates())
    (zoo / "resnet8_float.pt.state.json").write_text('{"epoch": 0, "complete": false, "config": {"epochs": 1}}')
    for machine, want in (("cuda: NVIDIA H200", timed), (pace_key("cpu"), 7.0)):
        torch.save({"seconds": 7.0, "epoch": 0, "pace": {"machine": machine, "epochs": 1, "seconds": 7.0}},
                   zoo / "resnet8_float.pt.state")
        assert step.estimate_s(ctx, FakeRates()) == pytest.approx(want)  # 1 epoch left
    assert timed != pytest.approx(7.0)
    # a state that keeps its latest epochs' times: their median, not a mean biased by a slow stretch
    torch.save({"seconds": 0, "epoch": 0, "pace": {"machine": pace_key("cpu"), "epochs": 25, "seconds": 18535.0,
                                                   "latest": [900.0, 100.0, 110.0, 120.0, 400.0, 105.0]}},
               zoo / "resnet8_float.pt.state")
    assert step.estimate_s(ctx, FakeRates()) == pytest.approx(115.0)
    # epochs that shared the CPU with other jobs (their processor time says so) count as they would have run
    # with the processor share of the least contended one: 2400 s, 2200 s, 915 s at 900, 880, 905 s of CPU
    torch.save({"seconds": 0, "epoch": 0, "pace": {"machine": pace_key("cpu"), "epochs": 3, "seconds": 5515.0,
                                                   "latest": [2400.0, 2200.0, 915.0],
                                                   "latest_cpu": [900.0, 880.0, 905.0]}},
               zoo / "resnet8_float.pt.state")
    assert step.estimate_s(ctx, FakeRates()) == pytest.approx(900.0 / (905.0 / 915.0))
    from experiments.campaign.steps import uncontended_epochs
    # a state of an earlier version timed its first epochs without processor time: those keep their wall time
    assert uncontended_epochs({"latest": [900.0, 100.0, 110.0], "latest_cpu": [50.0, 110.0]}) == \
        pytest.approx([900.0, 50.0, 110.0])
    assert uncontended_epochs({"latest": [900.0, 100.0]}) == [900.0, 100.0]
    assert uncontended_epochs({"latest": [200.0, 100.0], "latest_cpu": [0.0, 100.0]}) == [200.0, 100.0]
    # ... until three epochs with processor time exist: then only those count
    assert uncontended_epochs({"latest": [900.0, 880.0, 100.0, 120.0, 110.0], "latest_cpu": [50.0, 120.0, 110.0]}) == \
        pytest.approx([50.0, 120.0, 110.0])
    torch.save({"seconds": 0, "epoch": 0, "pace": {"machine": pace_key("cpu"), "epochs": 25, "seconds": 18535.0,
                                                   "latest": [900.0, 100.0, 110.0, 120.0, 400.0, 105.0]}},
               zoo / "resnet8_float.pt.state")
    # that pace also projects the trainings without one (eager steps timed under load projected hours that
    # compiled trainings take a fraction of), and the dry run says by whose pace:
    # of another parameter type by the timed steps scaled by its pace over theirs; of the same type by work
    from experiments.campaign.names import ModelName
    from experiments.campaign.runner import _calibrate
    from experiments.campaign.steps import TrainStep
    steps = derive_steps([load_plan(d / "tiny.toml")], ctx)
    other, rates = steps["train:resnet8_quant"], FakeRates()
    plain = other.estimate_s(ctx, rates)
    deeper = TrainStep(id="train:resnet20_float", model=ModelName("resnet20", "float"),
                       overrides=dict(step.overrides))
    assert _calibrate({**steps, deeper.id: deeper}, ctx, rates) == "resnet8_float"
    factor = 115.0 / step.timed_epoch_s(ctx, rates)
    assert rates.calibration == pytest.approx(factor) and other.estimate_s(ctx, rates) == pytest.approx(factor * plain)
    left, _ = deeper.epochs_left(ctx)
    assert deeper.estimate_s(ctx, rates) == pytest.approx(left * 115.0 * 40_551_040 / 12_239_488)
    said = []
    res = dry_run(steps, ctx, FakeRates(), log=said.append)
    assert "trainings from the pace of resnet8_float here" in said[-1] and f"x{factor:.2f}" in said[-1]
    # and it names the files that keep the stopped training's work, to be committed before the machine goes
    assert res["kept"] == [str(zoo / "resnet8_float.pt.state"), str(zoo / "resnet8_float.pt.state.json")]
    assert any(m.startswith("work of stopped steps, kept in 2 file(s) (commit them") for m in said)


def test_dry_run_with_jobs_projects_at_each_worker_s_share_of_the_threads(tiny, monkeypatch):
    """`--dry-run --jobs 2` projects each step at the threads a worker gets (cores / 2), so an interrupted
    training that ran so (its state's pace names its thread count) projects from its own epochs; it adds the
    wall time of the steps run two at a time (test_schedule), and leaves torch's threads as they were."""
    import os

    import torch

    from experiments.campaign import runner
    from experiments.machine import cpu_id
    d, data = tiny
    ctx = ctx_for(d, data, "jobs-pace")
    zoo = Path(ctx.zoo)
    zoo.mkdir(parents=True)
    (zoo / "resnet8_float.pt.state.json").write_text('{"epoch": 0, "complete": false, "config": {"epochs": 1}}')
    share = max(1, (os.cpu_count() or 1) // 2)
    torch.save({"seconds": 0, "epoch": 0, "pace": {"machine": f"cpu: {cpu_id()}, {share} threads", "epochs": 1,
                                                   "seconds": 7.0}}, zoo / "resnet8_float.pt.state")
    monkeypatch.setattr(runner, "Rates", lambda path, log, **kw: FakeRates())
    before, said = torch.get_num_threads(), []
    res = reproduce([str(d / "tiny.toml")], ctx, only=["train:resnet8_float"], dry=True, jobs=2, log=said.append)
    assert torch.get_num_threads() == before
    assert any(m.startswith("train:resnet8_float") and "~7 s" in m for m in said), said
    assert res["wall_s"] == pytest.approx(res["train_s"] + res["other_s"])  # one step: two workers gain nothing
    assert said[-1].startswith("with --jobs 2") and f"{share} thread(s) each" in said[-1]


def test_cores_bound_the_threads_of_the_steps_run_here(tiny, monkeypatch):
    """`--cores N`: a run beside another (the zoo's trainings and a campaign plan) takes N threads in all, not
    every core: one job runs its steps on N threads, --jobs J workers share N cores; torch's threads are left
    as they were, and a count outside 1..cores is refused."""
    import os

    import torch

    from experiments.campaign import runner
    d, data = tiny
    ctx = ctx_for(d, data, "cores")
    seen, pools = [], []
    monkeypatch.setattr(runner, "run_step", lambda step, ctx, threads=None: seen.append(torch.get_num_threads()))

    class Pool:
        def __init__(self, jobs, cores):
            pools.append((jobs, cores))

        def submit(self, step, ctx, priority=0.0):
            import concurrent.futures as cf
            fut = cf.Future()
            fut.set_result(step.id)
            return fut

        def wait_any(self, futures):
            return futures[:1]

        def close(self):
            pass

    monkeypatch.setattr(runner, "_Local", Pool)
    before = torch.get_num_threads()
    plan = [str(d / "tiny.toml")]
    reproduce(plan, ctx, only=["train:resnet8_float"], cores=1, log=lambda *a: None)
    assert seen == [1] and torch.get_num_threads() == before
    reproduce(plan, ctx, only=["train:*"], jobs=2, cores=1, log=lambda *a: None)
    assert pools == [(2, 1)] and torch.get_num_threads() == before
    for bad in (0, (os.cpu_count() or 1) + 1):
        with pytest.raises(ValueError, match=r"--cores must be between 1 and the \d+ cores this process may use, got"):
            reproduce(plan, ctx, cores=bad, log=lambda *a: None)
    with pytest.raises(ValueError, match="with --dask the steps run on the cluster's workers"):
        reproduce(plan, ctx, cores=1, dask="tcp://127.0.0.1:1", log=lambda *a: None)


def test_a_stopped_run_ends_its_workers():
    """A run that stops early (an error, Ctrl-C, SIGTERM) closes its local pool: a worker still running a step
    is ended, not left training on, orphaned, beside the next run (it would write the same training state)."""
    import time

    from experiments.campaign import runner
    pool = runner._Local(1, 1)
    fut = pool.pool.submit(time.sleep, 120)
    t = time.perf_counter()
    while not pool.pool._processes and time.perf_counter() - t < 60:
        time.sleep(0.1)
    workers = list(pool.pool._processes.values())
    assert workers and workers[0].is_alive() and not fut.done()
    t = time.perf_counter()
    pool.close()
    assert time.perf_counter() - t < 30 and not any(p.is_alive() for p in workers)


def test_dry_run_without_timing_projects_only_from_cached_rates(tiny, capsys):
    """`--dry-run --no-timing` times nothing: a step whose rate is cached here is projected from it, whatever the
    load it was timed at; the others show '?' and are counted, not guessed."""
    import json

    from experiments.campaign.runner import Rates
    d, data = tiny
    ctx = ctx_for(d, data, "no-timing")
    said = []
    res = reproduce([str(d / "tiny.toml")], ctx, dry=True, timing=False, log=said.append)
    trains = [m for m in said if m.startswith("train:")]
    assert len(trains) == 2 and all(" ? " in m for m in trains)
    assert res["unknown"] == 5  # 2 trainings, 2 sets, 1 evaluation (a page takes no time)
    assert "; 5 step(s) not projected (nothing timed for them here" in said[-1]
    rates = Path(ctx.work) / "rates.json"
    rates.parent.mkdir(parents=True, exist_ok=True)
    key = Rates(rates, log=lambda *a: None).key
    cached = {f"{w}:resnet8:{e}": {"images_per_s": 100.0, "load": 99.0, "route": "eager"}
              for w in ("train", "eval") for e in ("float", "quant")}
    rates.write_text(json.dumps({key: cached}))
    said = []
    res = reproduce([str(d / "tiny.toml")], ctx, dry=True, timing=False, log=said.append)
    assert res["unknown"] == 0 and res["train_s"] > 0 and "rates cached here, whatever load" in said[-1]
    assert main(["reproduce", str(d / "tiny.toml"), "--no-timing"]) == 2
    assert "--no-timing goes with --dry-run" in capsys.readouterr().err


def test_zoo_page_names_each_machine_s_share_of_a_moved_training():
    from experiments.campaign.results_page import _machine
    hw = {"cpu": "AMD EPYC", "cores": 2}
    moved = {"hardware": hw, "history": [{"machine": "cuda: NVIDIA H200"}] * 46 + [{"machine": "cpu: AMD EPYC, 2 threads"}] * 82}
    assert _machine(moved) == "46 epochs on NVIDIA H200; 82 epochs on AMD EPYC, 2 threads"
    one = {"hardware": hw, "history": [{"machine": "cpu: AMD EPYC, 2 threads"}, {"machine": "cpu: AMD EPYC, 1 threads"}]}
    assert _machine(one) == "1 epoch on AMD EPYC, 2 threads; 1 epoch on AMD EPYC, 1 thread"
    assert _machine({"hardware": hw, "history": [{"machine": "cpu: AMD EPYC, 2 threads"}] * 3}) == "AMD EPYC, 2 cores"
    assert _machine({"hardware": hw, "history": [{"epoch": 1}]}) == "AMD EPYC, 2 cores"  # older sidecars


def test_only_a_selection_whose_outside_dependencies_are_done(tiny):
    """`--only 'attack:*' 'eval:*' 'report:*'` over a zoo that is trained (what `make reproduce-quick` runs into a
    scratch folder): the trainings outside the selection are done, so the selection runs (it was refused)."""
    d, data = tiny
    trained = ctx_for(d, data, "only")
    reproduce([str(d / "tiny.toml")], trained, only=["train:*"], log=lambda *a: None)
    scratch = Context(zoo=trained.zoo, work=str(d / "only" / "scratch-work"), results=str(d / "only" / "scratch"),
                      data_dir=data, n_images=20, progress=False)
    res = reproduce([str(d / "tiny.toml")], scratch, only=["attack:*", "eval:*", "report:*"], log=lambda *a: None)
    assert not res["failed"] and not res["blocked"] and any(r.startswith("eval:") for r in res["ran"])
    with pytest.raises(ValueError, match="run its steps first"):  # an outside dependency that is not done
        reproduce([str(d / "tiny.toml")], ctx_for(d, data, "only-untrained"), only=["attack:*", "eval:*"],
                  log=lambda *a: None)


def test_interrupted_attack_is_shown_and_needs_resume(tiny):
    """An attack killed on the way (its OUT.state) is listed as interrupted with the images it saved, refused
    without --resume or --restart, and continued with --resume (here the state is unreadable: it starts over
    with a note rather than failing)."""
    d, data = tiny
    ctx = ctx_for(d, data, "attack-state")
    reproduce([str(d / "tiny.toml")], ctx, only=["train:*"], log=lambda *a: None)
    out = Path(ctx.advset("resnet8_float-fgsm-eps8"))
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(str(out) + ".state").write_bytes(b"half an attack")
    Path(str(out) + ".state.json").write_text('{"done": 10, "complete": false}')
    said = []
    reproduce([str(d / "tiny.toml")], ctx, dry=True, log=said.append)
    assert any("attack:resnet8_float-fgsm-eps8" in m and "interrupted" in m and "10 of 20 images saved" in m
               for m in said), said
    with pytest.raises(ValueError, match="attack:resnet8_float-fgsm-eps8: interrupted .*--resume"):
        reproduce([str(d / "tiny.toml")], ctx, only=["attack:*"], log=lambda *a: None)
    resumed = Context(**{**ctx.__dict__, "resume": True})
    res = reproduce([str(d / "tiny.toml")], resumed, only=["attack:*"], log=lambda *a: None)
    assert not res["failed"] and is_complete(out) and not Path(str(out) + ".state").exists()


def test_interrupted_search_from_another_machine_waits_for_its_set(tiny):
    """A search's state comes with the checkout (committed with the results), its adversarial set does not: the
    step waits for the set, says what is saved, and projects only the generations left (run_search continuing on
    the set made again: test_search.py)."""
    import json
    d, data = tiny
    ctx = ctx_for(d, data, "search-state")
    steps = derive_steps([load_plan("search")], ctx)
    step = steps["search:search/levels50"]
    victim = Path(step.config(ctx).victim)
    victim.parent.mkdir(parents=True, exist_ok=True)
    victim.write_bytes(b"a model")  # status only asks whether the victim exists
    full = step.estimate_s(ctx, FakeRates())
    # timed at its genomes' levels (0..50 here), not at level 0, whose evaluations run several times faster
    assert full == pytest.approx(50 * 30 * 2 * 1000 / FakeRates().eval("resnet32", "approx", 50))
    out = Path(step.output(ctx))
    out.mkdir(parents=True)
    (out / "state.json").write_text(json.dumps({"format": "axx-search-state/1", "config": {}, "n_iter": 13,
                                                "n_eval": 600, "rng": {}, "population": {},
                                                "problem_generation": 12, "records": []}))
    st = step.status(ctx)
    assert (st.state, st.detail) == ("waiting", "needs resnet32_float-pgd-eps8 (generation 12 of 30 saved)")
    assert step.estimate_s(ctx, FakeRates()) == pytest.approx(full * 18 / 30)
    # a stopped run's two genomes of generation 13, after the journal's header
    (out / "generation.jsonl").write_text('{"format": "axx-search-journal/1"}\n' + '{"generation": 13}\n' * 2
                                          + '{"generation": 13, "lev')  # a line torn by a kill does not count
    assert step.status(ctx).detail.endswith("(generation 12 of 30 saved, 2 genome(s) of the next kept)")
    assert step.kept_files(ctx) == [out / "state.json", out / "generation.jsonl"]
    (out / "state.json").write_text("{half a state")
    assert step.status(ctx).detail.endswith("(generation ? of 30 saved, 2 genome(s) of the next kept)")


def test_rates_are_timed_per_level_range(tmp_path, monkeypatch):
    """An approx evaluation at levels in 0..50 is its own rate (its own timing and cache entry), not level 0's."""
    from experiments import bench_train
    from experiments.campaign.runner import Rates
    asked = []
    monkeypatch.setattr(bench_train, "eval_rate", lambda d, e, steps, max_level=0: asked.append((d, e, max_level))
                        or 100.0 / (1 + max_level))
    said = []
    rates = Rates(tmp_path / "rates.json", log=said.append)
    assert (rates.eval("resnet32", "approx"), rates.eval("resnet32", "approx", 50)) == (100.0, 100.0 / 51)
    assert asked == [(32, "approx", 0), (32, "approx", 50)]
    assert said[-1].startswith("timing eval steps of resnet32 approx at levels in 0..50")


def test_page_says_which_rows_were_measured_on_an_earlier_make_of_their_set(tmp_path):
    import json

    from experiments.campaign.results_page import remade_sets_note
    here, moved = tmp_path / "fgsm" / "resnet8.csv", tmp_path / "fgsm" / "resnet32.csv"
    here.parent.mkdir()
    (tmp_path / "fgsm" / "resnet8.csv.json").write_text(json.dumps({"rows": 4, "reused_rows": 4}))
    (tmp_path / "fgsm" / "resnet32.csv.json").write_text(json.dumps({
        "rows": 54, "reused_on_remade_sets": 3,
        "remade_rows": [["z/resnet32_float.pt", e, "w/resnet32_float-fgsm-eps8.pt"] for e in ("float", "quant")]
        + [["z/resnet32_quant.pt", "float", "w/resnet20_float-fgsm-eps8.pt"]]}))
    assert remade_sets_note([str(here)]) == []
    note = remade_sets_note([str(here), str(moved)])
    assert len(note) == 1 and note[0].startswith("Measured over more than one session: `fgsm/resnet32.csv`: 3 of its "
                                                 "54 rows (against resnet20_float-fgsm-eps8, resnet32_float-fgsm-eps8)")


def test_search_section_says_what_the_search_saw(tmp_path):
    """The search's paragraph: the subset it searched on, the front on the full sets, and a set made again on
    another machine when the search moved."""
    import json
    from experiments.campaign.results_page import search_section
    out = tmp_path / "search-levels50"
    out.mkdir()
    (out / "pareto.csv").write_text("generation,levels,adv,std,energy,seconds,adv_full,std_full\n"
                                    "3,0-7-50,0.5,0.9,,1.0,0.52,0.91\n")
    (out / "pareto.csv.json").write_text(json.dumps({
        "config": {"victim": "z/resnet32_approx_at.pt", "advset": "w/resnet32_float-pgd-eps8.pt", "axx_levels": 50,
                   "pop": 50, "gens": 30, "n_images": 1000}, "evaluations": 1234, "exact": {"adv": 0.5, "std": 0.9},
        "set_remade": [{"after_generation": 12, "images_differing": 2, "images": 1000}]}))
    text = "\n".join(search_section(str(out)))
    assert "Searched on the first 1,000 images" in text
    assert "After generation 12 the search continued on another machine" in text and "2 of its 1000" in text
    assert "| 0-7-50 | 52.00 | 91.00 |" in text


def test_projection_times_the_training_route_not_eager_steps_only(tmp_path, monkeypatch):
    """The dry run's training rate is the faster of eager and compiled steps, as the training's route is (eager
    quant steps ran at 0.6x the compiled ones: the quant trainings projected 1.6x too long); a cached rate
    timed eagerly only, or at another load than now, is timed again."""
    import json

    from experiments import bench_train
    from experiments.campaign.runner import Rates
    timed = []

    def fake_train_rate(depth, exec_type, compiled, *a):
        timed.append((depth, exec_type, compiled))
        return (160.0 if compiled else 100.0) if exec_type == "quant" else 90.0, 0.0

    monkeypatch.setattr(bench_train, "train_rate", fake_train_rate)
    monkeypatch.setattr("experiments.compiled.compile_enabled", lambda: True)
    load = [0.2]
    monkeypatch.setattr("experiments.campaign.runner.os.getloadavg", lambda: (load[0], 0.0, 0.0))
    path = tmp_path / "rates.json"
    rates = Rates(path, log=lambda m: None)
    path.write_text(json.dumps({rates.key: {"train:resnet32:quant": {"images_per_s": 100.0, "load": 0.0}}}))
    rates = Rates(path, log=lambda m: None)
    assert rates.train("resnet32", "quant") == 160.0 and timed == [(32, "quant", False), (32, "quant", True)]
    assert rates.train("resnet32", "approx") == 90.0 and timed[2:] == [(32, "approx", False)]  # approx runs eagerly
    cached = Rates(path, log=lambda m: None)
    assert cached.train("resnet32", "quant") == 160.0 and len(timed) == 3  # from the file, route recorded
    assert json.loads(path.read_text())[rates.key]["train:resnet32:quant"]["route"] == "compiled"
    # a rate timed at another load (busier or quieter than now) is timed again, once per run
    load[0] = 2.2
    busy = Rates(path, log=lambda m: None)
    assert busy.train("resnet32", "quant") == 160.0 and len(timed) == 5
    load[0] = 3.5  # its own timing raised the load: not timed again in the same run
    assert busy.train("resnet32", "quant") == 160.0 and len(timed) == 5
    load[0] = 0.1
    assert Rates(path, log=lambda m: None).train("resnet32", "quant") == 160.0 and len(timed) == 7
    assert json.loads(path.read_text())[rates.key]["train:resnet32:quant"]["load"] == 0.1


def test_jobs_workers_take_their_share_of_the_cores_as_steps_start_and_end(monkeypatch):
    """A worker of `axx reproduce --jobs` takes cores / (steps running) threads, again as steps start and end (so
    the last training of a chain, left alone, gets every core back); outside a worker nothing changes."""
    import torch

    from experiments import machine

    class Count:
        value = 2

    before = torch.get_num_threads()
    monkeypatch.setattr(machine, "_CORE_SHARE", None)
    try:
        assert machine.rebalance_threads() == before
        running = Count()
        machine.share_cores(running, 4)
        assert torch.get_num_threads() == 2
        running.value = 1
        assert machine.rebalance_threads() == 4
        running.value = 3
        assert machine.rebalance_threads() == 1
        running.value = 0  # between steps: never below one thread, never a division by zero
        assert machine.rebalance_threads() == 4
    finally:
        torch.set_num_threads(before)
