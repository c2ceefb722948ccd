"""Metal in the heart region: a scan where Agatston scores are not valid.

Coronary stents, pacemaker / ICD leads, prosthetic valves and sternotomy wires are common in chest CT. A stent's
struts are scored as "calcium" by any threshold rule (and stented segments are excluded from calcium scoring by
convention), and metal throws bright streaks that make false lesions around it. :func:`metal_in_heart_region`
finds voxels of at least :data:`METAL_HU` forming 3-D components of at least :data:`MIN_METAL_MM3` within
:data:`HEART_RADIUS_MM` of the heart centre; :func:`metal_warnings` turns that into the one-line warning that
``cacscore predict`` (both model kinds) and ``cacscore lesion-score`` put in their ``warnings`` column.
Metal far from the heart (a shoulder prosthesis, spinal screws low in the abdomen) is not reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# Metal threshold. At 120 kVp calcified plaque and cortical bone stay below ~1,500-2,000 HU (dense cortex of a
# vertebra or the femur ~1,800-2,000; the densest coronary calcium rarely above 1,500; the phantom's calcium tops
# out near 1,650). Steel, cobalt-chromium, platinum-iridium and titanium saturate the scanner's 12-bit range at
# 3,071 HU (or reach several thousand HU on extended-range reconstructions). 2,500 HU lies between the two with a
# margin of ~500 HU on each side, so neither calcium nor bone nor noise (sd 10-40 HU) reaches it; the one
# non-metal that can is undiluted iodine contrast in the superior vena cava during injection (contrast scans are
# warned about separately and are not valid for calcium scoring either).
METAL_HU = 2500.0
# Smallest component reported (mm^3): a stent (3 mm x 15 mm) or a lead tip electrode is tens of mm^3 even where
# partial volume leaves only its core above 2,500 HU; 5 mm^3 is ~2 voxels of a 0.7 x 0.7 x 5 mm scan and ~8 of a
# 1.25 mm one, so one isolated bright voxel (a reconstruction spike) is not reported.
MIN_METAL_MM3 = 5.0
# Radius (mm) of the heart region around the found heart centre: the heart is ~120 x 90 x 90 mm and the coronary
# candidates lie <= 88 mm from the found centre (300 phantom patients, heart-finder errors up to 22 mm; see
# docs/lesion_scorer.md); 75 mm covers the heart, its valves and the coronary ostia and stays clear of the
# shoulders (~150-200 mm lateral) and of the pectoral pacemaker pocket (~100-150 mm from the heart).
HEART_RADIUS_MM = 75.0


@dataclass(frozen=True)
class MetalFinding:
    """Metal near the heart of one scan. volume_mm3: total volume of the reported components (0: none);
    n_components: how many; max_hu: highest HU inside the heart region (nan when the region is empty)."""

    volume_mm3: float
    n_components: int
    max_hu: float

    @property
    def found(self) -> bool:
        return self.n_components > 0


def metal_in_heart_region(hu: np.ndarray, spacing_mm: Sequence[float], heart_index: Sequence[float], *,
                          threshold_hu: float = METAL_HU, radius_mm: float = HEART_RADIUS_MM,
                          min_volume_mm3: float = MIN_METAL_MM3) -> MetalFinding:
    """Metal (>= threshold_hu) within radius_mm of heart_index in a (z, y, x) HU volume.

    spacing_mm: (z, y, x) mm (the sign of z is ignored); heart_index: (z, y, x) voxel index of the heart centre
    (``cacscore.chest.heart.find_heart``, ``Candidates.heart_index``). Voxels >= threshold_hu inside the sphere are
    grouped into 3-D components (26-connectivity); those of at least min_volume_mm3 are reported.
    Only the sphere's bounding box is read.
    """
    hu = np.asarray(hu)
    if hu.ndim != 3:
        raise ValueError(f"hu must be a 3-D (z, y, x) array, got shape {hu.shape}")
    sp = np.abs(np.asarray([float(v) for v in spacing_mm]))
    if sp.shape != (3,) or not (np.isfinite(sp).all() and (sp > 0).all()):
        raise ValueError(f"spacing_mm must be three non-zero numbers (z, y, x) in mm, got {tuple(spacing_mm)!r}")
    if not radius_mm > 0 or not min_volume_mm3 >= 0:
        raise ValueError(f"radius_mm must be > 0 and min_volume_mm3 >= 0, got {radius_mm!r}, {min_volume_mm3!r}")
    c = np.asarray([float(v) for v in heart_index])
    lo = np.maximum(np.floor(c - radius_mm / sp).astype(int), 0)
    hi = np.minimum(np.ceil(c + radius_mm / sp).astype(int) + 1, hu.shape)
    if (hi <= lo).any():
        return MetalFinding(0.0, 0, float("nan"))
    box = hu[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    bright = box >= threshold_hu
    # distance from the heart centre of the bright voxels only (a sphere mask of the whole box is not needed)
    idx = np.argwhere(bright)
    inside = (((idx + lo - c) * sp) ** 2).sum(axis=1) <= radius_mm ** 2
    # the highest HU in the sphere (reported), slice by slice: a full 3-D distance map of the box took ~0.5 s
    yy, xx = np.ogrid[lo[1]:hi[1], lo[2]:hi[2]]
    d2_yx = ((yy - c[1]) * sp[1]) ** 2 + ((xx - c[2]) * sp[2]) ** 2
    max_hu = -np.inf
    for k in range(box.shape[0]):
        sel = d2_yx <= radius_mm ** 2 - ((lo[0] + k - c[0]) * sp[0]) ** 2
        if sel.any():
            max_hu = max(max_hu, float(box[k][sel].max()))
    max_hu = float("nan") if max_hu == -np.inf else max_hu
    if not inside.any():
        return MetalFinding(0.0, 0, max_hu)
    metal = np.zeros(box.shape, bool)
    metal[tuple(idx[inside].T)] = True
    lab, n = ndimage.label(metal, structure=np.ones((3, 3, 3), bool))
    vox_mm3 = float(sp.prod())
    vol = np.bincount(lab.ravel(), minlength=n + 1)[1:] * vox_mm3
    big = vol >= min_volume_mm3 - 1e-9
    return MetalFinding(float(vol[big].sum()), int(big.sum()), max_hu)


def metal_warning_text(finding: MetalFinding, *, threshold_hu: float = METAL_HU) -> str:
    """The one-line warning for a finding with metal."""
    return (f"metal in the heart region ({finding.volume_mm3:.0f} mm^3 >= {threshold_hu:.0f} HU, e.g. stent, lead "
            f"or valve): scores unreliable")


def metal_warnings(hu: np.ndarray, spacing_mm: Sequence[float], heart_index: Sequence[float], *,
                   threshold_hu: float = METAL_HU, radius_mm: float = HEART_RADIUS_MM,
                   min_volume_mm3: float = MIN_METAL_MM3) -> list[str]:
    """[] or the one warning about metal in the heart region (:func:`metal_in_heart_region`; same arguments)."""
    f = metal_in_heart_region(hu, spacing_mm, heart_index, threshold_hu=threshold_hu, radius_mm=radius_mm,
                              min_volume_mm3=min_volume_mm3)
    return [metal_warning_text(f, threshold_hu=threshold_hu)] if f.found else []
