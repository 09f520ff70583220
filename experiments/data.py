"""CIFAR-10 in the official python-pickle layout: from a folder, $CIFAR10_DIR, or downloaded.

Images come as uint8 [N, 3, 32, 32] (to_float() gives [0, 1]); normalization is the model's
first step, so attacks see [0, 1] inputs. The pickles are read directly (no torchvision) with an
unpickler that admits only what a CIFAR batch holds (a dict of bytes keys, lists, a uint8 array),
so a batch file from anywhere cannot run code; a folder lacking the official `filenames` key is fine.
"""
from __future__ import annotations

import codecs
import contextlib
import contextvars
import os
import pickle
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import torch

from fileio import md5_file

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILES = ["test_batch"]
FOLDER = "cifar-10-batches-py"

# What identifies a batch is its labels and pixels, not its file: the official pickles end with a `filenames`
# entry that other copies (../shared/data's, for one) lack, so their md5s differ while every label and pixel is the
# same. Provenance compares `content_sha256` (below); these are the official batches' values, and the md5s of both
# layouts that are known to hold them (the official ones, and ../shared/data's README, which states its files equal
# the official ones in every label and pixel), so sidecars that recorded only a file's md5 keep matching either copy.
CONTENT_SHA256 = {
    "data_batch_1": "655de914a1b06476cec8c5c61e31a3e63baf73e3767fa55be9f313f908d9774d",
    "data_batch_2": "801b20e7d218dd768b9c32275ab7958d3def8c84da6234e84ac562d2d4e21262",
    "data_batch_3": "4e3d62cde8f34c69f15ddb625698f1f325acb87839b005ab31030539fe89de12",
    "data_batch_4": "5b966516c5d85f908aaa4a46cec56478239c4f71a42023e44b92f5b9a1759d7e",
    "data_batch_5": "dfb29fbbccea7d83fc292e9ad8d65ca4d03c841fe7d5ec747b4bcaa84725fda3",
    "test_batch": "4fde6bfba3af3410acbfa80c8527a959f0ac2588e9d0fc09bc8575c08c6800cf",
}
OFFICIAL_MD5 = {  # the official archive's files (with `filenames`)
    "data_batch_1": "c99cafc152244af753f735de768cd75f", "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751", "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb", "test_batch": "40351d587109b95175f43aff81a1287e",
}
NO_FILENAMES_MD5 = {  # the same batches without `filenames` (../shared/data's)
    "data_batch_1": "d46ec4c9ee3ee9e99e11d85c33cf907d", "data_batch_2": "b59052152463b1ca2854db63c8851ec4",
    "data_batch_3": "d898a7faaf1991199b2be2d48a89acc1", "data_batch_4": "05a96f02fd0ef7a2205a873680b2f6b1",
    "data_batch_5": "a25fbf3484c0105d16d9217846fae6a7", "test_batch": "1e3ab2124eead255213e5dccc07cb6a7",
}
KNOWN_MD5 = {md5: name for table in (OFFICIAL_MD5, NO_FILENAMES_MD5) for name, md5 in table.items()}


class DataError(RuntimeError):
    pass


# off inside `no_downloads()`: a dry run lists what a run would do, and downloading 170 MB is not listing
_downloads = contextvars.ContextVar("cifar10_downloads", default=True)


@contextlib.contextmanager
def no_downloads():
    """Within it, a missing batch is a DataError instead of a download."""
    token = _downloads.set(False)
    try:
        yield
    finally:
        _downloads.reset(token)


def missing_files(root: Path | str | None = None) -> list[str]:
    """The batch files (train and test) that `root` (default: `default_root()`) lacks."""
    root = Path(root) if root is not None else default_root()
    return [f for f in TRAIN_FILES + TEST_FILES if not (root / f).is_file()]


def default_root() -> Path:
    """$CIFAR10_DIR (the folder holding the batches), else ~/.cache/axx/cifar-10-batches-py."""
    env = os.environ.get("CIFAR10_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "axx" / FOLDER


def download(dest: Path | str, url: str = URL, md5: str = MD5, progress: bool = True) -> Path:
    """Fetch the archive, check its md5, extract it beside `dest`, and move the batch files that
    `dest` lacks into it one by one (each move atomic). Files already in `dest` are never touched."""
    from tqdm import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".cifar-dl-") as tmp:
        archive = Path(tmp) / "cifar-10-python.tar.gz"
        try:
            with urllib.request.urlopen(url, timeout=60) as r, open(archive, "wb") as f:
                total = int(r.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc="CIFAR-10", disable=None if progress else True) as bar:
                    for block in iter(lambda: r.read(1 << 20), b""):
                        f.write(block)
                        bar.update(len(block))
        except OSError as e:
            raise DataError(f"could not download CIFAR-10 from {url}: {e}. Set CIFAR10_DIR to a folder holding "
                            f"{', '.join(TRAIN_FILES + TEST_FILES)}") from None
        got = md5_file(archive)
        if got != md5:
            raise DataError(f"downloaded CIFAR-10 archive has md5 {got}, expected {md5} (corrupt or wrong file); "
                            "nothing was kept")
        with tarfile.open(archive) as t:
            t.extractall(tmp, filter="data")
        src = Path(tmp) / FOLDER
        if not src.is_dir():
            raise DataError(f"archive from {url} has no {FOLDER}/ folder")
        dest.mkdir(exist_ok=True)
        for f in sorted(src.iterdir()):
            if not (dest / f.name).exists():
                os.replace(f, dest / f.name)
    return dest


