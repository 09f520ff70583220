"""The thesis's claims are tested on rows as the thesis reads them: synthetic results with a known answer
give the right verdict per stratum, rows the thesis does not average stay out, and a claim nothing
measures says so."""
import csv

import pytest

from experiments.campaign.claims import Claim, check_claims, claims_section, load_claims
from experiments.provenance import write_sidecar


def row(arch="resnet32", params="float", at=False, exec_=None, scenario="white-box", attack="fgsm", eps=8 / 255,
        source="resnet32_float", adv=0.1, levels="0", adaptive=False, source_at=False, advset=None):
    sa, sp = source.split("_")[:2]
    return {"victim": f"zoo/{arch}_{params}{'_at' if at else ''}.pt", "victim_arch": arch, "victim_params": params,
            "victim_at": str(at), "victim_exec": exec_ or params, "levels": levels,
            "advset": advset or f"sets/{source}-{attack}-{round(eps * 255)}.pt", "attack": attack, "eps": str(eps),
            "source": source, "source_arch": sa, "source_params": sp, "source_exec": sp, "source_at": str(source_at),
            "adaptive": str(adaptive), "scenario": scenario, "std_acc": "0.9", "adv_acc": str(adv),
            "n_images": "1000", "batch_size": "100", "code_version": "x"}


def by_id(verdicts):
    return {v.claim.id: v for v in verdicts}


def test_the_claims_file_loads_and_every_claim_is_known():
    claims = load_claims()
    assert len(claims) >= 15 and len({c.id for c in claims}) == len(claims)
    assert {"quant-params-partial-white-box", "at-alone-small", "at-with-quant-large", "approximation-adds-robustness",
            "quant-params-adaptive"} <= {c.id for c in claims}


def test_difference_and_strata():
    rows = [row(params="float", scenario="white-box", adv=0.02), row(params="quant", scenario="partial white-box", adv=0.18),
            row(params="approx", scenario="partial white-box", adv=0.17),
            # AT victims: partial white-box below white-box here, so that stratum fails
            row(params="float", at=True, scenario="white-box", adv=0.30), row(params="quant", at=True,
                                                                               scenario="partial white-box", adv=0.20)]
    v = by_id(check_claims(rows, claims=load_claims()))["quant-params-partial-white-box"]
    assert (v.state, v.held, v.strata) == ("does not hold", 1, 2)
    texts = {lab: (num, ok) for lab, num, ok in v.evidence}
    assert texts["resnet32, fgsm, eps 8/255, not AT"] == ("17.5 against 2.0 (+15.5)", True)
    assert texts["resnet32, fgsm, eps 8/255, AT victim"] == ("20.0 against 30.0 (-10.0)", False)


def test_rows_the_thesis_does_not_average_stay_out():
    base = [row(params="float", adv=0.02), row(params="quant", scenario="partial white-box", adv=0.18)]
    noise = [row(params="float", adv=0.9, levels="[3, 4]"), row(params="float", adv=0.9, adaptive=True),
             row(params="float", adv=0.9, source_at=True)]
    v = by_id(check_claims(base + noise, claims=load_claims()))["quant-params-partial-white-box"]
    assert v.evidence == [("resnet32, fgsm, eps 8/255, not AT", "18.0 against 2.0 (+16.0)", True)]
    assert v.state == "holds"
    # the adaptive claim reads only the adaptive rows
    ad = [row(params="float", adaptive=True, attack="pgd", adv=0.0), row(params="quant", adaptive=True, attack="pgd",
                                                                       adv=0.01)]
    v = by_id(check_claims(base + ad, claims=load_claims()))["quant-params-adaptive"]
    assert v.state == "does not hold" and v.evidence[0][1] == "1.0 against 0.0 (+1.0)"


