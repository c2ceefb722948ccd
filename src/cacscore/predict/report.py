"""Reports of ``cacscore predict --report DIR``: a PNG per scan and one offline index.html per cohort.

Per scan (``scan_<id>.png``): for each vessel the axial slice (of the model input) where the
gradient saliency of that vessel's output is highest (padding-only slices skipped), in a calcium window (-200..600 HU), with the
saliency overlaid, and the predicted scores and risk categories. With an ensemble the saliency is
that of the first fold model (one backward pass per vessel instead of one per member).
index.html: cohort summary figure, the score table with warnings and links to every scan PNG
(relative paths, no scripts, no network: opens offline).
"""

from __future__ import annotations

import html
import logging
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from cacscore.core.categories import CATEGORY4_LABELS, CATEGORY5_LABELS, risk_category4, risk_category5
from cacscore.core.fileio import atomic_savefig, atomic_write_text, safe_name
from cacscore.core.vessels import VESSELS

if TYPE_CHECKING:  # pragma: no cover
    from cacscore.predict.results import PredictRun, ScanResult

log = logging.getLogger(__name__)

WINDOW_HU = (-200.0, 600.0)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")



def vessel_saliency(model, hu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per vessel the slice of highest saliency: (slice index (4,), saliency map (4, H, W)) float32.

    hu: int16 (slices, H, W) preprocessed as the bundle expects. The slice maximises the summed
    absolute input gradient of that vessel's output (cacscore.regress.saliency.saliency_map).
    """
    import torch

    from cacscore.regress.preprocess import PAD_HU, normalise
    from cacscore.regress.inference import members
    from cacscore.regress.saliency import saliency_map

    m = members(model)[0]
    x = torch.from_numpy(normalise(np.asarray(hu)[None], m.preprocess))  # (1, C, H, W)
    idx = np.zeros(4, dtype=np.int64)
    maps = np.zeros((4, *hu.shape[1:]), dtype=np.float32)
    # slices that are only depth-window padding (air) can carry large gradients but show nothing: skip them
    has_data = (np.asarray(hu) > PAD_HU).reshape(hu.shape[0], -1).any(axis=1)
    if not has_data.any():
        has_data[:] = True
    for v in range(4):
        sal = saliency_map(m.model, x, target=v)  # (C, H, W)
        per_slice = np.where(has_data, sal.reshape(sal.shape[0], -1).sum(axis=1), -np.inf)
        k = int(np.argmax(per_slice))
        idx[v], maps[v] = k, sal[k]
    return idx, maps


def scan_figure(hu: np.ndarray, slices: np.ndarray, maps: np.ndarray, result: "ScanResult", path: Path) -> Path:
    """Write the per-scan PNG: 4 panels (LCA, LAD, LCX, RCA), slice + saliency overlay, scores, categories."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt


    scores = np.asarray(result.scores, dtype=float)
    total = float(scores.sum())
    # one warning per line, wrapped to the figure's width (a single line ran off both edges)
    notes = [line for w in result.warnings for line in textwrap.wrap(w, width=150, subsequent_indent="    ")]
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.9 + 0.22 * len(notes)), constrained_layout=True)
    for v, ax in enumerate(axes):
        img = hu[int(slices[v])].astype(np.float32)
        ax.imshow(img, cmap="gray", vmin=WINDOW_HU[0], vmax=WINDOW_HU[1], interpolation="nearest")
        s = ndimage.gaussian_filter(maps[v].astype(np.float32), 1.0)  # display only: raw gradients are speckled
        hi = float(np.percentile(s, 99.5)) if np.any(s > 0) else 1.0
        ov = np.clip(s / max(hi, 1e-12), 0, 1)
        ax.imshow(np.ma.masked_less(ov, 0.5), cmap="autumn", vmin=0.5, vmax=1, alpha=0.5, interpolation="bilinear")
        sd = f" \u00b1 {result.sd[v]:.0f}" if result.sd is not None else ""
        ax.set_title(f"{VESSELS[v]}: {scores[v]:.0f}{sd} Agatston\ncategory {CATEGORY4_LABELS[int(risk_category4(scores[v], clip_negative=True))]}"
                     f"  (model slice {int(slices[v])})", fontsize=11)
        ax.set_axis_off()
    head = (f"{result.id}   total {total:.0f} Agatston   four-class {result.category()}"
            f"   five-class {CATEGORY5_LABELS[int(risk_category5(total, clip_negative=True))]}")
    if notes:
        head += "\n" + "\n".join(notes)
    fig.suptitle(head, fontsize=12, color="darkred" if result.warnings else "black")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_savefig(fig, path)
    plt.close(fig)
    return path


def scan_report(model, hu: np.ndarray, result: "ScanResult", out_dir: Path) -> Path:
    """Saliency + figure for one predicted scan; returns ``out_dir / scan_<id>.png``."""
    slices, maps = vessel_saliency(model, hu)
    return scan_figure(hu, slices, maps, result, Path(out_dir) / f"scan_{safe_name(result.id)}.png")


