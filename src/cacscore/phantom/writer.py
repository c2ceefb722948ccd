"""Write synthetic patients as a COCA-layout release, quirks included (see docs/phantom.md).

Layout (root = out)::

    deidentified_nongated/<pid>/<pid>/IM-0001-NNNN.dcm   moving, noisy 5 mm series (NNNN = 1 at the top)
    deidentified_nongated/scores.xlsx                    header "filename " (trailing space), LCA..total
    labels/<pid>.nii.gz                                   vessel labels, NIfTI (x, y, z), RAS affine
    anatomy/<pid>.nii.gz, anatomy/labels.json             anatomy label volume (anatomy.ANATOMY_LABELS), same grid
    truth.csv                                             id, LCA..total, moving_*, kvp, noise, motion, ...
    Gated_release_final/patient/<pid>/<series (70%)>/IM-0002-NNNN.dcm   (--gated)
    Gated_release_final/calcium_xml/<pid>.xml            OsiriX ROI plists (--gated)
    preview/<pid>.png                                     (--preview; --compare DICOM_DIR adds a real series' same levels)

Every file is written to a temporary name and moved into place (os.replace).
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import plistlib
import shutil
from io import BytesIO
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from scipy import ndimage

from cacscore.core.fileio import atomic_path, atomic_savefig, atomic_write_text
from cacscore.phantom.anatomy import ANATOMY_LABELS, ANATOMY_VERSION, check_version, realism_switches
from cacscore.phantom.core import PhantomPatient, make_patient
from cacscore.phantom.coronary import Prevalence
from cacscore.core.vessels import COCA_ARTERY_NAMES, LABEL_OF, VESSELS

log = logging.getLogger(__name__)

NONGATED_DIR = "deidentified_nongated"
GATED_DIR = "Gated_release_final"
ANATOMY_DIR = "anatomy"
SCORES_HEADER = ("filename ", *VESSELS, "total")
MODELS = ("SOMATOM Definition Edge", "SOMATOM Definition AS+", "SOMATOM Definition Flash", "Sensation 64")
GATED_SERIES = "Pro_Gated_CS_3.0_I30f_3_(70%)"
_ARTERY_NAME = {v: k for k, v in COCA_ARTERY_NAMES.items()}
UID_PREFIX = "1.2.826.0.1.3680043.8.498."  # pydicom's prefix; UIDs derived from (seed, pid, series, slice)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _uid(*parts: object) -> str:
    return generate_uid(prefix=UID_PREFIX, entropy_srcs=[str(p) for p in parts])


def write_series(folder: Path, hu: np.ndarray, *, spacing_mm: tuple[float, float, float],
                 origin_mm: tuple[float, float, float], pid: int, seed: int, kvp: int, series_number: int,
                 thickness_mm: float, clean: bool, description: str, model: str, kernel: str = "B31f",
                 fov_mm: float | None = None) -> list[Path]:
    """Write hu (z ascending) as one DICOM file per slice, IM-<series 4>-<instance 4>.dcm.

    Instance 1 is the top slice (highest z). Stored uint16 = HU + 1024 (intercept -1024, slope 1).
    SliceLocation = -z (COCA's flipped sign). Without ``clean`` no Study/SeriesInstanceUID.
    """
    nz, ny, nx = hu.shape
    dz, dy, dx = spacing_mm
    stored = (hu + 1024.0).astype(np.uint16)
    assert stored.max(initial=0) <= 4095
    paths = []
    study = _uid(seed, pid, "study")
    series = _uid(seed, pid, "series", series_number)
    # one dataset for the series: the ~40 header elements are set once, and each slice replaces only its own six
    # (building every slice's dataset anew was a third of the writing time; the files are the same bytes)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID_PREFIX + "1"
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.Modality = "CT"
    ds.Manufacturer = "SIEMENS"
    ds.ManufacturerModelName = model
    ds.PatientName = f"PHANTOM^{pid}"
    ds.PatientID = f"PHANTOM{pid}"
    ds.PatientPosition = "HFS"
    ds.BodyPartExamined = "CHEST"
    ds.SeriesDescription = description
    ds.SeriesNumber = series_number
    ds.KVP = kvp
    ds.SliceThickness = thickness_mm
    ds.SpacingBetweenSlices = dz
    ds.ConvolutionKernel = kernel
    if fov_mm is not None:
        ds.ReconstructionDiameter = round(float(fov_mm), 2)
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [round(dy, 6), round(dx, 6)]
    ds.Rows, ds.Columns = ny, nx
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    if clean:
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.FrameOfReferenceUID = _uid(seed, pid, "frame")
    for k in range(nz):
        inst = nz - k  # 1 = top
        z = origin_mm[2] + k * dz
        sop = _uid(seed, pid, series_number, k)
        meta.MediaStorageSOPInstanceUID = sop
        ds.SOPInstanceUID = sop
        ds.InstanceNumber = inst
        ds.ImagePositionPatient = [round(origin_mm[0], 4), round(origin_mm[1], 4), round(z, 4)]
        ds.SliceLocation = round(-z, 4)
        ds.PixelData = stored[k].tobytes()
        path = folder / f"IM-{series_number:04d}-{inst:04d}.dcm"
        buf = BytesIO()
        pydicom.dcmwrite(buf, ds, enforce_file_format=True)
        _atomic_write_bytes(path, buf.getvalue())
        paths.append(path)
    return paths


def labels_affine(spacing_mm: tuple[float, float, float], origin_mm: tuple[float, float, float]) -> np.ndarray:
    """NIfTI (RAS) affine of a label array stored as (x, y, z): LPS x, y are negated."""
    dz, dy, dx = spacing_mm
    aff = np.diag([-dx, -dy, dz, 1.0])
    aff[:3, 3] = [-origin_mm[0], -origin_mm[1], origin_mm[2]]
    return aff


def save_labels(path: Path, labels: np.ndarray, spacing_mm, origin_mm) -> None:
    """Write (z, y, x) labels as NIfTI-1 (x, y, z) uint8, gzip with mtime 0 (same bytes every run)."""
    img = nib.Nifti1Image(np.ascontiguousarray(labels.transpose(2, 1, 0)), labels_affine(spacing_mm, origin_mm))
    img.header.set_xyzt_units("mm")
    _atomic_write_bytes(path, gzip.compress(img.to_bytes(), compresslevel=6, mtime=0))


def load_labels(path: str | Path) -> np.ndarray:
    """Read labels written by :func:`save_labels` back as (z, y, x) uint8."""
    img = nib.load(str(path))
    arr = np.asarray(img.dataobj)
    if arr.ndim != 3:
        raise ValueError(f"{path}: label volume must be 3-D, got shape {arr.shape}")
    return np.ascontiguousarray(arr.transpose(2, 1, 0)).astype(np.uint8)


# ---------------------------------------------------------------- gated ROI plists
def _outline(mask: np.ndarray) -> np.ndarray | None:
    """Outer contour (n, 2) as (col, row) of a 2-D bool mask at level 0.5 (between pixel centres)."""
    import contourpy

    pad = np.pad(mask.astype(np.float64), 1)
    gen = contourpy.contour_generator(z=pad, line_type=contourpy.LineType.Separate)
    lines = gen.lines(0.5)
    if not lines:
        return None

    def area(p):
        return 0.5 * abs(np.dot(p[:, 0], np.roll(p[:, 1], 1)) - np.dot(p[:, 1], np.roll(p[:, 0], 1)))

    best = max(lines, key=area)
    if np.allclose(best[0], best[-1]):
        best = best[:-1]
    return best - 1.0  # undo the padding


def gated_rois(hu: np.ndarray, labels: np.ndarray, spacing_mm, origin_mm) -> tuple[list[dict], int]:
    """OsiriX-style Images list: one polygon ROI per 2-D lesion (8-connected, >= 130 HU, >= 1 mm^2).

    Returns (images, n_failed): a lesion whose polygon would also enclose other calcium is
    outlined without the 1-pixel dilation; failures (none expected) are counted and logged.
    """
    from matplotlib.path import Path as MplPath

    dz, dy, dx = spacing_mm
    images = []
    n_failed = 0
    eight = np.ones((3, 3), bool)
    for k in range(hu.shape[0]):
        calc_all = hu[k] >= 130
        rois = []
        for name in VESSELS:
            comp, n = ndimage.label(calc_all & (labels[k] == LABEL_OF[name]), structure=eight)
            for c in range(1, n + 1):
                m = comp == c
                npx = int(m.sum())
                if npx * dy * dx < 1.0:
                    continue  # below Agatston's minimum area: not a lesion
                ok = False
                for dil in (1, 0):
                    region = ndimage.binary_dilation(m, eight, iterations=dil) if dil else m
                    pts = _outline(region)
                    if pts is None:
                        continue
                    r0, c0 = np.nonzero(region)
                    rr, cc = np.mgrid[max(r0.min() - 2, 0):r0.max() + 3, max(c0.min() - 2, 0):c0.max() + 3]
                    rr, cc = np.clip(rr, 0, hu.shape[1] - 1), np.clip(cc, 0, hu.shape[2] - 1)
                    inside = MplPath(pts).contains_points(np.column_stack([cc.ravel(), rr.ravel()])).reshape(rr.shape)
                    hit = np.zeros_like(m)
                    hit[rr[inside], cc[inside]] = True
                    if np.array_equal(hit & calc_all, m):
                        ok = True
                        break
                if not ok:
                    n_failed += 1
                    log.warning("slice %d: lesion of %s could not be outlined exactly", k, name)
                    continue
                vals = hu[k][m]
                z = origin_mm[2] + k * dz
                ys, xs = np.nonzero(m)
                cx, cy = origin_mm[0] + xs.mean() * dx, origin_mm[1] + ys.mean() * dy
                seg = np.diff(np.vstack([pts, pts[:1]]), axis=0) * [dx, dy]
                rois.append({
                    "Name": _ARTERY_NAME[name], "Area": npx * dy * dx / 100.0,
                    "Center": f"({cx:.6f}, {cy:.6f}, {z:.6f})",
                    "Max": float(vals.max()), "Mean": float(vals.mean()), "Min": float(vals.min()),
                    "Dev": float(vals.std()), "Total": float(vals.sum()), "NumberOfPoints": len(pts),
                    "Point_px": [f"({p[0]:.6f}, {p[1]:.6f})" for p in pts],
                    "Point_mm": [f"({origin_mm[0] + p[0] * dx:.6f}, {origin_mm[1] + p[1] * dy:.6f}, {z:.6f})" for p in pts],
                    "Type": 15, "IndexInImage": len(rois), "Length": float(np.hypot(seg[:, 0], seg[:, 1]).sum() / 10.0),
                })
        if rois:
            images.append({"ImageIndex": k, "NumberOfROIs": len(rois), "ROIs": rois})
    return images, n_failed


# ---------------------------------------------------------------- preview
WINDOW_HU = (-200.0, 300.0)
"""Preview window (W 500 / L 50): mediastinum, bone and lung edges in one picture."""


def preview_levels(p: PhantomPatient) -> dict[str, int]:
    """Axial slice index of the aortic arch, the aortic root / left main, and mid-ventricle (from the anatomy)."""
    a = p.anatomy
    z0, dz = p.origin_mm[2], p.spacing_mm[0]
    nz = p.hu.shape[0]

    def k(z: float) -> int:
        return int(np.clip(round((z - z0) / dz), 0, nz - 1))

    if a is None:
        kc = int(round(p.heart_centre_index[0]))
        return {"arch": min(kc + 14, nz - 1), "root / left main": min(kc + 7, nz - 1), "mid-ventricle": kc}
    return {"arch": k(a.z_dome_mm + a.t_arch - 8), "root / left main": k(a.aorta_root[2] + 11),
            "mid-ventricle": k(a.heart_c[2] - 0.2 * a.heart_semi[0])}


def _real_panels(volume, levels_rel_mm: dict[str, float]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, str]:
    """Axial slices of a real series at the same heights relative to its heart centre (chest.heart finder),
    plus its coronal reformat through that centre and its sagittal one through the spine (_midline_column)."""
    from cacscore.chest.heart import locate_heart

    hu, sp = volume.hu, volume.spacing_mm
    f = locate_heart(volume)
    kz, ky, kx = f.index
    note = "" if f.found else f" (heart not found: {f.reason}; centre of the volume)"
    if not f.found:
        kz, ky, kx = (s // 2 for s in hu.shape)
    out = {}
    for name, dz_mm in levels_rel_mm.items():
        k = int(np.clip(round(kz + dz_mm / sp[0]), 0, hu.shape[0] - 1))
        lo, hi = max(k - int(round(2.5 / sp[0])), 0), k + max(int(round(2.5 / sp[0])), 1)
        out[name] = hu[lo:hi].mean(axis=0)  # a 5 mm slab, as the phantom's
    return out, hu[:, ky], hu[:, :, _midline_column(hu[kz], ky, sp[2])], note


def _midline_column(sl: np.ndarray, row: int, px_mm: float) -> int:
    """Column of the spine on an axial slice: the median column of bone (> 250 HU) behind ``row`` within 60 mm of the
    body's centre column (the sagittal reformat goes through the spine and sternum, as the phantom's does)."""
    body = np.nonzero((sl > -400).any(axis=0))[0]
    c0 = 0.5 * (body[0] + body[-1]) if len(body) else sl.shape[1] / 2
    r, c = np.nonzero(sl[row:] > 250)
    near = np.abs(c - c0) < 60.0 / px_mm
    return int(np.median(c[near])) if near.any() else int(round(c0))


def write_preview(path: Path, p: PhantomPatient, *, compare=None) -> None:
    """PNG: axial slices at the aortic arch, aortic root / left main and mid-ventricle (coronary labels
    outlined in colour), a coronal reformat through the heart's centre and a sagittal one through the
    spine (the midline: vertebrae, discs, sternum). ``compare``: a real Volume whose same levels (relative to its heart centre, found by
    chest.heart) are drawn in a second row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    levels = preview_levels(p)
    kc = p.heart_centre_index[0]
    cmap = ListedColormap([(0, 0, 0, 0), (1, 1, 0, 0.6), (1, 0, 0, 0.6), (0, 1, 0, 0.6), (0, 0.5, 1, 0.6)])
    rows = 2 if compare is not None else 1
    fig, axes = plt.subplots(rows, 5, figsize=(17, 3.8 * rows), dpi=90, squeeze=False)
    vmin, vmax = WINDOW_HU
    a = p.anatomy
    ky = int(round(p.heart_centre_index[1]))
    # sagittal through the spine and sternum (the midline), where the vertebrae, discs and sternum show
    kx = int(round((a.spine_c[0] - p.origin_mm[0]) / p.spacing_mm[2])) if a is not None else int(round(p.heart_centre_index[2]))
    aspect = p.spacing_mm[0] / p.spacing_mm[1]
    for ax, (name, k) in zip(axes[0], levels.items()):
        ax.imshow(p.hu[k], cmap="gray", vmin=vmin, vmax=vmax)
        ax.imshow(p.labels[k], cmap=cmap, vmin=0, vmax=4, interpolation="nearest")
        ax.set_title(f"phantom {p.pid}: {name} (slice {k})", fontsize=8)
    axes[0, 3].imshow(p.hu[:, ky], cmap="gray", vmin=vmin, vmax=vmax, origin="lower", aspect=aspect)
    axes[0, 3].set_title("coronal through the heart centre", fontsize=8)
    axes[0, 4].imshow(p.hu[:, :, kx], cmap="gray", vmin=vmin, vmax=vmax, origin="lower", aspect=aspect)
    axes[0, 4].set_title("sagittal through the spine (midline)", fontsize=8)
    if compare is not None:
        rel = {n: (k - kc) * p.spacing_mm[0] for n, k in levels.items()}
        real, cor, sag, note = _real_panels(compare, rel)
        rasp = compare.spacing_mm[0] / compare.spacing_mm[1]
        for ax, (name, im) in zip(axes[1], real.items()):
            ax.imshow(im, cmap="gray", vmin=vmin, vmax=vmax)
            ax.set_title(f"real: {name} ({rel[name]:+.0f} mm from its heart centre){note}", fontsize=8)
        axes[1, 3].imshow(cor, cmap="gray", vmin=vmin, vmax=vmax, origin="lower", aspect=rasp)
        axes[1, 3].set_title("real: coronal through its heart centre", fontsize=8)
        axes[1, 4].imshow(sag, cmap="gray", vmin=vmin, vmax=vmax, origin="lower", aspect=rasp)
        axes[1, 4].set_title("real: sagittal through its spine (midline)", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    t = p.truth
    fig.suptitle(f"phantom {p.pid}: total {t['total']:.1f} (LCA {t['LCA']:.0f} LAD {t['LAD']:.0f} LCX {t['LCX']:.0f} "
                 f"RCA {t['RCA']:.0f}); moving {p.truth_moving['total']:.1f}; {p.kvp} kVp, noise {p.noise_sigma_hu:.0f} HU, "
                 f"motion {p.motion_amplitude_mm:.1f} mm  [labels: LCA yellow, LAD red, LCX green, RCA blue]; "
                 f"window {vmin:.0f}..{vmax:.0f} HU" + _lookalike_line(p), fontsize=8)
    fig.tight_layout()
    try:
        atomic_savefig(fig, path, dpi=fig.dpi)
    finally:
        plt.close(fig)


def _lookalike_line(p: PhantomPatient) -> str:
    """'\nnon-coronary calcium drawn (never labelled): mitral annulus, aortic valve x2, ...' or ''."""
    names = {"mitral_annulus": "mitral annulus", "aortic_valve": "aortic valve", "lymph_node": "calcified lymph node",
             "lung_granuloma": "lung granuloma"}
    parts = []
    for kind, name in names.items():
        n = p.n_lookalikes(kind)
        if n:
            parts.append(name if kind == "mitral_annulus" else f"{name} x{n}")
    return "\nnon-coronary calcium drawn (never labelled): " + ", ".join(parts) if parts else ""


# ---------------------------------------------------------------- release
def write_patient(out: Path, pid: int, *, seed: int, size: int = 512, gated: bool = False, preview: bool = False,
                  clean: bool = False, lookalikes: bool = True, compare: Path | None = None,
                  version: str = ANATOMY_VERSION, p_mac: float | None = None,
                  prevalence: Prevalence = Prevalence()) -> dict:  # noqa: B008 - frozen
    """Render and write one patient (series, calcium labels, anatomy labels); returns its truth-table row.
    version, p_mac, prevalence: make_patient's (the anatomy version, the share of patients with MAC, how often
    coronary calcium is drawn)."""
    p = make_patient(pid, seed=seed, size=size, gated=gated, lookalikes=lookalikes, anatomy=True, version=version,
                     p_mac=p_mac, prevalence=prevalence)
    model = MODELS[int(np.random.default_rng([seed, pid, 3]).integers(len(MODELS)))]
    folder = out / NONGATED_DIR / str(pid) / str(pid)
    write_series(folder, p.hu, spacing_mm=p.spacing_mm, origin_mm=p.origin_mm, pid=pid, seed=seed, kvp=p.kvp,
                 series_number=1, thickness_mm=p.slice_thickness_mm, clean=clean,
                 description=f"Thorax {p.slice_thickness_mm:g} {p.kernel}", model=model, kernel=p.kernel,
                 fov_mm=p.fov_mm)
    save_labels(out / "labels" / f"{pid}.nii.gz", p.labels, p.spacing_mm, p.origin_mm)
    save_labels(out / ANATOMY_DIR / f"{pid}.nii.gz", p.anatomy_labels, p.spacing_mm, p.origin_mm)
    row = p.summary()
    if gated and p.gated is not None:
        g = p.gated
        gfolder = out / GATED_DIR / "patient" / str(pid) / GATED_SERIES
        write_series(gfolder, g.hu, spacing_mm=g.spacing_mm, origin_mm=g.origin_mm, pid=pid, seed=seed, kvp=p.kvp,
                     series_number=2, thickness_mm=3.0, clean=True, description="CaScore 3.0 I30f 70%", model=model,
                     kernel="I30f")
        images, n_failed = gated_rois(g.hu, g.labels, g.spacing_mm, g.origin_mm)
        _atomic_write_bytes(out / GATED_DIR / "calcium_xml" / f"{pid}.xml",
                            plistlib.dumps({"Images": images}, fmt=plistlib.FMT_XML, sort_keys=True))
        row["gated_rois_failed"] = n_failed
        save_labels(out / "labels_gated" / f"{pid}.nii.gz", g.labels, g.spacing_mm, g.origin_mm)
    if preview:
        write_preview(out / "preview" / f"{pid}.png", p, compare=_compare_volume(compare) if compare else None)
    return row


@functools.lru_cache(maxsize=1)
def _compare_volume(path: Path):
    """The real series of --compare, read once per process (through io.ct, the one CT reader)."""
    from cacscore.io.ct import read_ct

    return read_ct(path)


def _write_patient_kw(args: tuple) -> dict:
    out, pid, kw = args
    return write_patient(out, pid, **kw)


def write_scores_xlsx(path: Path, rows: pd.DataFrame) -> None:
    """COCA's scores.xlsx: one sheet, header 'filename ' (trailing space), LCA..total, ids '<pid>A'."""
    df = pd.DataFrame({"filename ": [f"{int(i)}A" for i in rows["id"]]})
    for c in (*VESSELS, "total"):
        df[c] = rows[c].astype(float).to_numpy()
    with atomic_path(path, suffix=".xlsx") as tmp:
        df.to_excel(tmp, index=False, sheet_name="Sheet1", engine="openpyxl")


def prepare_release_folder(out: Path, *, overwrite: bool) -> None:
    """An empty folder for a new release: a non-empty ``out`` is refused (a release written over another keeps the
    old one's extra patients and slices, which ingest then reads as good) unless ``overwrite``, which clears it,
    but only when it holds a phantom release (truth.csv, deidentified_nongated/ or labels/), never another folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: is a file; give a folder for the release")
    entries = sorted(out.iterdir()) if out.is_dir() else []
    if not entries:
        return
    if not overwrite:
        raise ValueError(f"{out}: not empty ({len(entries)} entries); a release goes into a new or empty folder; "
                         "--overwrite clears an earlier release first")
    if not any((out / n).exists() for n in ("truth.csv", NONGATED_DIR, "labels")):
        raise ValueError(f"{out}: --overwrite clears only an earlier phantom release (truth.csv, {NONGATED_DIR}/ or "
                         "labels/); this folder holds something else: choose another folder")
    for e in entries:
        if e.is_dir() and not e.is_symlink():
            shutil.rmtree(e)
        else:
            e.unlink()
    log.info("%s: earlier release cleared (%d entries)", out, len(entries))


def write_release(out: Path, *, n_patients: int, seed: int, size: int = 512, gated: bool = False,
                  preview: bool = False, clean: bool = False, workers: int = 1, lookalikes: bool = True,
                  overwrite: bool = False, compare: Path | None = None, version: str = ANATOMY_VERSION,
                  p_mac: float | None = None, prevalence: Prevalence = Prevalence()  # noqa: B008 - frozen
                  ) -> pd.DataFrame:
    """Write patients 1..n_patients as a COCA-layout release under ``out``; return the truth table.

    ``compare``: a real DICOM series (folder) or NIfTI whose same anatomical levels each preview shows.

    ``lookalikes=False``: without the non-coronary look-alike calcium (phantom/noncoronary.py), for ablations.
    ``version``: the anatomy version drawn (anatomy.ANATOMY_VERSIONS); ``p_mac``: the share of patients with mitral
    annulus calcium (default noncoronary.P_MAC; a training knob); ``prevalence``: how often coronary calcium is drawn
    (coronary.Prevalence; a training knob: a test release keeps its defaults, the COCA-calibrated draw).
    ``out`` must be new or empty; ``overwrite``: clear an earlier release there first (:func:`prepare_release_folder`).

    A patient that fails is logged and skipped (its row is absent); the rest are written.
    """
    if n_patients < 1:
        raise ValueError(f"n_patients must be >= 1, got {n_patients}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    from tqdm import tqdm

    out = Path(out)
    prepare_release_folder(out, overwrite=overwrite)
    out.mkdir(parents=True, exist_ok=True)
    if compare is not None:
        _compare_volume(Path(compare))  # a bad path fails here, once, naming the file
    check_version(version)
    kw = dict(seed=seed, size=size, gated=gated, preview=preview, clean=clean, lookalikes=lookalikes, version=version,
              p_mac=p_mac, prevalence=prevalence, compare=Path(compare) if compare is not None else None)
    jobs = [(out, pid, kw) for pid in range(1, n_patients + 1)]
    rows = []
    failed = []
    if workers == 1:
        it = map(_write_patient_safe, jobs)
        for r in tqdm(it, total=len(jobs), desc="phantom", unit="patient", disable=None):
            (rows if "error" not in r else failed).append(r)
    else:
        with ProcessPoolExecutor(workers) as ex:
            for r in tqdm(ex.map(_write_patient_safe, jobs), total=len(jobs), desc="phantom", unit="patient", disable=None):
                (rows if "error" not in r else failed).append(r)
    for f in failed:
        log.error("patient %s failed: %s", f["id"], f["error"])
    if not rows:
        raise ValueError(f"{out}: no patient could be written")
    table = pd.DataFrame(rows).sort_values("id").reset_index(drop=True)
    atomic_write_text(out / ANATOMY_DIR / "labels.json", json.dumps({str(k): v for k, v in ANATOMY_LABELS.items()}, indent=1))
    atomic_write_text(out / ANATOMY_DIR / "realism.json",  # session 13: which chest the release was drawn with
                      json.dumps({"anatomy_version": version, **realism_switches()}, indent=1))
    write_scores_xlsx(out / NONGATED_DIR / "scores.xlsx", table)
    atomic_write_text(out / "truth.csv", table.to_csv(index=False, float_format="%.6f"))
    return table


def _write_patient_safe(job: tuple) -> dict:
    try:
        return _write_patient_kw(job)
    except (ValueError, OSError) as exc:  # one bad case must not stop the cohort
        return {"id": job[1], "error": f"{type(exc).__name__}: {exc}"}
