"""One interface for every model kind: a :class:`Predictor` scores a decoded volume into a :class:`ScanResult`
(per-vessel Agatston, the warnings, the heart it used, what its picture needs) and draws that picture.

Two kinds implement it: :class:`BundlePredictor` (the paper's regressors, a ``reproduce`` bundle or a folder of
fold bundles) and :class:`LesionPredictor` (the candidate scorer written by ``lesion-train``).
:func:`load_predictor` tells them apart. Every kind runs the same checks (:mod:`cacscore.predict.checks`), so
``predict``, ``lesion-score`` and the demo write the same warnings for the same scan.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Protocol

import numpy as np

from cacscore import lesion as L
from cacscore.chest.anatomy import ChestAnatomy
from cacscore.chest.heart import locate_heart
from cacscore.core.bundle_layout import bundle_dirs
from cacscore.core.fileio import safe_name
from cacscore.core.vessels import VESSELS
from cacscore.io.dicom import Volume
from cacscore.lesion.noise import image_noise_hu
from cacscore.predict.checks import is_unreliable, model_warnings, scan_warnings, training_ranges
from cacscore.predict.results import ScanResult

# the bundle side (cacscore.regress: torch) is imported inside BundlePredictor only: a lesion model's predict never
# imports torch (about a second of a cold start)

DEFAULT_MODEL = Path(__file__).with_name("default_model")
"""The candidate scorer shipped as package data (``cacscore predict`` without ``--model``): trained on synthetic
phantoms by ``bench/train_default_model.py``; what it is and is not validated for: docs/model_card.md."""

LESION_ABOUT = ("Scores in Agatston units: every calcium lesion (>= the Agatston threshold) was classified as "
                "non-coronary or as one of the four arteries by a trained candidate classifier, and each artery "
                "was then scored exactly by the Agatston rules; the pictures show each lesion in its artery's "
                "colour. Not a diagnosis.")


class Predictor(Protocol):
    """path: the model folder; notes: warnings about the model itself, on every scan it scores; about: what the
    report index says of the scores (None: the default text)."""

    path: Path
    notes: list[str]
    about: str | None

    def score(self, volume: Volume) -> ScanResult:
        """Scores, warnings (model notes first) and heart of one decoded volume; raises ValueError for a volume
        it cannot score."""

    def picture(self, result: ScanResult, volume: Volume, out_dir: Path) -> Path:
        """The per-scan PNG of a scored result (before :meth:`ScanResult.drop_view`), written into out_dir."""


def _abs_spacing(volume: Volume) -> tuple[float, float, float]:
    return tuple(abs(float(v)) for v in volume.spacing_mm)  # type: ignore[return-value]


class BundlePredictor:
    """A ``reproduce`` bundle or ensemble: the volume is preprocessed as the bundle was trained
    (:func:`cacscore.regress.preprocess.preprocess_volume`), then the model regresses the four scores."""

    about = None

    def __init__(self, path: Path) -> None:
        from cacscore.regress.bundle import TEST_EVALUATION, load_bundle
        from cacscore.regress.inference import members

        self.path = Path(path)
        self.model = load_bundle(self.path)
        self.ranges = training_ranges([getattr(m, "config", {}) for m in members(self.model)])
        self.notes = model_warnings(self.path / TEST_EVALUATION)

    def score(self, volume: Volume) -> ScanResult:
        from cacscore.regress.inference import predict_hu
        from cacscore.regress.preprocess import depth_window_slices, preprocess_volume

        cfg = self.model.preprocess
        info: dict = {}
        hu = preprocess_volume(volume, cfg, info=info)
        scores, sd = predict_hu(self.model, hu[None])
        heart = locate_heart(volume.hu, _abs_spacing(volume))
        warnings = scan_warnings(volume, heart, ranges=self.ranges, window=depth_window_slices(volume, cfg, info))
        return ScanResult(scores=scores[0], sd=None if sd is None else sd[0], warnings=[*self.notes, *warnings],
                          heart=heart, model_input=hu, model_unreliable=is_unreliable(self.notes))

    def picture(self, result: ScanResult, volume: Volume, out_dir: Path) -> Path:
        from cacscore.predict.report import scan_report

        return scan_report(self.model, result.model_input, result, out_dir)


class LesionPredictor:
    """A candidate-classification model: it scores the decoded volume at its native resolution (no 73-slab
    preprocessing): every calcium lesion is classified, then each artery is scored exactly."""

    about = LESION_ABOUT

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.model = L.load_model(self.path)
        self.notes: list[str] = []
        # acquisition ranges where model.json records them (info.train_ranges: the shipped model does;
        # lesion-train does not yet), so a scan unlike the training data is warned about
        self.ranges = training_ranges([self.model.info])

    def score(self, volume: Volume) -> ScanResult:
        spacing = _abs_spacing(volume)
        noise_hu = image_noise_hu(volume.hu, spacing)  # once: the noisy-image warning and the model's noise floor
        cand, classes = L.classify_volume(volume.hu, spacing, self.model, noise_sd=noise_hu)
        labels = L.vessel_labels(volume.hu, cand, classes, self.model)
        scores = L.score_assignment(volume.hu, cand, classes, labels=labels)
        heart = cand.heart  # find_candidates located it on this volume
        return ScanResult(scores=np.array([scores[v] for v in VESSELS], dtype=np.float64),
                          warnings=[*self.notes, *scan_warnings(volume, heart, ranges=self.ranges, lungs=cand.lungs,
                                                                image_contrast=_sees_contrast(cand.anatomy),
                                                                noise_hu=noise_hu)],
                          heart=heart,
                          labels=labels, candidates=cand.ids > 0, anatomy=cand.anatomy)

    def picture(self, result: ScanResult, volume: Volume, out_dir: Path) -> Path:
        from cacscore.lesion.report import render_lesion_report

        return render_lesion_report(volume.hu, _abs_spacing(volume), result.labels, result.vessel_scores(),
                                    Path(out_dir) / f"{safe_name(result.id)}.png", title=result.id,
                                    candidates=result.candidates, threshold_hu=self.model.threshold_hu,
                                    found_heart_index=result.heart.index, warnings=result.warnings,
                                    anatomy=result.anatomy)


def _sees_contrast(anatomy: ChestAnatomy | None) -> bool:
    """Whether the chest's anatomy (when the scorer read it) found contrast-filled blood in the image."""
    return anatomy is not None and bool(anatomy.contrast)


