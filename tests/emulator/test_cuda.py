"""The CUDA engine: built with nvcc wherever nvcc exists; run against the reference where a GPU exists."""
import pytest
import torch

from emulator.engines import cuda, get_engine
from emulator.lut import load_scheme

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")


@pytest.mark.skipif(cuda.nvcc() is None, reason="no nvcc on this machine")
def test_cuda_library_compiles_and_exports():
    so = cuda.compile_library()
    assert so.is_file()
    import cffi
    ffi = cffi.FFI()
    ffi.cdef(cuda.CDEF)
    lib = ffi.dlopen(str(so))  # static cudart: loads without a GPU or driver
    assert ffi.string(lib.lutconv_cuda_error(-2)).decode() == "kernel larger than the padded input"


def test_cuda_engine_refuses_cpu_tensors():
    x = torch.zeros(1, 1, 3, 3, dtype=torch.int8)
    with pytest.raises(ValueError, match="needs tensors on a GPU"):
        cuda.conv(x, x, load_scheme("marlin").table(0))


@needs_gpu
@pytest.mark.parametrize("level", [0, 1, 50, 128, 255])
def test_cuda_matches_reference(level):
    g = torch.Generator().manual_seed(level)
    lut = load_scheme("marlin").table(level)
    for (n, c, h, o, k, s, p) in [(2, 3, 9, 5, 3, 1, 1), (3, 16, 8, 32, 3, 2, 1), (1, 1, 3, 1, 3, 1, 0), (4, 8, 7, 3, 1, 1, 0)]:
        x = torch.randint(-128, 128, (n, c, h, h + 1), dtype=torch.int8, generator=g)
        w = torch.randint(-128, 128, (o, c, k, k), dtype=torch.int8, generator=g)
        ref = get_engine("reference").conv(x, w, lut, s, p)
        got = cuda.conv(x.cuda(), w.cuda(), lut.cuda(), s, p)
        assert torch.equal(got.cpu(), ref)
        fast = get_engine("fast").conv(x.cuda(), w.cuda(), lut.cuda(), s, p)
        assert torch.equal(fast.cpu(), ref)


@needs_gpu
def test_resnet_on_gpu_engines_agree():
    from emulator import calibrate, resnet, set_engine
    x = torch.rand(8, 3, 32, 32)
    m = resnet(8, "approx")
    calibrate(m, x)
    m.eval()
    m.set_levels([0, 5, 50, 100, 127, 200, 255])
    with torch.no_grad():
        set_engine(m, "c")
        cpu = m(x)
        m.cuda()
        outs = {}
        for eng in ("cuda", "fast"):
            set_engine(m, eng)
            outs[eng] = m(x.cuda()).cpu()
    # the accumulators are identical; dequantization runs in float32 on both devices
    assert torch.allclose(outs["cuda"], cpu, atol=1e-4) and torch.equal(outs["cuda"], outs["fast"])
