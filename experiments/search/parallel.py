"""Where genomes are evaluated: pymoo's parallelization over a Dask cluster by address, a local
process pool, or serially."""
from __future__ import annotations


def _set_threads(n: int) -> None:
    import torch
    torch.set_num_threads(n)


def make_runner(workers: int, dask: str | None):
    """pymoo's parallelization: a Dask cluster by address, else a local process pool (or serial)."""
    if dask:
        from distributed import Client
        try:
            client = Client(dask, timeout="10s")
        except (OSError, TimeoutError) as e:
            raise RuntimeError(f"cannot reach the Dask scheduler at {dask} within 10 s ({e})") from None
        from pymoo.parallelization.dask import DaskParallelization
        return DaskParallelization(client), client.close
    if workers > 1:
        import multiprocessing as mp

        from pymoo.parallelization.starmap import StarmapParallelization

        from ..machine import threads_per_worker
        pool = mp.get_context("spawn").Pool(workers, initializer=_set_threads, initargs=(threads_per_worker(workers),))
        return StarmapParallelization(pool.starmap), pool.terminate
    return None, (lambda: None)


__all__ = ["make_runner"]