# numpy's array reconstructor, whatever module path this numpy version pickles it under
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(1))[0]
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
            ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
            ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
            ("_codecs", "encode"): codecs.encode}  # how Python 3's protocol 2 writes bytes


class _BatchUnpickler(pickle.Unpickler):
    """Admits only the globals a CIFAR-10 batch needs: a crafted file cannot call anything else."""

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which no CIFAR-10 batch holds "
                                         "(refused: loading it could run code)") from None


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            d = _BatchUnpickler(f, encoding="bytes").load()
        if not isinstance(d, dict):
            raise TypeError(f"it holds a {type(d).__name__}, not a dict")
        data, labels = d[b"data"], d[b"labels"]
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
            raise TypeError(f"data is {getattr(data, 'dtype', type(data).__name__)}, expected a uint8 array")
        if not isinstance(labels, (list, np.ndarray)) or not all(isinstance(v, (int, np.integer)) for v in labels):
            raise TypeError("labels are not a list of integers")
        labels = np.asarray(labels, dtype=np.int64)
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError, IndexError) as e:
        raise DataError(f"{path}: not a readable CIFAR-10 batch ({type(e).__name__}: {e})") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data) or not len(data):
        raise DataError(f"{path}: unexpected layout data {data.shape}, labels {labels.shape}")
    if labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def content_sha256(path: Path | str) -> str:
    """sha256 of a batch's labels and pixels (not of its file: see CONTENT_SHA256); a DataError when unreadable."""
    import hashlib

    x, y = _read_batch(Path(path))
    h = hashlib.sha256(f"cifar-10 batch: {len(y)} labels int64le, then {len(y)}x3072 uint8\n".encode())
    h.update(y.astype("<i8").tobytes())
    h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()


def batch_digest(path: Path) -> dict:
    """An existing batch file's md5 (what published checksums are) and `content_sha256` (what makes two copies the
    same data; "unreadable" for a file that is no CIFAR-10 batch), both cached like every digest."""
    from fileio import cached_digest

    try:
        content = cached_digest(path, "cifar10-content", compute=content_sha256)
    except DataError:
        content = "unreadable"
    return {"md5": cached_digest(path, "md5"), "content_sha256": content}


def check(root: Path | str | None = None) -> list[dict]:
    """Per batch file of `root` (default: `default_root()`): whether it holds the official CIFAR-10 batch of its
    name, judged by its labels and pixels (state official | other | missing | unreadable), with its file's md5 and
    layout (official file, or without the `filenames` entry)."""
    root = Path(root) if root is not None else default_root()
    rows = []
    for name in TRAIN_FILES + TEST_FILES:
        path = root / name
        row = {"file": name, "path": str(path), "state": "missing", "md5": None, "content_sha256": None, "layout": None}
        if path.is_file():
            row.update(batch_digest(path))
            row["state"] = ("unreadable" if row["content_sha256"] == "unreadable" else
                            "official" if row["content_sha256"] == CONTENT_SHA256[name] else "other")
            row["layout"] = ("official file" if row["md5"] == OFFICIAL_MD5[name] else
                             "without the filenames entry" if row["md5"] == NO_FILENAMES_MD5[name] else None)
        rows.append(row)
    return rows


def data_files(splits: tuple[str, ...] | str = ("test",), root: Path | str | None = None) -> dict[str, Path]:
    """The batch files of `splits`, as provenance inputs ({"data:test_batch": path, ...})."""
    root = Path(root) if root is not None else default_root()
    names = [f for s in ((splits,) if isinstance(splits, str) else splits)
             for f in (TRAIN_FILES if s == "train" else TEST_FILES)]
    return {f"data:{f}": root / f for f in names}


def load_cifar10(split: str = "test", root: Path | str | None = None, download_missing: bool = True,
                 limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 [N, 3, 32, 32], labels int64 [N]) of the 'train' or 'test' split, in the
    official order; `limit` keeps the first N."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root) if root is not None else default_root()
    files = TRAIN_FILES if split == "train" else TEST_FILES
    missing = [f for f in files if not (root / f).is_file()]
    if missing:
        if not download_missing or not _downloads.get():
            raise DataError(f"CIFAR-10 files missing in {root}: {', '.join(missing)}")
        download(root)
    xs, ys = [], []
    for f in files:
        x, y = _read_batch(root / f)
        xs.append(x)
        ys.append(y)
        if limit is not None and sum(len(a) for a in xs) >= limit:
            break
    x = torch.from_numpy(np.concatenate(xs))
    y = torch.from_numpy(np.concatenate(ys))
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return x, y


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float32 in [0, 1]."""
    return images.float().div_(255.0)
