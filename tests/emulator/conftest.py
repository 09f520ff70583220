import pytest


@pytest.fixture(autouse=True)
def vnni_kernel_by_default(monkeypatch):
    """On CPUs with AVX-512 VNNI, the fast engine times its two CPU routes per shape and keeps the faster;
    the tests pin the VNNI kernel as the default route (and switch to the other by turning VNNI off), so
    both stay covered whatever the timings say. test_cpu_route_* clears it."""
    monkeypatch.setenv("AXX_FAST_ROUTE", "vnni")