def is_lesion_model(path: Path) -> bool:
    """True for a folder written by ``cacscore lesion-train`` (model.json of kind cacscore.lesions.*).

    A folder with a model.json but no bundle config.json is meant as a lesion model: a model.json that is not
    valid JSON, not a JSON object or has no lesion ``kind`` there raises LesionError naming model.json (not the
    misleading "not a model bundle (no config.json)" that loading it as a bundle gives).
    """
    j = Path(path) / "model.json"
    if not j.is_file():
        return False
    try:
        cfg = json.loads(j.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        problem = f"not valid JSON (not UTF-8 text: {exc.reason})"
    except json.JSONDecodeError as exc:
        problem = f"not valid JSON ({exc})"
    else:
        if isinstance(cfg, dict) and str(cfg.get("kind", "")).startswith("cacscore.lesions."):
            return True
        problem = (f"not a lesion classifier (kind {cfg.get('kind')!r})" if isinstance(cfg, dict) else
                   f"not a lesion classifier (a JSON {type(cfg).__name__}, not an object)")
    if bundle_dirs(Path(path)):
        return False  # a bundle (or fold-bundle) folder that happens to hold a model.json too
    raise L.LesionError(f"{j}: {problem}")


def is_model_folder(path: Path) -> bool:
    """True for a folder that holds a model rather than scans: a ``lesion-train`` folder (model.json), a bundle
    (config.json) or a folder of fold bundles (fold*/config.json). A model.json that is broken still counts (loading
    it then says what is wrong); no file is parsed here, so a DICOM folder is never mistaken for one."""
    p = Path(path)
    if not p.is_dir():
        return False
    return (p / "model.json").is_file() or bool(bundle_dirs(p))


def load_predictor(path: Path) -> BundlePredictor | LesionPredictor:
    """The predictor of a model folder: a ``lesion-train`` folder, a bundle, or a folder of fold bundles."""
    return LesionPredictor(Path(path)) if is_lesion_model(Path(path)) else BundlePredictor(Path(path))


@functools.cache
def worker_predictor(path: str) -> BundlePredictor | LesionPredictor:
    """The predictor of a model folder, loaded once per process (a pool worker scoring many scans)."""
    return load_predictor(Path(path))
