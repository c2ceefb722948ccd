"""The warnings every scoring command writes beside a score: the model, the acquisition, the heart, metal.

One set of checks for every model kind (``cacscore.predict.predictors``), so ``predict``, ``lesion-score``
and the demo say the same about the same scan.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from cacscore.chest.heart import HeartFinding
from cacscore.chest.lungs import LungField, heart_grid_step, lung_field
from cacscore.chest.metal import metal_warnings as _metal_warnings
from cacscore.io.dicom import Volume

MIN_LUNG_ML = 200.0
"""Less air inside the body than this (millilitres; adult lungs hold litres, a few slices through the heart
hundreds of ml) and the scan is probably not a chest CT (a head's sinuses hold tens of ml)."""

MIN_Z_COVERAGE_MM = 100.0
"""A scan shorter than this along z cannot hold the whole heart (about 120 mm from the aortic root to the apex)."""

MIN_FOV_MM = 200.0
"""An in-plane field of view narrower than this cannot hold the chest around the heart (a chest CT is 300-500
mm wide; a cardiac-gated reconstruction about 200-250 mm)."""

HEART_MARGIN_MM = 40.0
"""A heart centre closer than this to the first or last slice means the heart is probably cut off."""

NOISY_IMAGE_HU = 40.0
"""An image noise sd (HU, estimated from the image: ``cacscore.lesion.noise.image_noise_hu``) above this and the
candidate scorer's small scores are not to be trusted: noise specks above 130 HU inside the heart get scored as
calcium. On 180 held-out phantom patients (seeds 14501, 14502, 14603; docs/model_card.md, session 18) 15 of the 22
zero-calcium scans above 40 HU were scored above 0 (median 10.1, max 96.6 AU), 2 of the 43 below it; confirmed on
the fresh seeds 14503 + 14504 (pre-registered): 6 of 11 above, 2 of 26 below (max 47.9 AU). The warning says only
that: the wrong-category rate, 39 % above against 7 % below on the first 180, was 14 % against 13 % on the fresh 120.
The three real LIDC series read 26-33 HU.
Session 19 turned the noise floor on in the shipped model (ClassifierConfig.noise_floor_k): on the fresh seeds 14505,
14506 and 14508, 8 of 31 zero-calcium scans above 40 HU scored above 0 (at most 28.6 AU; 22 of 31 before), 1 of 52
below it; the warning stays because the specks are fewer, not gone."""

MIN_RATIO_TO_CONSTANT = 2.0
"""A model whose held-out test MSE is not at least this many times lower than the constant-mean
predictor's is flagged on every scan it scores."""


def training_ranges(configs: Sequence[dict]) -> dict[str, tuple[float, float]]:
    """Acquisition ranges models were trained on: {"slice_thickness_mm": (lo, hi), "kvp": (lo, hi)} where known.

    Read from bundle configs: ``train_ranges`` or ``training`` (as ``reproduce`` writes it, keys
    ``thickness_mm`` / ``slice_thickness_mm`` and ``kvp``). Several configs (an ensemble): the union.
    """
    out: dict[str, tuple[float, float]] = {}
    for cfg in configs:
        cfg = cfg or {}
        src = {**(cfg.get("training") or {}), **(cfg.get("train_ranges") or {})}
        for key, names in (("slice_thickness_mm", ("slice_thickness_mm", "thickness_mm")), ("kvp", ("kvp",))):
            for n in names:
                v = src.get(n)
                if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
                    lo, hi = float(v[0]), float(v[1])
                    if key in out:
                        lo, hi = min(lo, out[key][0]), max(hi, out[key][1])
                    out[key] = (lo, hi)
                    break
    return out


UNRELIABLE = "unreliable model"
"""How a model note that flags the model as unreliable starts (:func:`is_unreliable`)."""


def is_unreliable(notes: Sequence[str]) -> bool:
    """True when a model's notes (:func:`model_warnings`) flag it as unreliable."""
    return any(n.startswith(UNRELIABLE) for n in notes)


def _versus_mean(ratio: float) -> str:
    """How a model's held-out MSE compares with predicting the training mean, in words that are true both ways
    (a ratio below 1 means the model is worse than the mean, never "only 0.87x better")."""
    if ratio >= 1:
        return f"only {ratio:.2f}x lower than that of predicting the training mean"
    return f"{1 / ratio:.2f}x HIGHER than that of predicting the training mean (worse than no model)"


def model_warnings(evaluation_json: Path) -> list[str]:
    """Warnings about the model itself, from the held-out evaluation ``reproduce`` writes beside a bundle
    (``test_evaluation.json``): a model that hardly beats predicting the training mean is flagged.
    Nothing is said when the file is absent (a bundle made elsewhere)."""
    path = Path(evaluation_json)
    if not path.is_file():
        return []
    try:
        ev = json.loads(path.read_text())
        ratio = ev.get("ratio_constant_to_model")
    except (OSError, ValueError, AttributeError) as exc:
        return [f"model evaluation unreadable ({path.name}: {exc})"]
    if ratio is None or not float(ratio) >= MIN_RATIO_TO_CONSTANT:
        how = "not compared with predicting the training mean" if ratio is None else _versus_mean(float(ratio))
        return [f"{UNRELIABLE}: its held-out test MSE is {how} (n={ev.get('n_test', '?')})"]
    return []


def _outside(lo: float, hi: float, unit: str) -> str:
    """ "outside the training range 100-120 kVp", or "unlike the training data (5 mm only)" for a single value."""
    if abs(hi - lo) < 1e-3:
        return f"unlike the training data ({lo:g} {unit} only)"
    return f"outside the training range {lo:g}-{hi:g} {unit}"


def acquisition_warnings(volume: Volume, ranges: dict[str, tuple[float, float]], *,
                         image_contrast: bool = False) -> list[str]:
    """Warnings about the scan's acquisition: contrast agent, slice thickness / kVp outside training.
    image_contrast: the scorer saw contrast-filled blood in the image (:func:`cacscore.chest.anatomy.blood_range`);
    warned about when the header records no agent (a NIfTI, a stripped header)."""
    w = []
    if getattr(volume, "contrast", False):
        w.append("contrast agent in the header: calcium scores on contrast CT are unreliable")
    elif image_contrast:
        # the scorer's own features read contrast blood as calcium's surroundings: on the hybrids of the two
        # contrast LIDC series the bright fraction in 60 mm around a plaque (median 0.17-0.31) lay beyond every
        # phantom coronary's (max 0.13; docs/lesion_scorer.md, session 9 follow-up)
        w.append("contrast-filled blood in the image (no agent in the header): calcium scores on contrast CT "
                 "are unreliable")
    thick = volume.slice_thickness_mm if volume.slice_thickness_mm else None
    if "slice_thickness_mm" in ranges and thick is not None:
        lo, hi = ranges["slice_thickness_mm"]
        if not lo - 1e-3 <= thick <= hi + 1e-3:
            w.append(f"slice thickness {thick:g} mm {_outside(lo, hi, 'mm')}")
    if "kvp" in ranges and volume.kvp is not None:
        lo, hi = ranges["kvp"]
        if not lo - 1e-3 <= volume.kvp <= hi + 1e-3:
            w.append(f"tube voltage {volume.kvp:g} kVp {_outside(lo, hi, 'kVp')}")
    if volume.kvp is None and "kvp" in ranges:
        w.append("tube voltage unknown (no KVP in the header)")
    return w


def noise_warnings(noise_hu: float | None) -> list[str]:
    """A warning when the image is noisier than the candidate scorer was validated for (:data:`NOISY_IMAGE_HU`);
    noise_hu: the image's noise sd estimate (None or nan: not measured, no warning)."""
    if noise_hu is None or not noise_hu > NOISY_IMAGE_HU:
        return []
    return [f"noisy image (noise about {noise_hu:.0f} HU, above {NOISY_IMAGE_HU:.0f}): noise specks may be scored as "
            "calcium, and a score below about 100 AU may be noise alone"]  # no ';': the warnings column joins with it


def anatomy_warnings(volume: Volume, *, lungs: LungField | None = None) -> list[str]:
    """Warnings when the scan is probably not a chest CT or not a whole one: too little lung (a head or an abdomen
    scan), too short along z to hold the heart, or a field of view narrower than a chest. Scores of such scans
    look as confident as any other; these say they are not.
    lungs: the volume's ``lung_field`` when the scorer already computed it (used only when on this grid)."""
    dz, dy, dx = (abs(float(v)) for v in volume.spacing_mm)
    nz, ny, nx = volume.hu.shape
    w = []
    step = heart_grid_step((dz, dy, dx))
    if lungs is None or lungs.step != step or lungs.mask.shape[0] != nz:
        lungs = lung_field(volume.hu, (dz, dy, dx))
    lung_ml = float(lungs.mask.sum()) * (step * dy) * (step * dx) * dz / 1000.0
    if lung_ml < MIN_LUNG_ML:
        w.append(f"not a chest CT? only {lung_ml:.0f} ml of lung found (a chest CT holds litres; a head or abdomen "
                 "scan, or one that misses the lungs, gets meaningless scores)")
    z_mm = nz * dz
    if z_mm < MIN_Z_COVERAGE_MM:
        w.append(f"heart not covered: the scan covers only {z_mm:.0f} mm along z ({nz} slices; the heart needs "
                 f"about 120 mm): calcium outside it is missed")
    fov = min(ny * dy, nx * dx)
    if fov < MIN_FOV_MM:
        w.append(f"field of view {fov:.0f} mm: narrower than a chest (>= {MIN_FOV_MM:.0f} mm): calcium outside it "
                 "is missed")
    return w


def heart_warnings(volume: Volume, heart: HeartFinding, *, window: tuple[float, float] | None = None) -> list[str]:
    """Warnings when the heart was not found or is probably cut off.

    window: (first, last) z index of the model's depth window in the volume's slice units, if known.
    """
    if not heart.found:
        return [f"heart not found ({heart.reason})"]
    z = heart.index[0]
    w = []
    dz = abs(float(volume.spacing_mm[0]))
    n = volume.hu.shape[0]
    below, above = z * dz, (n - 1 - z) * dz
    if min(below, above) < HEART_MARGIN_MM:
        side = "bottom" if below < above else "top"
        w.append(f"heart probably cut off: its centre is {min(below, above):.0f} mm from the {side} of the scan")
    if window is not None and not window[0] <= z <= window[1]:
        w.append(f"heart centre (slice {z}) outside the model's depth window (slices {window[0]:.0f}-{window[1]:.0f})")
    return w


def scan_warnings(volume: Volume, heart: HeartFinding, *, ranges: dict[str, tuple[float, float]],
                  window: tuple[float, float] | None = None, lungs: LungField | None = None,
                  image_contrast: bool = False, noise_hu: float | None = None) -> list[str]:
    """Every per-scan warning, in the order the CSV shows them: the reader's (other series in the folder, slice
    files skipped), anatomy, acquisition, heart, metal near the heart. lungs: the volume's lung field when the
    scorer computed it (:func:`anatomy_warnings`); image_contrast: the scorer saw contrast in the image
    (:func:`acquisition_warnings`); noise_hu: the image's noise sd when the scorer measured it (:func:`noise_warnings`)."""
    return [*volume.meta.get("warnings", []), *anatomy_warnings(volume, lungs=lungs),
            *acquisition_warnings(volume, ranges, image_contrast=image_contrast), *noise_warnings(noise_hu),
            *heart_warnings(volume, heart, window=window),
            *_metal_warnings(volume.hu, tuple(abs(float(v)) for v in volume.spacing_mm), heart.index)]
