"""Write the synthetic set to disk in a way that is atomic, idempotent and parallel.

``write_set`` plans the jobs, renders and writes them (in worker processes if asked), adds a
contact sheet and the dataset marker, and renames the finished set onto its root; a set already
there with the same size, seed and generator version is kept as it is.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw
from tqdm import tqdm

from reid.data.catalog import SPLITS
from reid.data.market import MARKER, layout_counts
from reid.data.synthetic.cameras import IMAGE_H, IMAGE_W
from reid.data.synthetic.plan import SIZES, Job, plan_jobs
from reid.data.synthetic.render import encode_jpeg

GENERATOR_VERSION = 1

Renderer = Callable[[Job], Image.Image]


# ---------------------------------------------------------------------------------------------
# The writer is atomic, idempotent and parallel.
# ---------------------------------------------------------------------------------------------


def _marker_matches(root: Path, size: str, seed: int) -> bool:
    try:
        marker = json.loads((root / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return (
        marker.get("name") == "synthetic"
        and marker.get("size") == size
        and marker.get("seed") == seed
        and marker.get("generator_version") == GENERATOR_VERSION
    )


def _write_job(args: tuple[str, Job, Renderer]) -> str:
    folder, job, render = args
    data = encode_jpeg(job, render(job))
    with open(os.path.join(folder, job.split, job.name), "wb") as f:
        f.write(data)
    return job.split


def _render_all(folder: Path, jobs: list[Job], workers: int, progress: bool, render: Renderer) -> None:
    bar = None
    if progress:
        bar = tqdm(total=len(jobs), desc="synthetic re-id", unit="img", file=sys.stderr, leave=False)
    args = [(str(folder), job, render) for job in jobs]
    try:
        if workers <= 1:
            for a in args:
                _write_job(a)
                if bar is not None:
                    bar.update()
        else:
            with multiprocessing.get_context().Pool(workers) as pool:
                for _ in pool.imap_unordered(_write_job, args, chunksize=16):
                    if bar is not None:
                        bar.update()
    finally:
        if bar is not None:
            bar.close()


def write_set(
    root, size: str, seed: int, workers: int | None, progress: bool, overwrite: bool, render: Renderer
) -> Path:
    """Do the work of ``reid.data.synthetic.generate``, with the function that renders one image as
    ``render``; it is a module-level function, so that it reaches worker processes."""
    if size not in SIZES:
        raise ValueError(f"unknown synthetic size {size!r}; choose one of {', '.join(SIZES)}")
    seed = int(seed)
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    root = Path(root)
    if root.is_dir() and not root.is_symlink() and not any(root.iterdir()):
        # An empty folder is no dataset, because Snakemake makes its outputs' folders first.
        root.rmdir()
    if root.exists() or root.is_symlink():
        if root.is_dir() and _marker_matches(root, size, seed):
            return root
        if not overwrite:
            raise FileExistsError(
                f"{root} already exists and is not the synthetic set size={size!r} seed={seed} "
                f"(generator version {GENERATOR_VERSION}). Delete it or pass overwrite=True "
                "(--overwrite on the command line) to replace it."
            )
    params = SIZES[size]
    workers = max(1, int(workers if workers is not None else (os.cpu_count() or 1)))
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{root.name}-", dir=root.parent))
    try:
        for split in SPLITS:
            (tmp / split).mkdir()
        jobs = plan_jobs(params, seed)
        _render_all(tmp, jobs, workers, progress, render)
        _contact_sheet(tmp, jobs, params.cameras).save(tmp / "contact_sheet.png", optimize=False)
        marker = {
            "name": "synthetic",
            "size": size,
            "seed": seed,
            "generator_version": GENERATOR_VERSION,
            "counts": layout_counts(tmp),
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
        # An overwrite swaps the sets first and then deletes the old one.
        if root.exists() or root.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".old-{root.name}-", dir=root.parent))
            os.replace(root, old / "old")
            os.replace(tmp, root)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def _contact_sheet(folder: Path, jobs: list[Job], cameras: int, rows: int = 8, zoom: int = 2) -> Image.Image:
    """Draw a few test identities (rows) across cameras (columns), upscaled, for a human to look at."""
    by_pid: dict[int, dict[int, Job]] = {}
    for job in jobs:
        if job.kind == "person" and job.split != "bounding_box_train":
            by_pid.setdefault(job.identity.pid, {}).setdefault(job.camera.cam, job)
    chosen = sorted(by_pid, key=lambda p: (-len(by_pid[p]), p))[:rows]
    cw, ch, pad, label = IMAGE_W * zoom, IMAGE_H * zoom, 4, 16
    sheet = Image.new("RGB", (label * 3 + cameras * (cw + pad) + pad, label + len(chosen) * (ch + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for c in range(cameras):
        draw.text((label * 3 + pad + c * (cw + pad) + cw // 2 - 6, 2), f"c{c + 1}", fill="black")
    for r, pid in enumerate(chosen):
        y = label + pad + r * (ch + pad)
        draw.text((2, y + ch // 2 - 6), f"{pid:04d}", fill="black")
        for cam, job in by_pid[pid].items():
            with Image.open(folder / job.split / job.name) as im:
                tile = im.convert("RGB").resize((cw, ch), Image.NEAREST)
            sheet.paste(tile, (label * 3 + pad + (cam - 1) * (cw + pad), y))
    return sheet
