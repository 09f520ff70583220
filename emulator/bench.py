"""Benchmark of the engines against exact float32, measured in the same run (medians, ratios).

For one 3x3 convolution of each ResNet stage shape and for a whole ResNet-32 forward pass, at
the given levels: exact float32, reference (layers only: a whole network through the torch
gather takes minutes), c and fast; the planes kernel's multiply-adds per second against its instruction's
peak (csrc/peak.c); then ResNet-32 throughput (images/s) per execution type.
"""
from __future__ import annotations

import contextlib
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F

from fileio import atomic_write_text, code_version, cpu_id

STAGES = [(16, 32), (32, 16), (64, 8)]  # (channels, feature size) of ResNet stages 1..3


def _median(fn, repeats: int) -> float:
    fn()  # warm-up: caches, workspaces, thread pools
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def _median_cuda(fn, repeats: int) -> float:
    """_median of a GPU computation: wait for the kernels, not only their launch."""
    def run():
        fn()
        torch.cuda.synchronize()
    return _median(run, repeats)


def bench_layers(levels, batch: int, ref_batch: int, repeats: int, log=print) -> list[dict]:
    from .engines import get_engine
    from .engines.decomposition import decompose
    from .engines.fast import prepare
    from .lut import load_scheme

    luts = load_scheme("marlin")
    g = torch.Generator().manual_seed(0)
    rows = []
    for c, h in STAGES:
        x = torch.randint(0, 128, (batch, c, h, h), dtype=torch.int8, generator=g)  # post-PACT: 0..127
        w = torch.randint(-127, 128, (c, c, 3, 3), dtype=torch.int8, generator=g)
        xf, wf = x.float(), w.float()
        t_exact = _median(lambda: F.conv2d(xf, wf, padding=1), repeats)
        xr, xrf = x[:ref_batch], xf[:ref_batch]
        t_exact_ref = _median(lambda: F.conv2d(xrf, wf, padding=1), repeats)
        for lv in levels:
            lut = luts.table(lv)
            pw = prepare(w, decompose(lut))
            r = {"shape": f"{c}x{h}x{h}", "level": lv, "batch": batch, "exact_fp32_ms": t_exact * 1e3}
            r["fast"] = _median(lambda: get_engine("fast").conv(x, w, lut, 1, 1, prepared=pw), repeats) / t_exact
            r["c"] = _median(lambda: get_engine("c").conv(x, w, lut, 1, 1), max(1, repeats // 2)) / t_exact
            r["reference"] = _median(lambda: get_engine("reference").conv(xr, w, lut, 1, 1), 1) / t_exact_ref
            rows.append(r)
            log(f"  conv {r['shape']:>8} level {lv:>3}: fast {r['fast']:6.2f}x  c {r['c']:6.2f}x  "
                f"reference {r['reference']:7.1f}x (batch {ref_batch})   [exact fp32 {r['exact_fp32_ms']:.2f} ms]")
            if torch.cuda.is_available():
                r.update(_gpu_layer(x, w, lut, repeats))
                log(f"  {'(GPU)':>17}: fast {r['gpu_fast']:6.2f}x  cuda {r['gpu_cuda']:6.2f}x   "
                    f"[exact fp32 on {torch.cuda.get_device_name()} {r['gpu_exact_fp32_ms']:.3f} ms]")
    return rows


def bench_kernel(levels, batch: int, repeats: int, log=print) -> dict | None:
    """The planes kernel's rate (useful byte multiply-adds per second: batch x pixels x outputs x taps x planes x
    channels, its planes pass included) per ResNet stage shape and level, against the peak of its instruction
    measured in the same run (csrc/peak.c): what any rewrite of its loops could still gain. None where this
    CPU has no planes kernel."""
    from .engines import fast
    from .engines.build import load
    from .engines.decomposition import decompose
    from .lut import load_scheme

    kind = _planes_kernel()
    if kind is None:
        log("  no planes kernel on this CPU (neither AVX-512 VNNI nor AVX2)")
        return None
    threads = torch.get_num_threads()
    peak = max(load().lib.planeconv_peak(0 if kind == "avx2" else 1, 10_000_000, threads) for _ in range(3))
    instr = "vpmaddubsw + vpaddw" if kind == "avx2" else "vpdpbusd"
    log(f"  {instr} alone (registers only): {peak:.1f} G multiply-adds/s on {threads} threads")
    luts = load_scheme("marlin")
    g = torch.Generator().manual_seed(0)
    rows = []
    for c, h in STAGES:
        x = torch.randint(0, 128, (batch, c, h, h), dtype=torch.int8, generator=g)  # after a ReLU: >= 0
        w = torch.randint(-127, 128, (c, c, 3, 3), dtype=torch.int8, generator=g)
        for lv in levels:
            lut = luts.table(lv)
            pw = fast.prepare(w, decompose(lut)).for_input(x)
            planes = 1 if pw.dec.exact else pw.dec.planes + 2
            t = _median(lambda: fast.conv(x, w, lut, 1, 1, prepared=pw, route=kind), repeats)
            rate = batch * h * h * c * 9 * planes * c / t / 1e9
            rows.append({"shape": f"{c}x{h}x{h}", "level": lv, "batch": batch, "planes": planes,
                         "gmacs_per_s": rate, "of_peak": rate / peak})
            log(f"  conv {c}x{h}x{h} level {lv:>3}: {planes} plane groups, {rate:6.1f} G/s = {rate / peak:4.0%} of that")
    return {"kernel": kind, "instruction": instr, "peak_gmacs_per_s": peak, "threads": threads, "rows": rows}


def _forced_routes() -> list[str]:
    """The planes routes this CPU can run, each timed alone in the ResNet rows (the automatic choice picks one
    per layer shape): the VNNI or AVX2 kernel, and oneDNN's int8 convolution (AMX where the CPU has it)."""
    from .engines import fast
    return [r for r in (_planes_kernel(), "onednn" if fast.onednn_available() else None) if r]


def _planes_kernel() -> str | None:
    """The implicit-GEMM planes kernel this CPU runs: 'vnni', 'avx2' or None."""
    from .engines import fast
    return "vnni" if fast.vnni_available() else "avx2" if fast.avx2_available() else None


@contextlib.contextmanager
def _route(route: str):
    """AXX_FAST_ROUTE=route inside, as it was after."""
    saved = os.environ.get("AXX_FAST_ROUTE")
    os.environ["AXX_FAST_ROUTE"] = route
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("AXX_FAST_ROUTE", None)
        else:
            os.environ["AXX_FAST_ROUTE"] = saved


def _timed_route(model, x, route: str, repeats: int) -> float:
    with _route(route):
        return _median(lambda: model(x), repeats)


def _gpu_layer(x, w, lut, repeats: int) -> dict:
    """The same layer on the GPU, as ratios to exact float32 conv2d on that GPU."""
    from .engines import get_engine
    from .engines.decomposition import decompose
    from .engines.fast import prepare

    xg, wg, lg = x.cuda(), w.cuda(), lut.cuda()
    xf, wf = xg.float(), wg.float()
    t = _median_cuda(lambda: F.conv2d(xf, wf, padding=1), repeats)
    pw = prepare(wg, decompose(lut))
    return {"gpu_exact_fp32_ms": t * 1e3,
            "gpu_fast": _median_cuda(lambda: get_engine("fast").conv(xg, wg, lg, 1, 1, prepared=pw), repeats) / t,
            "gpu_cuda": _median_cuda(lambda: get_engine("cuda").conv(xg, wg, lg, 1, 1), repeats) / t}


def bench_resnet(levels, batch: int, repeats: int, depth: int = 32, log=print) -> tuple[list[dict], list[dict]]:
    from .calibration import calibrate
    from .configure import set_engine
    from .resnet import resnet

    g = torch.Generator().manual_seed(1)
    x = torch.rand(batch, 3, 32, 32, generator=g)
    fl = resnet(depth, "float").eval()
    ap = resnet(depth, "approx").eval()
    ap.load_state_dict(fl.state_dict())
    calibrate(ap, x)
    with torch.no_grad():
        t_exact = _median(lambda: fl(x), repeats)
        rows = []
        for lv in levels:
            ap.set_levels(lv)
            r = {"model": f"resnet{depth}", "level": lv, "batch": batch, "exact_fp32_ms": t_exact * 1e3}
            for eng in ("fast", "c"):
                set_engine(ap, eng)
                r[eng] = _median(lambda: ap(x), repeats if eng == "fast" else 1) / t_exact
            set_engine(ap, "fast")
            r["fast_routes"] = {route: _timed_route(ap, x, route, repeats) / t_exact for route in _forced_routes()}
            rows.append(r)
            each = "".join(f"  {k} {v:.2f}x" for k, v in r["fast_routes"].items())
            log(f"  resnet{depth} forward, level {lv:>3}: fast {r['fast']:6.2f}x  c {r['c']:6.2f}x   "
                f"[exact fp32 {t_exact * 1e3:.1f} ms for {batch} images]{'  fast through' + each if each else ''}")
        set_engine(ap, "auto")
        if torch.cuda.is_available():
            for r, g in zip(rows, _gpu_resnet(fl, ap, x, levels, repeats)):
                r.update(g)
                log(f"  {'(GPU)':>31}: fast {g['gpu_fast']:6.2f}x  cuda {g['gpu_cuda']:6.2f}x   "
                    f"[exact fp32 on {torch.cuda.get_device_name()} {g['gpu_exact_fp32_ms']:.2f} ms]")
        thr = []
        qt = resnet(depth, "quant").eval()
        qt.load_state_dict(fl.state_dict())
        for name, model, lv in (("float", fl, None), ("quant", qt, None), ("approx", ap, 0), ("approx", ap, 50)):
            if lv is not None:
                model.set_levels(lv)
            t = _median(lambda: model(x), repeats)
            thr.append({"exec_type": name, "level": lv, "batch": batch, "images_per_s": batch / t})
            log(f"  resnet{depth} throughput {name:>6}{'' if lv is None else f' level {lv}':>9}: {batch / t:8.1f} images/s "
                f"(batch {batch})")
    return rows, thr


def _gpu_resnet(fl, ap, x, levels, repeats: int) -> list[dict]:
    """The whole network on the GPU, as ratios to the float model on that GPU."""
    import copy

    from .configure import set_engine

    flg, apg, xg = copy.deepcopy(fl).cuda(), copy.deepcopy(ap).cuda(), x.cuda()
    t = _median_cuda(lambda: flg(xg), repeats)
    rows = []
    for lv in levels:
        apg.set_levels(lv)
        r = {"gpu_exact_fp32_ms": t * 1e3}
        for eng in ("fast", "cuda"):
            set_engine(apg, eng)
            r[f"gpu_{eng}"] = _median_cuda(lambda: apg(xg), repeats) / t
        rows.append(r)
    return rows


def run(levels=(0, 8, 50, 100, 255), batch: int = 100, ref_batch: int = 4, repeats: int = 5,
        out: str | None = None, log=print) -> dict:
    torch.manual_seed(0)
    from .engines import fast
    offered = (["AVX-512 VNNI kernel"] if fast.vnni_available() else
               ["AVX2 kernel (activations >= 0)"] if fast.avx2_available() else []) \
        + (["oneDNN int8 convolution of the planes"] if fast.onednn_available() else []) + ["im2col + torch._int_mm"] \
        + (["float32 convolution"] if fast.float_route_ok() else [])
    log(f"axx bench: torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{cpu_id()}; fast on the CPU: the fastest per layer shape of "
        f"{', '.join(offered)}")
    log("per-layer times as a ratio to exact float32 conv2d measured in the same run (medians):")
    layers = bench_layers(levels, batch, ref_batch, repeats, log)
    log("the planes kernel's multiply-adds against its instruction's peak, both measured now:")
    kernel = bench_kernel(levels, batch, repeats, log)
    log("whole network:")
    net, thr = bench_resnet(levels, batch, repeats, log=log)
    names = {"vnni": "AVX-512 VNNI kernel", "avx2": "AVX2 kernel", "onednn": "oneDNN int8 convolution",
             "int_mm": "im2col + torch._int_mm", "float": "float32 convolution",
             "library": "quantize + conv + dequantize"}
    chosen = sorted({names.get(r, r) for r in fast._ROUTES.values()})
    route = " / ".join(chosen) if chosen else offered[0]
    log(f"fast engine's CPU routes chosen: {route}")
    result = {"config": {"levels": list(levels), "batch": batch, "reference_batch": ref_batch, "repeats": repeats,
                         "torch": torch.__version__, "threads": torch.get_num_threads(),
                         "cpu": cpu_id(), "cuda": torch.cuda.is_available(),
                         "fast_cpu_route": route},
              "code_version": code_version(), "layers": layers, "kernel": kernel, "resnet": net, "throughput": thr}
    if out:
        atomic_write_text(out, json.dumps(result, indent=2) + "\n")
        log(f"wrote {out}")
    return result