def cohort_figure(run: "PredictRun", path: Path) -> Path | None:
    """Cohort summary: four-class category counts of the total, and per-vessel score distributions."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt


    ok = run.ok
    if not ok:
        return None
    s = np.stack([r.scores for r in ok])  # (N, 4)
    tot = s.sum(axis=1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    counts = np.bincount(risk_category4(tot, clip_negative=True), minlength=4)
    a1.bar(CATEGORY4_LABELS, counts, color=["#4caf50", "#ffc107", "#ff7043", "#c62828"])
    a1.yaxis.get_major_locator().set_params(integer=True)
    a1.set_title(f"Total score category ({len(ok)} scan{'' if len(ok) == 1 else 's'})")
    a1.set_ylabel("scans")
    a1.set_xlabel("Agatston")
    parts = a2.boxplot([np.log1p(s[:, v]) for v in range(4)] + [np.log1p(tot)], showfliers=True)
    del parts
    a2.set_xticks(range(1, 6), [*VESSELS, "total"])
    ticks = [t for t in (0, 1, 10, 100, 1000, 10000) if t <= max(10.0, float(tot.max()) * 1.1)]
    a2.set_yticks(np.log1p(ticks), [str(t) for t in ticks])
    a2.set_ylabel("predicted Agatston (log1p axis)")
    a2.set_title("Predicted scores per vessel")
    a2.grid(alpha=0.3, axis="y")
    atomic_savefig(fig, path)
    plt.close(fig)
    return path


def _cell(v) -> str:
    if isinstance(v, float):
        return "" if not np.isfinite(v) else f"{v:.0f}"
    return html.escape(str(v))


def write_index(out_dir: Path, run: "PredictRun", *, model_path: Path | None = None, about: str | None = None) -> Path:
    """Write ``out_dir/index.html`` (and ``cohort.png``) for a predict run; returns the HTML path.

    about: the sentence on how the scores were made (default: the regressors' saliency text)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cohort = cohort_figure(run, out_dir / "cohort.png")
    table = run.table()
    rows = []
    for r, rec in zip(run.ok, table.to_dict("records")):
        cells = [f"<td>{_cell(rec['id'])}</td>"]
        for v in (*VESSELS, "total"):
            sd = rec.get(f"sd_{v}")
            txt = _cell(rec[v]) + (f" &plusmn; {_cell(sd)}" if sd is not None else "")
            cells.append(f"<td class='n'>{txt}</td>")
        mark = " (unreliable model)" if r.model_unreliable else ""  # never a bare category from such a model
        cells.append(f"<td>{_cell(rec['category'])}</td><td>{CATEGORY5_LABELS[int(rec['cat5'])]}{mark}</td>")
        cells.append(f"<td class='w'>{_cell(rec['warnings'])}</td>")
        if r.report_png is not None:
            name = html.escape(r.report_png.name)
            cells.append(f"<td><a href='{name}'><img class='thumb' src='{name}' alt='report of {_cell(r.id)}'></a></td>")
        else:
            cells.append("<td></td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    failed = [f"<tr><td>{_cell(r.id)}</td><td>{_cell(r.error)}</td></tr>" for r in run.failed]
    failed += [f"<tr><td>{_cell(i)}</td><td>{_cell(e)}</td></tr>" for i, e in run.problems]
    head = "".join(f"<th>{h}</th>" for h in ("id", *VESSELS, "total", "4-class", "5-class", "warnings",
                                             "saliency" if about is None else "picture"))
    parts = [
        "<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
        "<title>cacscore predictions</title>",
        "<style>body{font-family:sans-serif;margin:1.2em;color:#222}table{border-collapse:collapse;margin:.6em 0}"
        "td,th{border:1px solid #bbb;padding:3px 7px;vertical-align:middle}th{background:#e8eef5}"
        "td.n{text-align:right;font-variant-numeric:tabular-nums}td.w{color:#a00;max-width:26em;font-size:.9em}"
        "img.thumb{height:70px}img.wide{max-width:100%}h1{font-size:1.5em}</style></head><body>",
        "<h1>Coronary calcium: per-vessel scores</h1>",
        f"<p>{len(run.ok)} scan(s) scored, {len(run.failed) + len(run.problems)} failed. "
        + (f"Model: <code>{html.escape(Path(model_path).name)}</code>. " if model_path else "")
        + html.escape(about or "Scores in Agatston units predicted by a neural network from non-gated CT; the "
                      "saliency images show where each vessel's prediction is most sensitive. Not a diagnosis.")
        + "</p>",
    ]
    if cohort is not None:
        parts.append(f"<p><img class='wide' src='{cohort.name}' alt='cohort summary'></p>")
    parts += ["<h2>Scores</h2>", f"<table><thead><tr>{head}</tr></thead><tbody>", *rows, "</tbody></table>"]
    if failed:
        parts += ["<h2>Failed inputs</h2>", "<table><tr><th>id / input</th><th>reason</th></tr>", *failed, "</table>"]
    pngs = [r for r in run.ok if r.report_png is not None]
    if pngs:
        parts.append("<h2>Scans</h2>")
        for r in pngs:
            name = html.escape(r.report_png.name)
            parts.append(f"<h3 id='{html.escape(safe_name(r.id))}'>{_cell(r.id)}</h3>"
                         f"<p><img class='wide' src='{name}' alt='saliency report of {_cell(r.id)}'></p>")
    parts.append("</body></html>")
    path = out_dir / "index.html"

    atomic_write_text(path, "\n".join(parts) + "\n")
    return path


# ------------------------------------------------------------------ headless browser
def find_chromium() -> str:
    """Path of a Chromium executable; raises FileNotFoundError saying how to install it."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    raise FileNotFoundError("chromium not found: install it with `apt-get install chromium` (Debian package)")


def screenshot(html_path: Path, png_path: Path, *, size: tuple[int, int] = (1200, 900), timeout_s: float = 120.0,
               chromium: str | None = None) -> Path:
    """Render ``html_path`` in headless Chromium (no network) and save a ``size`` screenshot to ``png_path``."""
    exe = chromium or find_chromium()
    html_path, png_path = Path(html_path).resolve(), Path(png_path).resolve()
    with tempfile.TemporaryDirectory(prefix="cacscore-chromium-") as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png_path}",
               f"--window-size={size[0]},{size[1]}", html_path.as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0 or not png_path.is_file():
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        raise RuntimeError(f"chromium failed on {html_path} (exit {proc.returncode}): {' | '.join(tail)}")
    return png_path
