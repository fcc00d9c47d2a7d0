"""The report in a real browser: headless Chromium (Debian's ``chromium``) opens the page from disk.

Checked: the page loads without errors (no script error, no failed resource, no console error), every
<img> on it renders (decoded, non-empty, laid out, more than one colour), and its tables hold the numbers
written under results/ (the expected strings are computed here from the fixture's values).

How, without a browser-driver library: a copy of the report gets a small script (the copy only; the report
itself has none) that listens for errors from the start and, on the load event, writes what it found as
JSON into ``<pre id="reid-check">``; Chromium's ``--dump-dom`` prints the DOM, and the JSON is read back.
Console messages come from Chromium's log on stderr. A screenshot of the untouched report must not be blank.

Chromium is found as REID_CHROMIUM, or chromium, chromium-browser or google-chrome on PATH; without it
these tests skip (Debian/Ubuntu: ``apt-get install chromium``).
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import shutil
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from reid.claims import judge_run, write_claims
from reid.config import complete
from reid.report import build_report, paper_tables, paper_value

# ------------------------------------------------------------------------------------------ the browser

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
WINDOW_WIDTH = 1400  # the page must fit a window this wide
TIMEOUT_S = 120
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)


def find_chromium() -> str | None:
    """REID_CHROMIUM (a path or a name on PATH) first, then the usual names."""
    names = [os.environ["REID_CHROMIUM"]] if os.environ.get("REID_CHROMIUM") else []
    for name in names + list(CHROMIUM_NAMES):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        hint = (
            f"REID_CHROMIUM={os.environ['REID_CHROMIUM']!r} is not an executable; "
            if os.environ.get("REID_CHROMIUM")
            else ""
        )
        pytest.skip(
            f"{hint}no headless Chromium found ({', '.join(CHROMIUM_NAMES)} on PATH, or REID_CHROMIUM): "
            "install it with `apt-get install chromium` (Debian/Ubuntu), or run the README's test set-up "
            "(tests/install_browser.sh), or set REID_CHROMIUM=/path/to/chrome"
        )
    return binary


def run_chromium(binary: str, args: list[str], workdir: Path) -> subprocess.CompletedProcess:
    """One headless Chromium run with a fresh profile under workdir."""
    workdir.mkdir(parents=True, exist_ok=True)
    profile = workdir / f"chromium-profile-{len(list(workdir.glob('chromium-profile-*')))}"
    command = [binary, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_S, env={**os.environ, "TZ": "UTC"}
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"chromium ran past {TIMEOUT_S} s: {command}\nstderr:\n{e.stderr}")
    assert done.returncode == 0, f"chromium exited {done.returncode}: {command}\nstderr:\n{done.stderr[-4000:]}"
    return done


# Chromium's log lines about itself, not the page: no D-Bus, GPU, sandbox or crash reporter in a container.
NOISE = [
    re.compile(p)
    for p in (
        r"^\S*chromium\S*: \d+: \[: .*unexpected operator",  # Debian's launcher (/etc/chromium.d/dev-shm) test of findmnt
        r":(ERROR|WARNING):dbus/",  # Failed to connect to the bus / NameHasOwner / UPower properties
        r"bluez_dbus_manager\.cc",  # Floss manager service not available
        r"idle_linux\.cc",  # None of the known D-Bus ScreenSaver services could be used
        r"vaapi_wrapper\.cc",  # drmGetDevices2() has not found any devices
        r"sandbox_linux\.cc",  # InitializeSandbox() called with multiple threads in process gpu-process
        r"crashpad|breakpad",
        r"gpu_init\.cc|gpu_process_host\.cc|command_buffer|gl_surface|angle_platform|viz_main|gles2",  # GPU/GL fallbacks
        r"ssl_client_socket|net/dns|component_updater|registration_request|gcm|on_device_model|fontconfig",
        r"^\s*$",
    )
]
CONSOLE = re.compile(r'^\[[^\]]*:CONSOLE(?::\d+|\(\d+\))\] "(?P<message>.*)", source: (?P<source>.*?) \(\d+\)\s*$')
PAGE_ERROR = re.compile(r"uncaught|failed to|refused to|not allowed to|net::err_|error|violat", re.I)


@dataclass
class Log:
    console: list[tuple[str, str]] = field(default_factory=list)  # (message, source)
    noise: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)

    def page_errors(self) -> list[str]:
        """Console messages from the page (not chrome:// internals) that say something went wrong."""
        return [
            f"{message} (source: {source})"
            for message, source in self.console
            if not re.match(r"(chrome|devtools|chrome-extension)://", source) and PAGE_ERROR.search(message)
        ]


def parse_log(stderr: str) -> Log:
    log = Log()
    for line in stderr.splitlines():
        console = CONSOLE.match(line)
        if console:
            log.console.append((console["message"], console["source"]))
        elif any(p.search(line) for p in NOISE):
            log.noise.append(line)
        else:
            log.other.append(line)
    return log


# Runs on the copy from the start (so it sees the images' error events too); on load, reports as JSON.
CHECK_SCRIPT = r"""<script data-reid-check>
(function () {
  var errors = [];
  function note(kind, detail) { errors.push({kind: kind, detail: String(detail)}); }
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && t.tagName) {
      note('resource', t.tagName + ' ' + (t.getAttribute('alt') || '') + ' ' +
           String(t.getAttribute('src') || t.getAttribute('href') || '').slice(0, 60));
    } else {
      note('script', (e.message || 'error') + ' at ' + e.filename + ':' + e.lineno);
    }
  }, true);
  window.addEventListener('unhandledrejection', function (e) { note('promise', e.reason); });
  document.addEventListener('securitypolicyviolation', function (e) {
    note('csp', e.violatedDirective + ' ' + e.blockedURI);
  });
  function colours(img) {  // distinct colours in the decoded image, scaled to at most 256 px a side
    if (!img.naturalWidth || !img.naturalHeight) return 0;
    try {
      var scale = Math.min(1, 256 / Math.max(img.naturalWidth, img.naturalHeight));
      var w = Math.max(1, Math.round(img.naturalWidth * scale)), h = Math.max(1, Math.round(img.naturalHeight * scale));
      var canvas = document.createElement('canvas');
      canvas.width = w; canvas.height = h;
      var context = canvas.getContext('2d');
      context.drawImage(img, 0, 0, w, h);
      var data = context.getImageData(0, 0, w, h).data, seen = new Set();
      for (var i = 0; i < data.length && seen.size < 1000; i += 4) {
        seen.add(((data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]) >>> 0);
      }
      return seen.size;
    } catch (err) {
      return 'error: ' + err;
    }
  }
  function text(node) { return (node.textContent || '').replace(/\s+/g, ' ').trim(); }  // textContent: cells inside a closed <details> count too
  window.addEventListener('load', function () {
    var images = Array.prototype.map.call(document.images, function (img) {
      var box = img.getBoundingClientRect();
      return {alt: img.getAttribute('alt'), src: String(img.getAttribute('src') || '').slice(0, 40),
              complete: img.complete, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
              shownWidth: box.width, shownHeight: box.height, colours: colours(img)};
    });
    var tables = [];
    Array.prototype.forEach.call(document.querySelectorAll('table'), function (table) {
      tables.push({id: table.id, right: table.getBoundingClientRect().right, rows: Array.prototype.map.call(table.rows, function (row) {
        return {section: row.parentNode.tagName.toLowerCase(), cells: Array.prototype.map.call(row.cells, function (c) {
          return {text: text(c), colspan: c.colSpan, rowspan: c.rowSpan, th: c.tagName === 'TH'};
        })};
      })});
    });
    var ids = {}, duplicates = [];
    Array.prototype.forEach.call(document.querySelectorAll('[id]'), function (n) {
      if (ids[n.id]) duplicates.push(n.id); ids[n.id] = 1;
    });
    var out = document.createElement('pre');
    out.id = 'reid-check';
    out.textContent = JSON.stringify({
      errors: errors, images: images, tables: tables, duplicateIds: duplicates, title: document.title,
      charset: document.characterSet, pwned: window.__pwned || null,
      scripts: document.querySelectorAll('script:not([data-reid-check])').length,
      elements: Array.prototype.map.call(document.querySelectorAll('body *'), function (n) { return n.tagName; }),
      bodyText: text(document.body), viewport: window.innerWidth
    });
    document.body.appendChild(out);
  });
})();
</script>"""


def inject(page: str) -> str:
    """The page with CHECK_SCRIPT right after its charset declaration (kept in the first 1024 bytes), else <head>."""
    anchor = re.search(r"<meta[^>]*charset[^>]*>", page[:1024], re.I) or re.search(r"<head\b[^>]*>", page, re.I)
    at = anchor.end() if anchor else 0
    return page[:at] + CHECK_SCRIPT + page[at:]


@dataclass
class PageCheck:
    found: dict  # what CHECK_SCRIPT reported
    log: Log

    def table(self, table_id: str) -> dict:
        tables = [t for t in self.found["tables"] if t["id"] == table_id]
        assert len(tables) == 1, f"{len(tables)} tables with id {table_id!r}: {[t['id'] for t in self.found['tables']]}"
        return tables[0]

    def broken_images(self) -> list[dict]:
        return [i for i in self.found["images"] if not image_renders(i)]


def image_renders(image: dict) -> bool:
    return (
        image["complete"]
        and image["naturalWidth"] > 0
        and image["naturalHeight"] > 0
        and image["shownWidth"] > 0
        and image["shownHeight"] > 0
        and isinstance(image["colours"], int)
        and image["colours"] > 1
    )


def check_page(binary: str, page: Path, workdir: Path, name: str = "checked") -> PageCheck:
    """Open an injected copy of page (in workdir, the copy only) in headless Chromium; what it found."""
    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / f"{name}.html"
    copy.write_text(inject(page.read_text(encoding="utf-8")), encoding="utf-8")
    done = run_chromium(
        binary,
        ["--dump-dom", f"--window-size={WINDOW_WIDTH},3000", "--virtual-time-budget=10000", copy.as_uri()],
        workdir,
    )
    match = re.search(r'<pre id="reid-check">(.*?)</pre>', done.stdout, re.S)
    assert match, f"the page's load event never came (no #reid-check in the DOM)\nstderr:\n{done.stderr[-4000:]}"
    return PageCheck(json.loads(html.unescape(match[1])), parse_log(done.stderr))


def screenshot(binary: str, page: Path, png: Path, workdir: Path) -> bytes:
    run_chromium(
        binary,
        [f"--screenshot={png}", "--window-size=1400,3000", "--virtual-time-budget=10000", page.as_uri()],
        workdir,
    )
    assert png.is_file(), f"chromium wrote no screenshot at {png}"
    return png.read_bytes()


def screenshot_problem(png: bytes) -> str | None:
    """Why a screenshot does not show a page (None: it does)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 16)  # None: more than that many
    if colours is not None:
        if len(colours) < 16:
            return f"{len(colours)} colour(s) only"
        background = max(colours)[0]
        if 1 - background / (image.width * image.height) < 0.02:
            return f"{100 * background / (image.width * image.height):.1f}% of the pixels are the background colour"
    return None


# ------------------------------------------------------------------------------------------ the results

DATASETS = {"market1501": "Market-1501", "dukemtmcreid": "DukeMTMC-reID"}  # name -> label in the tables
METRICS = {"mAP": "mAP", "rank1": "R1", "rank5": "R5", "rank10": "R10"}
VARIANTS = ["baseline", "avg", "max", "residual"]
TABLE_VARIANTS = VARIANTS + ["residual+rerank"]
PAPER_ROWS = {
    "baseline": "ResNet50_baseline",
    "avg": "Avg",
    "max": "Max",
    "residual": "Residual",
    "residual+rerank": "Residual + re-ranking",
}
BASE = {"baseline": 0.7012, "avg": 0.7803, "max": 0.7921, "residual": 0.8437, "residual+rerank": 0.9046}
DATASET_SHIFT = {"market1501": 0.0, "dukemtmcreid": -0.0518}
METRIC_SHIFT = {"mAP": -0.1234, "rank1": 0.0, "rank5": 0.0411, "rank10": 0.0617}
SEED_SHIFT = {1: 0.0031, 2: -0.0047, 3: 0.0102}
SEEDS = {(d, v): [1, 2, 3] for d in DATASETS for v in TABLE_VARIANTS}
SEEDS[("dukemtmcreid", "avg")] = []  # not run: the table says so
SEEDS[("dukemtmcreid", "max")] = [2]  # one seed: a mean without ±
COSTS = {
    "residual": {
        "params_M": 31.0712,
        "params_without_classifiers_M": 28.7634,
        "fvcore_GMACs": 5.1638,
        "fvcore_GFLOPs": 10.3276,
        "thop_GMACs": 5.1847,
        "thop_GFLOPs": 10.3694,
        "latency": {"cpu": (91.234, 97.891, 11.7), "cuda": (3.456, 3.987, 1523.4)},
    },
    "baseline": {
        "params_M": 24.5581,
        "params_without_classifiers_M": 23.5081,
        "fvcore_GMACs": 4.1212,
        "fvcore_GFLOPs": 8.2424,
        "thop_GMACs": 4.1309,
        "thop_GFLOPs": 8.2618,
        "latency": {"cpu": (70.015, 74.444, 14.2)},
    },
}
BENCHMARKS = {"train/market1501_residual_seed1": 123.456, "evaluate/market1501_residual_seed1": 7.04}


def value(dataset: str, variant: str, metric: str, seed: int) -> float:
    """The fraction metrics.json holds."""
    return round(BASE.get(variant, 0.5) + DATASET_SHIFT.get(dataset, 0.0) + METRIC_SHIFT[metric] + SEED_SHIFT[seed], 6)


def percents(dataset: str, variant: str, metric: str) -> list[float]:
    return [100.0 * value(dataset, variant, metric, s) for s in SEEDS[(dataset, variant)]]


def tiny_png(path: Path, seed: int) -> None:
    from PIL import Image

    image = Image.new("RGB", (96, 48))
    image.putdata([((x * 7 + seed) % 256, (y * 5) % 256, (x * y) % 256) for y in range(48) for x in range(96)])
    image.save(path)


def write_results(root: Path, datasets=tuple(DATASETS), seeds=SEEDS, costs=COSTS) -> None:
    for (dataset, variant), per in seeds.items():
        if dataset not in datasets:
            continue
        for seed in per:
            folder = root / dataset / variant / f"seed{seed}"
            folder.mkdir(parents=True)
            metrics = {m: value(dataset, variant, m, seed) for m in METRICS}
            (folder / "metrics.json").write_text(json.dumps({**metrics, "device": "cpu: test"}))
            write_per_query(folder, metrics["mAP"], metrics["rank1"])
            if variant in ("avg", "max", "residual"):  # Figure 5's curves
                rows = ["epoch,loss,triplet,ce,train_acc,lr,epoch_seconds,images_per_s,rank1,mAP"]
                for epoch in range(6):
                    r1 = min(0.99, 0.1 + 0.12 * epoch + 0.01 * seed)
                    rows.append(f"{epoch},{6 - 0.8 * epoch:.2f},1,1,0.5,0.03,1.0,100,{r1:.3f},{r1 - 0.1:.3f}")
                (folder / "log.csv").write_text("\n".join(rows) + "\n")
    for dataset in datasets:  # figures drawn by `reid figure` (the report embeds those it knows, skips damaged ones)
        figures = root / dataset / "figures"
        figures.mkdir(parents=True, exist_ok=True)
        tiny_png(figures / "ranked_lists_seed1.png", 1)
        tiny_png(figures / "gradcam_seed1.png", 2)
        (figures / "gradcam_seed2.png").write_bytes(b"not a png at all")
    (root / "cost").mkdir(parents=True, exist_ok=True)
    for variant, p in costs.items():
        latency = {
            device: {"latency_ms_median": median, "latency_ms_p90": p90, "throughput_images_per_s": rate}
            for device, (median, p90, rate) in p["latency"].items()
        }
        (root / "cost" / f"{variant}.json").write_text(
            json.dumps(
                {
                    **p,
                    "variant": variant,
                    "backbone": "resnet50",
                    "input": [288, 144],
                    "num_classes": 751,
                    "latency": latency,
                }
            )
        )


QUERY_PATHS = np.array([f"query/{i:04d}_c1s1_000001_00.jpg" for i in range(200)])


def write_per_query(folder: Path, mean_ap: float, rank1: float) -> None:
    """per_query.npz whose AP averages to mean_ap exactly (for the claims table)."""
    spread = np.tile([-0.05, 0.05], len(QUERY_PATHS) // 2)
    hits = np.arange(len(QUERY_PATHS)) < round(rank1 * len(QUERY_PATHS))
    ap, first_hit = mean_ap + spread, np.where(hits, 0, 2)
    readings = {f"{k}_{r}": v for r in ("raw", "normalized") for k, v in (("ap", ap), ("first_hit", first_hit))}
    np.savez(folder / "per_query.npz", ap=ap, first_hit=first_hit, q_paths=QUERY_PATHS, **readings)


def write_benchmarks(root: Path) -> None:
    for job, seconds in BENCHMARKS.items():
        path = root / f"{job}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:00\t100.0\n")


# ------------------------------------------------------------------------------------------ the tables


def grid(table: dict) -> tuple[list[list[str]], int]:
    """The table's cells with row and column spans spread out; and how many of its rows are headers."""
    spread: dict[tuple[int, int], str] = {}
    for r, row in enumerate(table["rows"]):
        c = 0
        for cell in row["cells"]:
            while (r, c) in spread:
                c += 1
            for dr in range(cell["rowspan"]):
                for dc in range(cell["colspan"]):
                    spread[(r + dr, c + dc)] = cell["text"]
            c += cell["colspan"]
    width = 1 + max((c for _, c in spread), default=-1)
    rows = [[spread.get((r, c)) for c in range(width)] for r in range(len(table["rows"]))]
    return rows, sum(row["section"] == "thead" for row in table["rows"])


def lookup(table: dict, row_name: str, column: tuple[str, ...]) -> str | None:
    """The text of the cell in the row whose header's first word is row_name, under the header cells column."""
    rows, heads = grid(table)
    columns = [c for c in range(len(rows[0]) if rows else 0) if tuple(rows[h][c] for h in range(heads)) == column]
    found = [row for row in rows[heads:] if row[0] and row[0].split()[0] == row_name]
    if len(columns) != 1 or len(found) != 1:
        return f"<{len(found)} rows {row_name!r}, {len(columns)} columns {column}>"
    return found[0][columns[0]]


def expected_cells() -> dict[str, dict[tuple[str, tuple[str, ...]], str]]:
    """table id -> (row, column) -> the text the cell must hold, from the fixture's values."""
    paper = paper_tables()
    expected: dict[str, dict] = {"table2": {}, "table3": {}, "table4": {}, "timing": {}}
    for variant in TABLE_VARIANTS:
        for dataset, label in DATASETS.items():
            for metric, metric_label in METRICS.items():
                values = percents(dataset, variant, metric)
                quoted = paper_value(paper, 2, PAPER_ROWS[variant], dataset, metric)
                if not values:
                    ours, diff = "not run", ""
                else:
                    mean = statistics.fmean(values)
                    ours = f"{mean:.2f} ± {statistics.stdev(values):.2f}" if len(values) > 1 else f"{mean:.2f}"
                    diff = f"{mean - quoted:+.2f}" if quoted is not None else ""
                    if variant in ("residual", "residual+rerank"):
                        expected["table3"][(variant, (label, metric_label))] = f"{mean:.2f}"
                cells = {"ours": ours, "paper": "—" if quoted is None else f"{quoted:.2f}", "Δ": diff}
                for column, text in cells.items():
                    expected["table2"][(variant, (label, metric_label, column))] = text
    devices = sorted({d for p in COSTS.values() for d in p["latency"]})
    for variant, p in COSTS.items():
        cells = {
            "params M": f"{p['params_M']:.2f}",
            "params M without classifiers": f"{p['params_without_classifiers_M']:.2f}",
            "fvcore GMACs / GFLOPs": f"{p['fvcore_GMACs']:.2f} / {p['fvcore_GFLOPs']:.2f}",
            "thop GMACs / GFLOPs": f"{p['thop_GMACs']:.2f} / {p['thop_GFLOPs']:.2f}",
        }
        for device in devices:
            median, p90, rate = p["latency"].get(device, (None, None, None))
            cells[f"{device}: latency ms (median / p90)"] = "—" if median is None else f"{median:.2f} / {p90:.2f}"
            cells[f"{device}: images/s"] = "—" if rate is None else f"{rate:.0f}"
        for column, text in cells.items():
            expected["table4"][(variant, (column,))] = text
    return expected


def table_mismatches(check: PageCheck) -> list[str]:
    problems = []
    for table_id, cells in expected_cells().items():
        if table_id == "timing":
            continue
        table = check.table(table_id)
        for (row, column), text in cells.items():
            found = lookup(table, row, column)
            if found != text:
                problems.append(f"{table_id} [{row}, {' / '.join(column)}]: {found!r}, expected {text!r}")
    # the timing table has no header section: its rows are (job, seconds)
    timing = {
        row["cells"][0]["text"]: row["cells"][1]["text"]
        for row in check.table("timing")["rows"]
        if len(row["cells"]) == 2
    }
    for job, seconds in BENCHMARKS.items():
        if timing.get(job) != f"{seconds:.1f}":
            problems.append(f"timing [{job}]: {timing.get(job)!r}, expected {seconds:.1f}")
    return problems


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report_browser")
    write_results(root / "results")
    write_benchmarks(root / "benchmarks")
    config = complete({"datasets": {d: {} for d in DATASETS}, "variants": VARIANTS, "seeds": [1, 2, 3]})
    # as the workflow does: the claims step writes its record, the report renders it
    claims = root / "report" / "claims.json"
    write_claims(judge_run(root / "results", config), claims.with_suffix(".csv"), claims)
    return build_report(
        root / "results", root / "report" / "index.html", config, claims, benchmarks_dir=root / "benchmarks"
    )


@pytest.fixture(scope="module")
def checked(chromium, report, tmp_path_factory) -> PageCheck:
    return check_page(chromium, report, tmp_path_factory.mktemp("chromium"))


# ------------------------------------------------------------------------------------------ tests


def test_report_loads_without_errors(checked):
    assert checked.found["errors"] == [], checked.found["errors"]
    assert checked.log.page_errors() == [], checked.log.page_errors()
    assert checked.found["charset"].lower() == "utf-8"
    assert checked.found["title"].strip()
    assert checked.found["scripts"] == 0  # a static page: nothing but the check's own script runs
    assert checked.found["duplicateIds"] == []


def test_every_figure_is_an_image_that_renders(checked):
    images = checked.found["images"]
    assert images, "no <img> on the page"
    assert checked.broken_images() == [], checked.broken_images()
    assert all(i["src"].startswith("data:image/png;base64,") for i in images), [i["src"] for i in images]
    alts = [i["alt"] for i in images]
    assert all(a and a.strip() for a in alts), alts
    for dataset in DATASETS:  # Figure 5, one per dataset with training logs
        assert any(a.startswith("Figure 5") and DATASETS[dataset] in a for a in alts), (dataset, alts)
    assert not any("gradcam_seed2" in a for a in alts)  # the damaged PNG is not embedded


def test_tables_hold_the_numbers_in_results(checked):
    assert table_mismatches(checked) == []
    table2 = checked.table("table2")
    rows, heads = grid(table2)
    for variant in TABLE_VARIANTS:  # seeds in the row header: those of any dataset
        n = len({s for d in DATASETS for s in SEEDS[(d, variant)]})
        header = [row[0] for row in rows[heads:] if row[0].split()[0] == variant]
        assert header == [f"{variant} ({n} seed{'s' if n != 1 else ''})"], header
    table4 = checked.table("table4")
    for variant in set(VARIANTS) - set(COSTS):
        row = [r for r in table4["rows"] if r["cells"][0]["text"].split()[0] == variant]
        assert [c["text"] for c in row[0]["cells"][1:]] == ["not run"], row


def test_screenshot_of_the_report_is_not_blank(chromium, report, tmp_path):
    png = screenshot(chromium, report, tmp_path / "report.png", tmp_path)
    print(f"screenshot: {tmp_path / 'report.png'}")
    from PIL import Image

    assert Image.open(io.BytesIO(png)).size == (1400, 3000)
    assert screenshot_problem(png) is None, screenshot_problem(png)
    # and the check can fail: a blank page's screenshot is one colour
    blank = tmp_path / "blank.html"
    blank.write_text("<!doctype html><html><head><meta charset='utf-8'><title>blank</title></head><body></body></html>")
    assert screenshot_problem(screenshot(chromium, blank, tmp_path / "blank.png", tmp_path)) is not None


def test_the_check_sees_a_broken_figure_a_script_error_and_a_wrong_number(chromium, report, checked, tmp_path):
    """Negative control: the same report with one corrupted image, a failing script and one number changed."""
    page = report.read_text(encoding="utf-8")
    first = re.search(r'<img alt="([^"]*)" src="data:image/png;base64,[^"]*"', page)
    assert first, "no inline PNG on the page"
    page = (
        page[: first.start()]
        + f'<img alt="{first[1]}" src="data:image/png;base64,bm90IGEgcG5nIGF0IGFsbA=="'
        + page[first.end() :]
    )
    wrong = expected_cells()["table2"][("residual", ("Market-1501", "mAP", "ours"))]
    assert wrong in page
    page = page.replace(wrong, "12.34 ± 0.56", 1)
    page = page.replace("</body>", "<script>notDefinedAnywhere()</script></body>")
    broken = tmp_path / "broken.html"
    broken.write_text(page, encoding="utf-8")

    check = check_page(chromium, broken, tmp_path)
    assert [i["alt"] for i in check.broken_images()] == [html.unescape(first[1])]
    assert len(check.found["images"]) == len(checked.found["images"])
    kinds = sorted(e["kind"] for e in check.found["errors"])
    assert kinds == ["resource", "script"], check.found["errors"]
    assert any("notDefinedAnywhere" in e for e in check.log.page_errors()), check.log.console
    assert check.found["scripts"] == 1
    assert table_mismatches(check) == [
        f"table2 [residual, Market-1501 / mAP / ours]: '12.34 ± 0.56', expected {wrong!r}"
    ]


EVIL_CONFIG = "<script>window.__pwned='script';document.title='pwned'</script>"
EVIL_DIR = "<img src=x onerror=\"window.__pwned='img';document.title='pwned'\">"  # no '/': a folder name
EVIL_VARIANT = '"><svg onload="window.__pwned=\'svg\'">'


def test_names_from_configs_and_files_stay_text(chromium, tmp_path):
    results = tmp_path / "results"
    seeds = {(EVIL_DIR, v): [1, 2] for v in ("residual", "avg", EVIL_VARIANT)}
    write_results(results, datasets=(EVIL_DIR,), seeds=seeds, costs={EVIL_VARIANT: COSTS["residual"]})
    (results / EVIL_DIR / "dataset.json").write_text(json.dumps({"ok": False, "error": EVIL_CONFIG}))
    # names the schema would refuse, to show that the page escapes whatever it is given
    config = complete({"datasets": {"market1501": {}}}) | {
        "datasets": {EVIL_CONFIG: {}, EVIL_DIR: {}},
        "variants": ["residual", EVIL_VARIANT],
    }
    page = build_report(
        results, tmp_path / "index.html", config, judge_run(results, config), benchmarks_dir=tmp_path / "none"
    )
    check = check_page(chromium, page, tmp_path)
    assert check.found["pwned"] is None
    assert "pwned" not in check.found["title"]
    assert check.found["scripts"] == 0
    assert "SVG" not in check.found["elements"] and "svg" not in check.found["elements"]
    assert check.found["errors"] == [] and check.log.page_errors() == []
    assert all(i["src"].startswith("data:image/png;base64,") for i in check.found["images"])
    assert check.broken_images() == []
    for name in (EVIL_CONFIG, EVIL_DIR, EVIL_VARIANT):  # shown as the text it is
        assert name in check.found["bodyText"], name


def row_widths(table: dict) -> set[int]:
    """How many columns each row of a table spans, row spans of the rows above included."""
    rows, _ = grid(table)
    return {sum(text is not None for text in row) for row in rows}


def test_table_rows_are_as_wide_as_their_header(checked):
    for table in checked.found["tables"]:
        assert len(row_widths(table)) == 1, (table["id"], grid(table)[0])


def test_summary_and_claims_come_first_and_hold_the_differences(checked):
    text = checked.found["bodyText"]
    assert text.index("What ran") < text.index("The paper's claims") < text.index("Table 2")
    table = checked.table("claims-table")
    rows = [[c["text"] for c in r["cells"]] for r in table["rows"] if r["section"] == "tbody"]
    by_key = {(r[1], r[2], r[3]): r for r in rows}
    for dataset, label in DATASETS.items():
        ours = statistics.mean(percents(dataset, "residual", "mAP")) - statistics.mean(percents(dataset, "max", "mAP"))
        row = by_key[("residual vs max", label, "mAP")]
        assert row[5] == f"{ours:.2f}" and row[7] in ("supported", "contradicted", "inconclusive"), row
    duke_avg = by_key[("residual vs avg", "DukeMTMC-reID", "mAP")]  # avg was not run there
    assert duke_avg[7] == "untestable" and "not run: avg" in duke_avg[12], duke_avg
    assert all(r[7] in ("supported", "contradicted", "inconclusive", "untestable") for r in rows)
    # C5 from the costs: residual against the baseline, FLOPs from fvcore's count to thop's
    flops = by_key[("residual vs baseline", "all (no data)", "FLOPs (%)")]
    res, base = COSTS["residual"], COSTS["baseline"]
    low, high = sorted(100 * (res[k] / base[k] - 1) for k in ("fvcore_GFLOPs", "thop_GFLOPs"))
    assert flops[6] == f"[{low:.2f}, {high:.2f}]" and flops[7] == "contradicted", flops  # +25%: above the margin
    assert by_key[("residual", "all (no data)", "params (M)")][4] == "30.55"
    # C6 from the logs: the three variants logged the same curves, so residual is no better
    curve = by_key[("residual vs max", "Market-1501", "train acc")]
    assert curve[4] == "higher" and curve[5] == "0.00" and curve[7] == "inconclusive", curve
    readings = checked.table("sensitivity-table")
    shown = [[c["text"] for c in r["cells"]] for r in readings["rows"] if r["section"] == "tbody"]
    accuracy = [r for r in rows if r[0] in ("C1", "C2", "C3", "C4")]
    assert len(shown) == len(accuracy) and all(r[-1] == "same" for r in shown)  # both readings alike here
    assert "0 of" in text[text.index("Sensitivity to the readings") :]


def test_every_table_fits_the_window_or_scrolls_inside_the_page(checked):
    assert checked.found["viewport"] == WINDOW_WIDTH
    for table in checked.found["tables"]:
        if table["id"] in ("table2", "table3", "claims-table", "sensitivity-table", "timing", ""):
            continue  # inside a horizontally scrolling box (or folded away)
        assert table["right"] <= WINDOW_WIDTH, (table["id"], table["right"])
