import pytest

from emulator.engines import fast

# the planes kernel this CPU has (AVX-512 VNNI, else AVX2 where the activations are >= 0)
KERNEL = "vnni" if fast.vnni_available() else "avx2"


@pytest.fixture(autouse=True)
def planes_kernel_by_default(monkeypatch):
    """The fast engine times its CPU routes per shape and keeps the fastest; the tests pin this CPU's planes
    kernel as the default route (and switch to the others by turning VNNI off or naming a route), so every
    route stays covered whatever the timings say. test_cpu_route_* clears it."""
    monkeypatch.setenv("AXX_FAST_ROUTE", KERNEL)