def test_increasing_general_and_spread():
    c = Claim(id="x", section="s", text="t", kind="increasing", along="scenario",
              order=["white-box", "partial white-box", "black-box"], per=["victim_at"], general=True)
    rows = [row(adv=0.02), row(params="quant", scenario="partial white-box", adv=0.18),
            row(scenario="black-box", source="resnet20_float", adv=0.25),
            row(at=True, adv=0.1), row(at=True, params="quant", scenario="partial white-box", adv=0.4),
            row(at=True, scenario="black-box", source="resnet20_float", adv=0.3),
            row(arch="resnet8", adv=0.5), row(arch="resnet8", params="quant", scenario="partial white-box", adv=0.6)]
    c.per = ["victim_arch", "victim_at"]
    v = check_claims(rows, claims=[c])[0]
    assert (v.held, v.strata, v.state) == (2, 3, "holds")  # in general: 2 of 3
    c.general = False
    assert check_claims(rows, claims=[c])[0].state == "does not hold"
    s = Claim(id="s", section="s", text="t", kind="spread", per=["advset"], max_spread=3.0)
    v = check_claims([row(exec_="float", adv=0.1848), row(exec_="quant", adv=0.1854), row(exec_="approx", adv=0.1836)],
                     claims=[s])[0]
    assert v.state == "holds" and v.evidence[0][1] == "18.4-18.5 (spread 0.2)"


def test_zoo_and_search_claims(tmp_path):
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    for name, acc in (("resnet8_float", 0.86), ("resnet8_float_at", 0.85), ("resnet8_quant", 0.86),
                      ("resnet8_quant_at", 0.80)):
        (zoo / f"{name}.pt").write_bytes(b"x")
        write_sidecar(zoo / f"{name}.pt", {"test_accuracy": acc})
    s = tmp_path / "search-a"
    s.mkdir()
    with open(s / "pareto.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["levels", "adv", "std"])
        w.writeheader()
        w.writerows([{"levels": "1-2", "adv": 0.58, "std": 0.904}, {"levels": "5-5", "adv": 0.61, "std": 0.888}])
    write_sidecar(s / "pareto.csv", {"exact": {"adv": 0.5374, "std": 0.9126}})
    v = by_id(check_claims([], zoo, [str(s)]))
    z = v["at-keeps-standard-accuracy"]
    assert (z.held, z.strata, z.state) == (1, 2, "does not hold")
    g = v["approximation-adds-robustness"]
    assert g.state == "holds" and g.evidence[0][1] == "adversarial 53.74 -> 58.00 (+4.26) for standard 91.26 -> 90.40"
    assert v["bim-stronger-than-fgsm"].state == "not measured"
    text = "\n".join(claims_section(list(v.values())))
    assert "not measured" not in text and "**holds (in 1 of 1 strata; needs every)**" in text


def test_bad_claims_file(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[[claims]]\nid = "a"\nsection = "s"\ntext = "t"\nkind = "median"\n')
    with pytest.raises(ValueError, match="kind must be one of difference"):
        load_claims(p)
    p.write_text('[[claims]]\nid = "a"\nsection = "s"\ntext = "t"\nkind = "spread"\nmax_sprad = 3\n')
    with pytest.raises(ValueError, match="unknown key max_sprad"):
        load_claims(p)


def test_zoo_claim_bounds_admit_the_thesis_s_own_tables():
    """A claim about standard accuracy under AT must hold on the thesis's own Tables 4.1 and 4.2, or its
    verdict on our models says more about the bound than about the models."""
    from experiments.campaign.claims import CLAIMS_TOML
    numbers = CLAIMS_TOML.parent / "thesis_numbers.csv"
    table = {}
    for r in csv.DictReader(open(numbers)):
        if r["table"] in ("4.1", "4.2"):
            table[(r["table"], r["arch"], r["scenario_or_exec"])] = float(r["value_pct"])
    diffs = {(a, e): v - table[("4.1", a, e)] for (t, a, e), v in table.items() if t == "4.2"}
    assert len(diffs) == 12
    for c in load_claims():
        if c.kind == "zoo_at":
            outside = {k: round(d, 2) for k, d in diffs.items()
                       if (c.min_diff is not None and d < c.min_diff) or (c.max_diff is not None and d > c.max_diff)}
            assert not outside, f"{c.id}: the thesis's own models fall outside its bounds: {outside}"
