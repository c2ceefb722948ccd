"""The candidate classifier: a small MLP that calls each calcium candidate non-coronary or one of the
four arteries, saved as safetensors + JSON (never pickle), and its use on a whole volume.

It is trained in torch (:mod:`cacscore.lesion.torch_mlp`, imported only to train) and run in numpy
(:class:`NumpyMLP`, the same layers read from the same safetensors with ``safetensors.numpy``): scoring a scan
never imports torch, which was about a second of a cold ``cacscore predict`` of one scan.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from cacscore.chest.anatomy import (DIAPHRAGM_BELOW_SCAN, ROOT_VERSIONS, SAC_VERSIONS, read_chest, root_options,
                                   sac_options)
from cacscore.chest.heart import HeartFinding, locate_heart
from cacscore.chest.hull import lungs_shareable, thorax_hull
from cacscore.chest.lungs import lung_field
from cacscore.core.fileio import (
    JsonFileError,
    WeightsFileError,
    atomic_path,
    atomic_write_text,
    load_safetensors,
    read_json_object,
)
from cacscore.lesion.anatomy import (
    ANATOMY_NAMES,
    FINDER_ABOVE_MASK,
    GEOMETRY_NAMES,
    REFERENCES,
    AnatomyRules,
    anatomy_verdicts,
    heart_reference,
    mac_ring_verdict,
    pericardium_distance,
    without_pericardium,
)
from cacscore.lesion.candidates import (
    BASE_FEATURE_NAMES,
    CLASS_NAMES,
    FEATURE_NAMES,
    N_CLASSES,
    Candidates,
    LesionError,
    assign_labels,
    check_hu,
    find_candidates,
    score_assignment,
)
from cacscore.lesion.context import ring_soft_hu
from cacscore.lesion.noise import image_noise_hu, noise_floor, noise_floor_mean
from cacscore.lesion.split import SplitSettings, split_labels
from cacscore.lesion.tree import (guard_left_main, join_structure, keep_confident, keep_left_main,
                                  soft_veto_structure, split_structures, veto_by_largest, veto_structure,
                                  vote_by_structure)

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ classifier
KNOWN_FEATURES: tuple[str, ...] = (*FEATURE_NAMES, *ANATOMY_NAMES)
"""Every column a model may be trained on: the candidate features (``Candidates.features``) and the anatomical
columns (``Candidates.anatomy_columns``, cacscore.lesion.anatomy)."""

FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "candidate": BASE_FEATURE_NAMES,
    "anatomy": (*BASE_FEATURE_NAMES, *GEOMETRY_NAMES),  # the contrast-lumen columns serve a rule only
    "distances": (*BASE_FEATURE_NAMES, "pericardium_mm", "aortic_wall_mm", "aorta_segment", "bone_mm",
                  "chest_wall_mm"),
    # session 13 (issue 16, MAC called LCX): plus the ring tissue and 3-D structure axes (cacscore.lesion.context);
    # "ring": only the three ring columns that told MAC from LCX plaque the same way on phantom and hybrids
    # (bench/mac_shape_features.py, docs/lesion_scorer.md "Shape and side tissue")
    "shape": FEATURE_NAMES,
    "ring": (*BASE_FEATURE_NAMES, "ring_fat", "ring_soft", "outer_fat"),
    # session 15 (wt23e): the shipped columns less the 8 mm tissue box, which round a large left-main plaque holds
    # mostly the plaque's own calcium (seed 9901 patient 43: bright_8mm 0.64-0.85, fat_8mm 0.09-0.22, against the
    # training left mains' 0.05 / 0.65) and reads LAD to the MLP (docs/lesion_scorer.md "(session 15, wt23e)")
    "no8mm": tuple(n for n in BASE_FEATURE_NAMES if not n.endswith("_8mm")),
    # session 25: the shipped columns less the 24 mm and 60 mm tissue boxes, which on the phantom hold its drawn
    # chest (groove-fat pads, chambers, lung) and on real CT another one: trained on the shipped model's own data
    # (v11, seed 13001, 200 patients), the 0002 hybrids' inserted AU given the right vessel rose from 0.69 (the same
    # data and seed with every column) to 0.88, the left main from 0 to 0.71, and the one 3.9 AU speck every retrain
    # called LCX on real 0002 was left alone (docs/model_card.md "Session 25 (lead, development)")
    "near": tuple(n for n in BASE_FEATURE_NAMES if not n.endswith(("_24mm", "_60mm"))),
}
"""``cacscore lesion-train --features``' choices. "candidate" (the default) is what the shipped model reads: with all
anatomy columns the 512 px held-out MSE ratio fell from 11.4 to 4.5 at the same kappa4 (0.942), and
LIDC-IDRI-0001 (contrast) got more false calls (docs/lesion_scorer.md, issue 16 ablation); the anatomy enters
through the rules (cacscore.lesion.anatomy.AnatomyRules) instead."""

DEFAULT_FEATURES: tuple[str, ...] = FEATURE_SETS["candidate"]

_REQUIRED = ("dist_mm", "dz_mm")  # the distance and height rules read them


def check_feature_names(names: Sequence[str], where: str = "features") -> tuple[str, ...]:
    """``names`` as a tuple when every one is a known column (KNOWN_FEATURES), none twice, dist_mm and dz_mm among
    them; else LesionError naming ``where``."""
    names = tuple(str(n) for n in names)
    unknown = [n for n in names if n not in KNOWN_FEATURES]
    if unknown:
        raise LesionError(f"{where}: feature(s) {', '.join(unknown[:4])} unknown to this version of cacscore "
                          f"(a model trained by another version: retrain it with lesion-train)")
    if len(set(names)) != len(names) or any(r not in names for r in _REQUIRED):
        raise LesionError(f"{where}: feature names must be distinct and include {' and '.join(_REQUIRED)}")
    return names


def feature_table(features: np.ndarray, anatomy_columns: np.ndarray | None, names: Sequence[str]) -> np.ndarray:
    """(n, len(names)) float32 model input: the named columns of the (n, len(FEATURE_NAMES)) candidate features
    and of the (n, len(ANATOMY_NAMES)) anatomy columns (all nan when None: no anatomy read). nan stays nan: the
    model reads a part not found as the training mean (:meth:`LesionModel.predict_proba`). A candidate table of an
    older version (the first len(BASE_FEATURE_NAMES) columns only, e.g. a training cache) serves names among those."""
    f = np.asarray(features, np.float32)
    n = f.shape[0]
    short = [k for k in names if k in FEATURE_NAMES and FEATURE_NAMES.index(k) >= f.shape[1]]
    if short:
        raise LesionError(f"candidate features of {f.shape[1]} columns lack {', '.join(short[:3])} (a table of an "
                          f"older cacscore: extract the candidates again)")
    a = np.full((n, len(ANATOMY_NAMES)), np.nan, np.float32) if anatomy_columns is None else \
        np.asarray(anatomy_columns, np.float32).reshape(n, len(ANATOMY_NAMES))
    cols = [f[:, FEATURE_NAMES.index(k)] if k in FEATURE_NAMES else a[:, ANATOMY_NAMES.index(k)] for k in names]
    return np.stack(cols, 1) if cols else np.zeros((n, 0), np.float32)


def own_columns(features: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """``features`` as float32; a full candidate table ((n, len(FEATURE_NAMES)) with names other than FEATURE_NAMES
    and of another length) narrowed to ``names`` (:func:`feature_table`): a model of the base columns is asked about,
    or trained on, find_candidates' table as before the shape columns were appended."""
    f = np.asarray(features, np.float32)
    if f.ndim == 2 and f.shape[1] == len(FEATURE_NAMES) and len(names) != len(FEATURE_NAMES) \
            and all(k in FEATURE_NAMES for k in names):
        return feature_table(f, None, names)
    return f


VOTE_WEIGHTS = ("count", "agatston")
"""ClassifierConfig.vote_weight's choices: each coronary candidate of a structure votes once, or by its Agatston."""


@dataclass(frozen=True)
class ClassifierConfig:
    """MLP and training settings. hidden: widths of the hidden layers; class_weight_power: class
    weights = (n / count) ** power, normalised (0: none, 1: inverse frequency). max_distance_mm: candidates
    farther than this from the found heart centre are non-coronary by rule (never classified nor trained
    on; on 300 phantom patients at 512 px the farthest coronary candidate was 88 mm away, with heart
    finder errors up to 22 mm)."""

    hidden: tuple[int, ...] = (128, 64)
    dropout: float = 0.1
    epochs: int = 40
    batch_size: int = 512
    lr: float = 2e-3
    weight_decay: float = 1e-4
    class_weight_power: float = 0.5
    max_distance_mm: float = 110.0
    # candidates more than this far outside the lungs' convex hull (Candidates.outside_thorax_mm) are
    # non-coronary by rule, whatever the MLP says; None: no such rule. On the one real chest CT at hand
    # (LIDC-IDRI-0002) a phantom-trained model called calcified costal cartilage 9-17 mm outside the hull
    # "LAD"; the phantom's coronary candidates lie >= 13 mm inside it (docs/lesion_scorer.md)
    thorax_margin_mm: float | None = 5.0
    # candidates whose dz_mm (height above the heart centre) lies more than this outside the range of the
    # coronary training candidates (LesionModel.info["coronary_dz_mm"]) are non-coronary by rule: a model
    # trained on gated heart-only scans never saw the aortic arch of a whole-chest scan; None: no such rule
    z_margin_mm: float | None = 15.0
    # issue 16: candidates that the chest anatomy (cacscore.chest.anatomy.read_chest) puts in the bony thorax, the
    # aortic wall, below the diaphragm or far outside the pericardium are non-coronary by rule
    # (cacscore.lesion.anatomy.AnatomyRules); models saved before it load with the rules on
    anatomy_rules: bool = True
    # the columns the MLP reads (of KNOWN_FEATURES; None: BASE_FEATURE_NAMES, the candidate features before
    # session 13's shape columns); a model
    # records them as feature_names; lesion-train --features picks one of FEATURE_SETS
    features: tuple[str, ...] | None = None
    # the coronary candidates of one 3-D structure (one plaque over several slices) share the vessel the MLP finds
    # most probable for the structure (cacscore.lesion.tree.vote_by_structure); applied at classification only, so
    # models saved before it get it on load. On unseen phantom v3 (seed 9101, 60 patients) the 4-vessel MSE ratio
    # went from 20.6 to 28.6 with the shipped model (docs/lesion_scorer.md, "Vessel assignment along the tree")
    structure_vote: bool = True
    # with the vote: the members of such a structure that the MLP alone called non-coronary (and no rule did) join it
    # when the structure is more likely coronary than not (cacscore.lesion.tree.join_structure); seed 9101: 28.6 ->
    # 32.1, hybrids: inserted AU found 1,250 -> 1,444 of 2,022, no new false call on them or the LIDC series
    structure_join: bool = True
    # with the vote: the vote moves no candidate the MLP called another artery into the left main (LCA), and a
    # structure's LCA candidates leave it when most of the structure's calcium (Agatston-weighted) is another artery's
    # (cacscore.lesion.tree.guard_left_main). Phantom v4 seed 9101 (60 unseen patients): ratio 1.0 -> 7.9; v3 seed
    # 9101: 32.1 unchanged (docs/lesion_scorer.md, "The left main in the vote")
    structure_left_main: bool = True
    # (mean, peak) HU: candidates denser than this read as this dense to the MLP (None: no cap). The phantom's
    # coronary plaques are rarely dense (seeds 41 + 9101: 90th percentile of coronary candidates' mean / peak HU
    # 501 / 927), so the MLP learned "very dense = not coronary" from bone and extrapolated it to dense real-size
    # plaques: on 30 hybrids of the LIDC series it missed every inserted RCA slice above 800 mean HU
    # (docs/lesion_scorer.md, "Dense plaques"). Applied in training (train_classifier: the MLP and its standardisation
    # see capped columns) and classification alike (cap_density); lesion-train's default is (500, 930), and the
    # training coronary candidates' 90th percentiles are recorded in info["coronary_density_hu"].
    density_cap_hu: tuple[float, float] | None = None
    seed: int = 0
    # the frame of the position features (dz_mm ... sin_inplane), cacscore.lesion.anatomy.REFERENCES: "finder" (the
    # heart finder's point unless heart_reference's sac rules replace it; every model before session 12; models saved
    # without the field load with it) or "sac" (the found pericardial mask's centroid: cacscore.lesion.anatomy.
    # heart_reference). Obeyed by training (cacscore.lesion.train._extract) and scoring (classify_volume) alike,
    # through framed_candidates (the frame: ClassifierConfig.frame)
    reference: str = "finder"
    # voxel-level vessel split (cacscore.lesion.split.split_labels, issue 16): a candidate called LCA / LAD / LCX of at
    # least split.min_area_mm2 is cut into pieces of about split.piece_mm2, each piece asked to the MLP and its voxels
    # labelled with the piece's left-coronary vessel (a piece below split.min_left_p keeps the candidate's class), so
    # agatston counts a lesion across the left-main bifurcation once per vessel as the reference does
    # (docs/lesion_scorer.md, "Voxel-level vessel split"). Applied by vessel_labels at scoring only. Off: it raised the
    # 4-vessel ratio on phantom seeds 9101 / 9401 but moved w8_0002's left-main AU to the LCX on the 0002 hybrids
    voxel_split: bool = False
    # the split's settings (session 14's guard and cut included: min_part_mm2, own_part, method, max_pieces,
    # docs/lesion_scorer.md "(session 14, wt22d)"). model.json stores them nested under "split"; models saved before
    # session 15 hold them flat as split_<field> and load through from_dict (docs/lesion_scorer.md "(session 15, wt23d)")
    split: SplitSettings = field(default_factory=SplitSettings)
    # after the vote, guard and join: a coronary candidate the MLP itself called a vessel with probability >= this keeps
    # that call (cacscore.lesion.tree.keep_confident); None: off. Phantom v8 seed 9101 (60 patients, shipped model):
    # 4-vessel ratio 1.81 -> 2.31 at 0.9 (docs/lesion_scorer.md "(session 14, wt22d)")
    keep_confident_p: float | None = None
    # session 15 (wt23e, issue 16: the left main called LAD rules the 4-vessel ratio): training weights only, both off by
    # default (the shipped model's training unchanged). au_weight_power: within each coronary class, a candidate weighs
    # (1 + Agatston) ** power, normalised to mean 1 over the class (the class totals, so the class balance, unchanged):
    # the MSE ratio is ruled by the large plaques while the count loss weighs a 2 AU speck as a 400 AU plaque
    # (au_class_weights). lca_weight: the left main's class weight times this (16 LCA training candidates of 507,224
    # on 40 patients of seed 10101). docs/lesion_scorer.md "(session 15, wt23e)"
    au_weight_power: float = 0.0
    lca_weight: float = 1.0
    # session 15 (wt23e): with the vote, the candidates the MLP called LCA stay LCA through it, before the left-main
    # guard (cacscore.lesion.tree.keep_left_main); classification only, off by default
    left_main_keep: bool = False
    # session 16 (wt24a): how the structure vote weighs each coronary candidate's probabilities: "count" (each once:
    # the default, every model before) or "agatston" (times its Agatston contribution: the largest, densest slice
    # decides; cacscore.lesion.tree.vote_by_structure's weights). Classification only; docs/lesion_scorer.md
    # "(session 16, wt24a)"
    vote_weight: str = "count"
    # session 16 (wt24a): before the vote, a structure whose coronary candidates the MLP calls two or more vessels
    # each with probability >= this is cut into one part per vessel, and the vote, guard and join decide each part
    # (cacscore.lesion.tree.split_structures); None: off (the default). Classification only
    structure_split_p: float | None = None
    # session 16 (lead): after the join, a structure more likely non-coronary than coronary by its members' Agatston-
    # weighted MLP probabilities (rule-decided members counting as non-coronary) loses its coronary calls
    # (cacscore.lesion.tree.veto_structure: a mitral annulus ring whose small slices the MLP calls LCX). Off by
    # default; docs/lesion_scorer.md "(session 16, lead)"
    structure_veto: bool = False
    # session 28 (lead): after the veto, a structure whose largest (Agatston) member that the MLP was asked about reads
    # non-coronary with p >= this loses its coronary calls (cacscore.lesion.tree.veto_by_largest: a mitral annulus
    # deposit whose upper slices the MLP calls LCX tipped the weighted veto, seed 14549 patient 12, 849 AU); None: off
    # (the default; 0.85 in the shipped model since session 29). Classification only; docs/model_card.md "Session 28"
    structure_veto_largest: float | None = None
    # session 17 (wt25a): (min_ring_soft, min_above_diaphragm_mm) or None (off, the default). After every other step, a
    # 3-D structure whose coronary calls are, Agatston-weighted, wrapped in soft tissue (mean ring_soft above the first)
    # and lie above the diaphragmatic surface (mean above_diaphragm_mm above the second) loses its coronary calls
    # (cacscore.lesion.tree.soft_veto_structure: mitral annulus calcium the MLP itself calls LCX / RCA with p 0.9+, out
    # of the structure veto's reach). Needs the full candidate table (ring_soft) and the anatomy columns; classification
    # only. docs/lesion_scorer.md "(session 17, wt25a)"
    structure_ring_veto: tuple[float, float] | None = None
    # session 19 (wt27a): with structure_ring_veto, a structure loses its coronary calls only when also the
    # Agatston-weighted mean of its coronary members' ring_soft_hu (cacscore.lesion.context.ring_soft_hu: the mean HU
    # of the soft pixels 1-4 mm round the calcium, slice smoothed 1 mm) exceeds this (HU); None: off (the default).
    # MAC sits in the annulus's myocardium (32-35 HU on dev), a plaque in a wide coronary lumen in blood and its fat
    # sheath (3-18 HU on the soft-wrapped LCX / LCA plaques the ring veto took or risked on dev). classify_volume
    # computes the column from the image; LesionModel.classify needs it (ring_hu) when this is set.
    # docs/lesion_scorer.md "(session 19, wt27a)"
    structure_ring_veto_hu: float | None = None
    # session 20 (wt28a): (min_ring_soft, max_pericardium_mm) or None (off, the default). With structure_ring_veto, a
    # second, lower ring limit for structures deep in the pericardial mask: a structure also counts as soft-wrapped when
    # its weighted ring_soft exceeds min_ring_soft while its weighted pericardium_mm (signed depth, < 0 inside) is
    # below max_pericardium_mm; the height and ring-HU conditions stay. MAC on the annulus, deep to the AV-groove fat,
    # with ring_soft 0.59-0.60 (dev: 14508 p40 1,101 AU, 14501 p22 220 AU called LCX) escaped the 0.65 limit.
    # docs/lesion_scorer.md "(session 20, wt28a)"
    structure_ring_veto_deep: tuple[float, float] | None = None
    # session 21 (wt29c): inner_fat limit or None (off, the default). With structure_ring_veto, a structure under the
    # height limit also loses its calls (ring and HU conditions unchanged) when its weighted inner_fat (fat share of
    # the ring half facing the heart centre) exceeds this: MAC low on the posterior annulus has the AV groove's fat on
    # its heart-centre side (0.41-0.70 on dev), a coronary on the diaphragmatic surface its myocardium (<= 0.17).
    # docs/lesion_scorer.md "(session 21, wt29c)"
    structure_ring_veto_low_fat: float | None = None
    # session 21 (wt29c): (min_length_mm, min_ring_hu) or None (off, the default). With structure_ring_veto_hu, a
    # structure at least min_length_mm long (struct_length_mm: MAC is a band along the annulus) passes the ring-HU
    # condition at min_ring_hu instead (dev MAC 55 / 50 mm long read 25.6 / 28.5 HU, under the 29 limit).
    # docs/lesion_scorer.md "(session 21, wt29c)". Shipped on in session 21, off again in session 22: a heavy left
    # main + LAD + LCX merged into one structure is longer still (fresh 14517 p38: 77 mm, 20.9 HU, 4,687 AU vetoed;
    # docs/model_card.md "Session 22 (lead)")
    structure_ring_veto_long: tuple[float, float] | None = None
    # session 22 (wt30c): (max_pericardium_mm, min_ring_hu) or None (off, the default). With structure_ring_veto_hu, a
    # soft-wrapped structure (the ring conditions unchanged) deep in the pericardial mask (weighted pericardium_mm below
    # the first: the annulus inside the heart, deeper than the epicardial fat the coronaries run in) loses its calls
    # without the height condition and with the ring-HU limit lowered to the second. Dev MAC the shipped terms left:
    # 14513 p38 (242 AU RCA; diaphragm not found, so no height; -13.8 mm, 36.1 HU) and 14512 p53 (410 AU LCX; 28.7 HU,
    # under 29; -15.0 mm). docs/lesion_scorer.md "(session 22, wt30c)"
    structure_ring_veto_core: tuple[float, float] | None = None
    # session 28 (lead): with structure_ring_veto, when the chest reader finds the diaphragm below the scan (the lungs
    # reach the lowest slice: above_diaphragm_mm is nan for every candidate), each candidate's height above the scan's
    # lowest slice stands in for it: a lower bound, which is all the veto's "higher than" condition needs. Off (False)
    # by default; on in the shipped model since session 29. MAC escaped the veto through the nan height four times
    # (14879 p14, 14513 p38, 14897 p6, 14551 p10: 2,465 AU; the last, ring_soft 0.94, lies 30-55 mm above the lowest
    # slice). docs/model_card.md "Session 28"
    structure_ring_veto_floor: bool = False
    # session 24 (wt32b): min_p_non or None (off, the default). With structure_ring_veto, a structure loses its calls
    # only when also its coronary members' Agatston-weighted MLP non-coronary probability exceeds this (the other
    # conditions unchanged): with the true diaphragm (chest_sac "s23") true RCA / PDA on the posterior heart, which
    # the MLP is sure of (p_non <= 0.0015), read 27.5-38.8 mm above it, over the 25 mm height limit (14524 p3, p13,
    # p18: 1,169 AU vetoed); MAC the veto takes has p_non >= 0.017 on dev. docs/lesion_scorer.md "(session 24, wt32b)"
    structure_ring_veto_unsure: float | None = None
    # session 17 (wt25c): a noise-aware minimum for small candidates. With k set, classify_volume estimates the scan's
    # noise sd from the image itself (cacscore.lesion.noise.image_noise_hu) and, after every other step, the coronary
    # calls of a 3-D structure none of whose slices covers more than noise_floor_area_mm2 and whose peak stays below
    # noise_floor_base_hu + k x noise sd are dropped (cacscore.lesion.noise.noise_floor): the noise specks that 8 of 19
    # category errors on seeds 14001 + 13901 came from (docs/lesion_scorer.md "(session 17, wt25c)"). None: off
    # (the default; every model before). Classification only
    noise_floor_k: float | None = None
    noise_floor_area_mm2: float = 5.0
    noise_floor_base_hu: float = 40.0
    # session 20 (wt28b): a second noise floor on the structure's density, for the noise clusters over 5 mm^2 that
    # the peak floor above lets through (6 of 8 zero-calcium patients called calcified on dev seeds 14505 + 14508 +
    # 14506, image noise 60-67 HU). With k set, the coronary calls of a 3-D structure none of whose slices covers more
    # than noise_floor_mean_area_mm2 and whose area-weighted mean HU (over all its slices) stays below
    # noise_floor_base_hu + k x noise sd are dropped (cacscore.lesion.noise.noise_floor_mean): the voxels a noise
    # excursion lifts over 130 HU average about 40 + 2 sd (the truncated normal's mean), a plaque's its own density.
    # Independent of noise_floor_k (either, both or neither); None: off (the default; every model before).
    # docs/lesion_scorer.md "(session 20, wt28b)"
    noise_floor_mean_k: float | None = None
    noise_floor_mean_area_mm2: float = 8.0
    # session 19 (wt27b): the chest reader's pericardial-sac settings, a name of cacscore.chest.anatomy.SAC_VERSIONS:
    # "s18" (the default; every model before) or "s19" (the mask cut in front of the descending aorta where the
    # oesophagus lies, and the diaphragm under the heart at the mask's floor; docs/chest_anatomy.md "(session 19,
    # wt27b)"). Read by anatomical_candidates, so training and scoring alike
    chest_sac: str = "s18"
    # session 19 (wt27b): the sac version the heart reference (the position features' frame) is read with; None: the
    # same read as chest_sac. "s18" with chest_sac "s19" keeps the frame the shipped MLP was trained in (the s19 mask,
    # without its posterior band, has its centroid ~2 mm further forward: on seed 14501 #49 a 96 AU LAD lesion moved
    # to the LCX) while the rules read the s19 anatomy; its mask is found a second time inside the same read_chest
    # (session 20: ChestAnatomy.framed; before, a whole second read)
    frame_sac: str | None = None
    # session 23 (wt31c): the chest reader's aortic-root settings, a name of cacscore.chest.anatomy.ROOT_VERSIONS: "s22"
    # (the default; every model before) or "s23" (the root measured from where the ascending track enters the heart
    # when its lowest circles lie in the heart; docs/chest_anatomy.md "(session 23, wt31c)"). Read by
    # anatomical_candidates, so training and scoring alike (the root is the heart frame's origin and the aortic-wall
    # rule's exemption height)
    chest_root: str = "s22"

    def with_split(self, settings: SplitSettings | None) -> "ClassifierConfig":
        """This config with the voxel split on with ``settings`` (None: off; the settings kept)."""
        if settings is None:
            return dataclasses.replace(self, voxel_split=False)
        return dataclasses.replace(self, voxel_split=True, split=settings)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ClassifierConfig":
        """The config of a model.json "config" object: the split's settings nested under "split" (as save_model writes
        them since session 15) or flat as ``split_<field>`` (models saved before: any subset of SplitSettings'
        fields, the rest at their defaults; not both). Other keys are the fields' own."""
        d = dict(d)
        flat = {f.name: d.pop(f"split_{f.name}") for f in dataclasses.fields(SplitSettings) if f"split_{f.name}" in d}
        split = d.get("split")
        if flat and split is not None:
            raise ValueError(f"split settings both nested and flat: {sorted(flat)} and 'split'")
        if flat:
            split = flat
        if isinstance(split, dict):
            split = dict(split)
            if "max_pieces" in split:  # (JSON numbers: as the flat fields were read before session 15)
                split["max_pieces"] = int(split["max_pieces"])
            if "own_part" in split:
                split["own_part"] = bool(split["own_part"])
            if "anchor_keep_vessels" in split:  # (session 21: a JSON list back to the frozen settings' tuple)
                split["anchor_keep_vessels"] = tuple(int(v) for v in split["anchor_keep_vessels"])
            d["split"] = SplitSettings(**split)
        return cls(**d)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return BASE_FEATURE_NAMES if self.features is None else tuple(self.features)

    @property
    def reads_anatomy_columns(self) -> bool:
        """Whether the MLP reads an anatomy column (``Candidates.anatomy_columns``, cacscore.lesion.anatomy)."""
        return any(n in ANATOMY_NAMES for n in self.feature_names)

    @property
    def needs_anatomy(self) -> bool:
        """Whether this model's candidates are placed in the chest anatomy (:func:`anatomical_candidates`:
        ``read_chest``, positions from :func:`cacscore.lesion.anatomy.heart_reference`): it has the anatomy rules,
        reads anatomy columns, or measures positions from the pericardial sac. The one answer that training
        (:func:`cacscore.lesion.train._extract`) and scoring (:func:`classify_volume`) both obey, through
        :func:`framed_candidates` (issue 16: one frame)."""
        return bool(self.anatomy_rules or self.reference != "finder" or self.reads_anatomy_columns)

    @property
    def needs_noise(self) -> bool:
        """Whether classification reads the scan's noise sd (:func:`cacscore.lesion.noise.image_noise_hu`): a noise
        floor (noise_floor_k or noise_floor_mean_k) is on."""
        return self.noise_floor_k is not None or self.noise_floor_mean_k is not None

    @property
    def frame(self) -> str:
        """Where the position features are measured from, as training reports it and feature caches key on it:
        "heart_reference:finder" / "heart_reference:sac" (:func:`cacscore.lesion.anatomy.heart_reference`, when
        :attr:`needs_anatomy`) or "locate_heart" (the heart finder's point alone, ``find_candidates``' own)."""
        return f"heart_reference:{self.reference}" if self.needs_anatomy else "locate_heart"

    def __post_init__(self) -> None:
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden must be positive widths, got {self.hidden!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.density_cap_hu is not None:
            cap = tuple(float(v) for v in self.density_cap_hu)  # a JSON list (model.json) becomes the tuple
            if len(cap) != 2 or not all(np.isfinite(v) for v in cap):
                raise ValueError(f"density_cap_hu must be (mean, peak) finite HU or None, got {self.density_cap_hu!r}")
            object.__setattr__(self, "density_cap_hu", cap)
        for name in ("thorax_margin_mm", "z_margin_mm"):
            v = getattr(self, name)
            if v is not None and not np.isfinite(v):
                raise ValueError(f"{name} must be a finite number or None, got {v!r}")
        if not self.max_distance_mm > 0:
            raise ValueError(f"max_distance_mm must be > 0, got {self.max_distance_mm!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.weight_decay < 0:
            raise ValueError(f"bad training settings: {self!r}")
        if self.features is not None:
            object.__setattr__(self, "features", check_feature_names(self.features, "ClassifierConfig.features"))
        if not isinstance(self.split, SplitSettings):
            raise ValueError(f"split must be a SplitSettings, got {self.split!r}")
        if self.keep_confident_p is not None and not 0 < float(self.keep_confident_p) <= 1:
            raise ValueError(f"keep_confident_p must be in (0, 1] or None, got {self.keep_confident_p!r}")
        if self.vote_weight not in VOTE_WEIGHTS:
            raise ValueError(f"vote_weight must be one of {VOTE_WEIGHTS}, got {self.vote_weight!r}")
        if self.structure_veto_largest is not None and not 0 < float(self.structure_veto_largest) <= 1:
            raise ValueError(f"structure_veto_largest must be in (0, 1] or None, got {self.structure_veto_largest!r}")
        if self.structure_split_p is not None and not 0 < float(self.structure_split_p) <= 1:
            raise ValueError(f"structure_split_p must be in (0, 1] or None, got {self.structure_split_p!r}")
        if self.reference not in REFERENCES:
            raise ValueError(f"reference must be one of {REFERENCES}, got {self.reference!r}")
        if self.chest_sac not in SAC_VERSIONS:
            raise ValueError(f"chest_sac must be one of {tuple(SAC_VERSIONS)}, got {self.chest_sac!r}")
        if self.frame_sac is not None and self.frame_sac not in SAC_VERSIONS:
            raise ValueError(f"frame_sac must be one of {tuple(SAC_VERSIONS)} or None, got {self.frame_sac!r}")
        if self.chest_root not in ROOT_VERSIONS:
            raise ValueError(f"chest_root must be one of {tuple(ROOT_VERSIONS)}, got {self.chest_root!r}")
        if self.structure_ring_veto is not None:
            rv = tuple(float(v) for v in self.structure_ring_veto)  # a JSON list (model.json) becomes the tuple
            if len(rv) != 2 or not all(np.isfinite(v) for v in rv):
                raise ValueError("structure_ring_veto must be (min_ring_soft, min_above_diaphragm_mm) finite or None, "
                                 f"got {self.structure_ring_veto!r}")
            object.__setattr__(self, "structure_ring_veto", rv)
        self._ring_term("structure_ring_veto_hu", 1, "structure_ring_veto", "a finite HU")
        self._ring_term("structure_ring_veto_deep", 2, "structure_ring_veto",
                        "(min_ring_soft, max_pericardium_mm) finite")
        self._ring_term("structure_ring_veto_low_fat", 1, "structure_ring_veto", "a finite fat share")
        self._ring_term("structure_ring_veto_long", 2, "structure_ring_veto_hu", "(min_length_mm, min_ring_hu) finite")
        self._ring_term("structure_ring_veto_core", 2, "structure_ring_veto_hu",
                        "(max_pericardium_mm, min_ring_hu) finite")
        self._ring_term("structure_ring_veto_unsure", 1, "structure_ring_veto", "a finite probability")
        if self.structure_ring_veto_floor and self.structure_ring_veto is None:
            raise ValueError("structure_ring_veto_floor needs structure_ring_veto (it only feeds the ring veto's height)")
        if self.noise_floor_k is not None and not (np.isfinite(self.noise_floor_k) and self.noise_floor_k >= 0):
            raise ValueError(f"noise_floor_k must be a finite number >= 0 or None, got {self.noise_floor_k!r}")
        if not np.isfinite(self.noise_floor_base_hu):
            raise ValueError(f"noise_floor_base_hu must be a finite number, got {self.noise_floor_base_hu!r}")
        if not (np.isfinite(self.noise_floor_area_mm2) and self.noise_floor_area_mm2 >= 0):
            raise ValueError(f"noise_floor_area_mm2 must be a finite number >= 0, got {self.noise_floor_area_mm2!r}")
        if self.noise_floor_mean_k is not None and not (np.isfinite(self.noise_floor_mean_k)
                                                         and self.noise_floor_mean_k >= 0):
            raise ValueError(f"noise_floor_mean_k must be a finite number >= 0 or None, got {self.noise_floor_mean_k!r}")
        if not (np.isfinite(self.noise_floor_mean_area_mm2) and self.noise_floor_mean_area_mm2 >= 0):
            raise ValueError("noise_floor_mean_area_mm2 must be a finite number >= 0, got "
                             f"{self.noise_floor_mean_area_mm2!r}")

    def _ring_term(self, name: str, size: int, needs: str, what: str) -> None:
        """Check and normalise one of the ring veto's terms (``size`` 1: a float; 2: a pair, a JSON list from
        model.json becoming the tuple): finite, and only with the key it ``needs`` on (without it the term would do
        nothing). One check for the terms added in sessions 19-22 (the first four had repeated it)."""
        value = getattr(self, name)
        if value is None:
            return
        try:  # a scalar for a pair (or a list for a float) is the same wrong value, not a TypeError
            v = float(value) if size == 1 else tuple(float(x) for x in value)
        except (TypeError, ValueError):
            v = ()
        parts = (v,) if size == 1 and v != () else v
        if getattr(self, needs) is None or len(parts) != size or not all(np.isfinite(x) for x in parts):
            raise ValueError(f"{name} must be {what}, and needs {needs} on; got {value!r} with {needs} "
                             f"{getattr(self, needs)!r}")
        object.__setattr__(self, name, v)


DENSITY_NAMES = ("mean_hu", "peak_hu")
"""The two columns ClassifierConfig.density_cap_hu clips, in its order."""


def cap_density(table: np.ndarray, names: Sequence[str], cap: Sequence[float] | None) -> np.ndarray:
    """``table`` ((n, F), columns ``names``) with mean_hu / peak_hu clipped at ``cap`` = (mean, peak) HU: a copy,
    or ``table`` itself when ``cap`` is None. The one clip training (:func:`train_classifier`) and prediction
    (:meth:`LesionModel.predict_proba`) apply, so the MLP is trained on what it is later asked about."""
    if cap is None:
        return table
    out = np.array(table, copy=True)
    for name, top in zip(DENSITY_NAMES, cap):
        if name in names:
            j = list(names).index(name)
            out[:, j] = np.minimum(out[:, j], top)
    return out


def coronary_density_hu(table: np.ndarray, targets: np.ndarray, names: Sequence[str],
                        percentile: float = 90.0) -> dict | None:
    """How dense the coronary rows (targets > 0) of a training table are: {"percentile", "mean_hu", "peak_hu" (that
    percentile of each, before any cap), "max": [mean, peak], "n"}; None without coronary rows. Recorded in a model's
    info (coronary_density_hu) and the source of ``lesion-train --density-cap-hu p90``."""
    cor = np.asarray(targets) > 0
    if not cor.any() or not all(n in names for n in DENSITY_NAMES):
        return None
    cols = [np.asarray(table)[cor, list(names).index(n)].astype(np.float64) for n in DENSITY_NAMES]
    p = [round(float(np.percentile(c, percentile)), 1) for c in cols]
    return {"percentile": float(percentile), "mean_hu": p[0], "peak_hu": p[1],
            "max": [round(float(c.max()), 1) for c in cols], "n": int(cor.sum())}


def _layer_keys(n_hidden: int) -> list[tuple[str, str]]:
    """state_dict names of the Linear layers of :class:`cacscore.lesion.torch_mlp.CandidateMLP` (Linear, ReLU,
    Dropout per hidden layer: the Linear layers are net.0, net.3, ...)."""
    return [(f"net.{3 * i}.weight", f"net.{3 * i}.bias") for i in range(n_hidden + 1)]


@dataclass(frozen=True)
class NumpyMLP:
    """The classifier's forward pass in numpy (inference only: dropout is the identity there): Linear layers
    (weight (out, in), bias (out,), float32) with ReLU between, exactly CandidateMLP's layers and weights.
    (B, F) standardised features -> (B, 5) class logits; equal to torch's up to float rounding (test_lesions)."""

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = np.asarray(x, np.float32)
        for i, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if i < len(self.layers) - 1:
                np.maximum(h, 0.0, out=h)
        return h

    def state_dict(self) -> dict[str, np.ndarray]:
        """The weights under CandidateMLP's state_dict names (what :func:`save_model` writes)."""
        keys = _layer_keys(len(self.layers) - 1)
        return {k: a for (kw, kb), (w, b) in zip(keys, self.layers) for k, a in ((kw, w), (kb, b))}

    @classmethod
    def from_state(cls, state: dict[str, Any], n_features: int, hidden: Sequence[int]) -> "NumpyMLP":
        """From a CandidateMLP state_dict (numpy arrays or torch tensors); raises ValueError when the names or
        shapes do not fit (n_features, hidden)."""
        keys = _layer_keys(len(hidden))
        widths = [int(n_features), *(int(h) for h in hidden), N_CLASSES]
        want = {k for pair in keys for k in pair}
        if set(state) != want:
            missing, extra = sorted(want - set(state)), sorted(set(state) - want)
            raise ValueError(f"missing keys {missing[:4]}, unexpected keys {extra[:4]}")
        layers = []
        for (kw, kb), w_in, w_out in zip(keys, widths[:-1], widths[1:]):
            w, b = (np.asarray(state[k].numpy() if hasattr(state[k], "numpy") else state[k]) for k in (kw, kb))
            if w.shape != (w_out, w_in) or b.shape != (w_out,):
                raise ValueError(f"{kw} of shape {tuple(w.shape)} / {kb} of shape {tuple(b.shape)}, want "
                                 f"({w_out}, {w_in}) / ({w_out},)")
            layers.append((np.ascontiguousarray(w, np.float32), np.ascontiguousarray(b, np.float32)))
        return cls(tuple(layers))


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class LesionModel:
    """A trained candidate classifier with its feature standardisation and settings. net: the MLP, a
    :class:`NumpyMLP` (loaded by :func:`load_model`) or a torch ``CandidateMLP`` (just trained); either way
    inference runs in numpy (:meth:`numpy_net`)."""

    net: Any
    mean: np.ndarray  # (F,)
    std: np.ndarray  # (F,)
    config: ClassifierConfig
    feature_names: tuple[str, ...] = BASE_FEATURE_NAMES
    threshold_hu: float = 130.0
    min_area_mm2: float = 1.0
    info: dict = field(default_factory=dict)
    # a seed ensemble's other members (net, mean, std): the same data and settings trained with other seeds;
    # predict_proba averages the members' probabilities. Why: three trainings of one recipe put 0.69-0.82 of the
    # 0002 hybrids' calcium on the right vessel (docs/model_card.md, "Session 25 (lead, development)")
    extra: tuple[tuple[NumpyMLP, np.ndarray, np.ndarray], ...] = ()

    def members(self) -> list[tuple[NumpyMLP, np.ndarray, np.ndarray]]:
        """(net, feature mean, feature std) of every member: this model's own first, then ``extra``."""
        return [(self.numpy_net(), self.mean, self.std), *self.extra]

    def predict_proba(self, features: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
        """(n, F) features -> (n, 5) class probabilities (float32). The MLP is asked only about the rows within
        reach (:meth:`reachable`) and, when given, ``where`` ((n,) bool); the others read non-coronary (1, 0, ...)."""
        f = own_columns(features, self.feature_names)
        if f.ndim != 2 or f.shape[1] != len(self.feature_names):
            raise LesionError(f"features must be (n, {len(self.feature_names)}), got shape {f.shape}")
        if f.shape[0] == 0:
            return np.zeros((0, N_CLASSES), np.float32)
        out = np.zeros((f.shape[0], N_CLASSES), np.float32)
        out[:, 0] = 1.0
        near = self.reachable(f)
        if where is not None:
            near &= np.asarray(where, bool)
        if near.any():
            # an anatomical part not found (nan) reads as the training mean
            x = self._capped(f[near])
            m = self.members()
            out[near] = sum(_softmax(net(np.nan_to_num((x - mu) / sd, nan=0.0))) for net, mu, sd in m) / len(m)
        return out

    def _capped(self, f: np.ndarray) -> np.ndarray:
        """``f`` with mean_hu / peak_hu clipped at config.density_cap_hu (a copy; ``f`` itself when no cap)."""
        return cap_density(f, self.feature_names, self.config.density_cap_hu)

    def numpy_net(self) -> NumpyMLP:
        """The MLP as :class:`NumpyMLP` (a torch CandidateMLP's current weights are copied)."""
        if isinstance(self.net, NumpyMLP):
            return self.net
        return NumpyMLP.from_state({k: v.detach().cpu() for k, v in self.net.state_dict().items()},
                                   len(self.feature_names), self.config.hidden)

    def reachable(self, table: np.ndarray) -> np.ndarray:
        """(n,) bool: rows of this model's input table within max_distance_mm of the heart centre and in the
        coronary z range (the only candidates the MLP is asked about)."""
        t = np.asarray(table, np.float32)
        return (t[:, self.feature_names.index("dist_mm")] <= self.config.max_distance_mm) & self.in_coronary_z_range(t)

    def in_coronary_z_range(self, features: np.ndarray) -> np.ndarray:
        """(n,) bool: dz_mm within the coronary training candidates' range +- config.z_margin_mm (all True for
        a model saved without that range, or with z_margin_mm None)."""
        f = np.asarray(features)
        zr, m = self.info.get("coronary_dz_mm"), self.config.z_margin_mm
        if zr is None or m is None:
            return np.ones(f.shape[0], bool)
        dz = f[:, self.feature_names.index("dz_mm")]
        return (dz >= float(zr[0]) - m) & (dz <= float(zr[1]) + m)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(n, F) features -> (n,) classes 0..4."""
        return np.argmax(self.predict_proba(features), axis=1).astype(np.int64)

    def table(self, features: np.ndarray, anatomy_columns: np.ndarray | None = None) -> np.ndarray:
        """This model's (n, F) input from a candidate feature table: ``features`` itself when it already has the
        model's columns, else :func:`feature_table` of the (n, len(FEATURE_NAMES)) candidate features and their
        anatomy columns."""
        f = np.asarray(features, np.float32)
        if self.feature_names == FEATURE_NAMES or f.ndim != 2 or f.shape[1] != len(FEATURE_NAMES):
            return f
        return feature_table(f, anatomy_columns, self.feature_names)

    def classify(self, features: np.ndarray, outside_thorax_mm: np.ndarray | None,
                 anatomy_columns: np.ndarray | None = None, structure: np.ndarray | None = None,
                 agatston: np.ndarray | None = None, noise_sd: float | None = None,
                 ring_hu: np.ndarray | None = None, scan_floor_mm: np.ndarray | None = None) -> np.ndarray:
        """(n,) classes 0..4 of candidates as the product assigns them: :meth:`predict`, then the chest-wall rule
        (config.thorax_margin_mm) on their ``Candidates.outside_thorax_mm``, then the anatomy rules
        (config.anatomy_rules, :func:`cacscore.lesion.anatomy.anatomy_verdicts`) on their
        ``Candidates.anatomy_columns``; None: no such rule; then, with ``structure`` (``Candidates.structure``) and
        config.structure_vote, the vessel vote of each 3-D structure (:func:`cacscore.lesion.tree.vote_by_structure`:
        moves calcium between the arteries only; config.vote_weight "agatston" weighs each candidate by its Agatston,
        config.structure_split_p first cuts a structure the MLP surely calls two vessels into one part per vessel,
        :func:`cacscore.lesion.tree.split_structures`, and the vote, guard and join read the parts) and, with config.structure_left_main, the left-main guard
        (:func:`cacscore.lesion.tree.guard_left_main`, weighted by ``agatston``, ``Candidates.agatston``; None: read
        from the log_agatston column when the model has it, else each candidate counts once), the join, with
        config.structure_veto the Agatston-weighted veto (:func:`cacscore.lesion.tree.veto_structure`), and with
        config.keep_confident_p the MLP's own sure calls restored (:func:`cacscore.lesion.tree.keep_confident`); last, with
        config.noise_floor_k, ``structure`` and ``noise_sd`` (the scan's noise sd, HU; :func:`classify_volume` estimates
        it), the noise floor (:func:`cacscore.lesion.noise.noise_floor`), then with config.noise_floor_mean_k the
        density floor (:func:`cacscore.lesion.noise.noise_floor_mean`). ``features``: the
        candidate features (``Candidates.features``) or this model's input table (:meth:`table`). ``ring_hu``: (n,)
        :func:`cacscore.lesion.context.ring_soft_hu` of the candidates (:func:`ring_hu_column`), which the ring veto
        reads with config.structure_ring_veto_hu (required then). ``scan_floor_mm``: (n,) each candidate's height above
        the scan's lowest slice when the diaphragm lies below the scan (:func:`scan_floor_column`), which the ring veto
        reads in place of the nan above_diaphragm_mm with config.structure_ring_veto_floor; None: not known."""
        table = self.table(features, anatomy_columns)
        may = self.may_be_coronary(table, outside_thorax_mm, anatomy_columns)
        proba = self.predict_proba(table, where=may)  # the MLP is asked only about candidates no rule has decided
        classes = np.argmax(proba, axis=1).astype(np.int64)
        vote = structure is not None and self.config.structure_vote
        # the weights of the Agatston vote, the guard, the veto and the ring veto: computed once, where one of them runs
        au = self._agatston(table, agatston) if vote or self.config.structure_ring_veto is not None else None
        if vote:  # (assign_vessels cuts its own copy of the structures with structure_split_p; later steps read them whole)
            classes = self.assign_vessels(proba, may, structure, au, table)
        if self.config.structure_ring_veto is not None:
            classes = self._ring_veto(classes, features, anatomy_columns, structure, au, ring_hu, proba[:, 0],
                                      scan_floor_mm)
        classes = self._mac_ring(classes, features)
        if self.config.needs_noise and structure is not None and noise_sd is not None:
            classes = self._noise_floors(classes, features, table, structure, float(noise_sd))
        return classes

    def _noise_floors(self, classes: np.ndarray, features: np.ndarray, table: np.ndarray, structure: np.ndarray,
                      noise_sd: float) -> np.ndarray:
        """The peak floor (config.noise_floor_k), then the density floor (config.noise_floor_mean_k), each when on;
        both read the candidates' areas, taken once."""
        cfg = self.config
        area = np.expm1(self._column(features, table, "log_area_mm2"))
        if cfg.noise_floor_k is not None:
            classes = noise_floor(classes, structure, self._column(features, table, "peak_hu"), area, noise_sd,
                                  k=float(cfg.noise_floor_k), max_area_mm2=cfg.noise_floor_area_mm2,
                                  base_hu=cfg.noise_floor_base_hu)
        if cfg.noise_floor_mean_k is not None:
            classes = noise_floor_mean(classes, structure, self._column(features, table, "mean_hu"), area, noise_sd,
                                       k=float(cfg.noise_floor_mean_k), max_area_mm2=cfg.noise_floor_mean_area_mm2,
                                       base_hu=cfg.noise_floor_base_hu)
        return classes

    def _column(self, features: np.ndarray, table: np.ndarray, name: str) -> np.ndarray:
        """Column ``name`` of the candidates: from the full candidate table (FEATURE_NAMES) when ``features`` is one,
        else from this model's input table; LesionError when neither holds it."""
        f = np.asarray(features)
        if f.ndim == 2 and f.shape[1] == len(FEATURE_NAMES):
            return f[:, FEATURE_NAMES.index(name)].astype(np.float64)
        if name in self.feature_names:
            return np.asarray(table, np.float64)[:, self.feature_names.index(name)]
        raise LesionError(f"the noise floor needs the {name} column, which this model's input lacks")

    def assign_vessels(self, proba: np.ndarray, may: np.ndarray, structure: np.ndarray, agatston: np.ndarray,
                       table: np.ndarray) -> np.ndarray:
        """(n,) classes from the MLP's (n, 5) ``proba`` along the 3-D structures: what :meth:`classify` does after
        the MLP and the rules when config.structure_vote is on (the structure split, vote, left-main keep and guard,
        join, veto, largest-member veto, keep_confident, in that order). may: (n,) :meth:`may_be_coronary`; agatston: (n,) each
        candidate's Agatston (the weights of the Agatston vote, the guard and the veto); table: this model's (n, F)
        input (:meth:`table`; the structure split reads its positions). One door, so that a bench can replay it
        from stored probabilities (bench/bifurcation_calls.py)."""
        classes = np.argmax(proba, axis=1).astype(np.int64)
        au = np.asarray(agatston, np.float64)
        if self.config.structure_split_p is not None:  # parts per sure vessel; vote, guard and join read them
            structure = split_structures(classes, proba, structure, float(self.config.structure_split_p),
                                         self._positions(table))
        voted = vote_by_structure(classes, proba, structure, au if self.config.vote_weight == "agatston" else None)
        if self.config.left_main_keep:
            voted = keep_left_main(classes, voted)
        if self.config.structure_left_main:
            voted = guard_left_main(classes, voted, proba, structure, au)
        out = voted
        if self.config.structure_join:
            out = join_structure(out, proba, structure, may)
        if self.config.structure_veto:
            out = veto_structure(out, proba, structure, au)
        if self.config.structure_veto_largest is not None:
            out = veto_by_largest(out, proba, structure, au, may, float(self.config.structure_veto_largest))
        if self.config.keep_confident_p is not None:
            out = keep_confident(classes, out, proba, float(self.config.keep_confident_p))
        return out

    def _ring_veto(self, classes: np.ndarray, features: np.ndarray, anatomy_columns: np.ndarray | None,
                   structure: np.ndarray | None, au: np.ndarray, ring_hu: np.ndarray | None = None,
                   p_non: np.ndarray | None = None, scan_floor_mm: np.ndarray | None = None) -> np.ndarray:
        """config.structure_ring_veto on the final classes (:func:`cacscore.lesion.tree.soft_veto_structure`). It
        reads ring_soft from the full candidate table (``Candidates.features``) and above_diaphragm_mm from the anatomy
        columns; without either it raises (switched on, it must not silently do nothing). No structure: each candidate
        is its own. ``p_non``: (n,) the MLP's non-coronary probability, which config.structure_ring_veto_unsure reads
        (required then)."""
        f = np.asarray(features)
        if f.ndim != 2 or f.shape[1] != len(FEATURE_NAMES) or anatomy_columns is None:
            raise LesionError("structure_ring_veto needs the full candidate table (Candidates.features) and the "
                              "anatomy columns (Candidates.anatomy_columns)")
        a = np.asarray(anatomy_columns, np.float64).reshape(len(f), len(ANATOMY_NAMES))
        s = np.arange(len(f)) if structure is None else structure
        t_ring, t_dia = self.config.structure_ring_veto
        t_hu = self.config.structure_ring_veto_hu
        if t_hu is not None and (ring_hu is None or np.shape(ring_hu) != (len(f),)):
            raise LesionError("structure_ring_veto_hu needs ring_hu, (n,) ring_soft_hu of the candidates "
                              "(classify_volume computes it: ring_hu_column)")
        deep = self.config.structure_ring_veto_deep
        low_fat = self.config.structure_ring_veto_low_fat
        long = self.config.structure_ring_veto_long
        unsure = self.config.structure_ring_veto_unsure
        if unsure is not None and (p_non is None or np.shape(p_non) != (len(f),)):
            raise LesionError("structure_ring_veto_unsure needs p_non, (n,) the MLP's non-coronary probability")
        ring = f[:, FEATURE_NAMES.index("ring_soft")]
        depth = a[:, ANATOMY_NAMES.index("pericardium_mm")]
        height = a[:, ANATOMY_NAMES.index("above_diaphragm_mm")]
        if self.config.structure_ring_veto_floor and scan_floor_mm is not None:
            height = np.where(np.isnan(height), np.asarray(scan_floor_mm, np.float64), height)
        out = soft_veto_structure(classes, s, ring, height, au, t_ring, t_dia,
                                  ring_hu=ring_hu if t_hu is not None else None, min_ring_hu=t_hu,
                                  depth_mm=depth if deep is not None else None, deep=deep,
                                  inner_fat=f[:, FEATURE_NAMES.index("inner_fat")] if low_fat is not None else None,
                                  low_inner_fat=low_fat,
                                  length_mm=f[:, FEATURE_NAMES.index("struct_length_mm")] if long is not None else None,
                                  long=long, p_non=p_non if unsure is not None else None, min_p_non=unsure)
        return self._ring_core(out, s, ring, depth, au, ring_hu)

    def _ring_core(self, classes: np.ndarray, s: np.ndarray, ring: np.ndarray, depth: np.ndarray, au: np.ndarray,
                   ring_hu: np.ndarray | None) -> np.ndarray:
        """config.structure_ring_veto_core after the ring veto (off: ``classes`` as they are): the same
        :func:`cacscore.lesion.tree.soft_veto_structure` once more on the calls left, with the ring conditions of the
        veto (structure_ring_veto's ring limit and the deep tier), the ring-HU limit lowered to core[1], and, in place
        of the height, the depth: the weighted mean of -pericardium_mm above -core[0] is the weighted pericardium_mm
        below core[0] (the mean is linear; nan members do not count, a structure with no finite depth is left). A
        structure the first pass vetoed has no calls left, so the second sees only the others, with their means
        unchanged."""
        core = self.config.structure_ring_veto_core
        if core is None:
            return classes
        t_ring = self.config.structure_ring_veto[0]
        deep = self.config.structure_ring_veto_deep
        return soft_veto_structure(classes, s, ring, -depth, au, t_ring, -float(core[0]), ring_hu=ring_hu,
                                   min_ring_hu=float(core[1]), depth_mm=depth if deep is not None else None,
                                   deep=deep)

    def _mac_ring(self, classes: np.ndarray, features: np.ndarray) -> np.ndarray:
        """AnatomyRules.mac_ring_soft on the final classes (off by default): it reads ring_soft from the full
        candidate table; a table without it (a model's own narrower input) leaves the classes as they are."""
        rules = self.rules
        f = np.asarray(features)
        if rules.mac_ring_soft is None or not self.config.anatomy_rules or f.ndim != 2:
            return classes
        names = FEATURE_NAMES if f.shape[1] == len(FEATURE_NAMES) else self.feature_names
        if "ring_soft" not in names or f.shape[1] != len(names):
            return classes
        out = classes.copy()
        out[mac_ring_verdict(classes, f[:, names.index("ring_soft")], rules)] = 0
        return out

    @property
    def rules(self) -> AnatomyRules:
        """The anatomy rules this model applies (with config.anatomy_rules): the defaults, AnatomyRules(); a model
        records no rule settings of its own. The one place both :meth:`may_be_coronary` (the verdicts) and the
        final MAC-ring step read them, so the two cannot drift apart."""
        return AnatomyRules()

    def _positions(self, table: np.ndarray) -> np.ndarray | None:
        """(n, 3) mm position of each candidate relative to the heart reference (dz, dy, dx columns), or None when
        the model's input lacks one of them (split_structures then reads the probabilities alone)."""
        names = ("dz_mm", "dy_mm", "dx_mm")
        if not all(n in self.feature_names for n in names):
            return None
        t = np.asarray(table, np.float64)
        return t[:, [self.feature_names.index(n) for n in names]]

    def _agatston(self, table: np.ndarray, agatston: np.ndarray | None) -> np.ndarray:
        if agatston is not None:
            return np.asarray(agatston, np.float64)
        if "log_agatston" in self.feature_names:
            return np.expm1(np.asarray(table, np.float64)[:, self.feature_names.index("log_agatston")])
        return np.ones(len(table))

    def may_be_coronary(self, features: np.ndarray, outside_thorax_mm: np.ndarray | None,
                        anatomy_columns: np.ndarray | None = None) -> np.ndarray:
        """(n,) bool: candidates no rule calls non-coronary (near the heart centre, in the coronary z range, not
        beyond the chest-wall margin, no anatomy verdict); only these can get a class other than 0 from
        :meth:`classify`. Reads no tissue-context column (find_candidates' ``context_where`` relies on that).
        ``features``: the candidate features or this model's input table, as for :meth:`classify`."""
        ok = self.reachable(self.table(features, anatomy_columns))
        margin = self.config.thorax_margin_mm
        if margin is not None and outside_thorax_mm is not None:
            ok &= ~(np.asarray(outside_thorax_mm) > margin)  # nan (no lungs found) compares False: no rule
        if self.config.anatomy_rules and anatomy_columns is not None:
            ok &= ~anatomy_verdicts(anatomy_columns, self.rules).any(axis=1)
        return ok


def au_class_weights(targets: np.ndarray, log_agatston: np.ndarray, power: float) -> np.ndarray:
    """(n,) float32 per-candidate training weights: 1 for non-coronary candidates (class 0); within each coronary
    class, (1 + Agatston) ** power (Agatston = expm1(log_agatston), the candidate feature) divided by its mean over
    the class, so each class keeps its total weight and only the plaques within it are weighed by size."""
    y = np.asarray(targets, np.int64)
    a = np.expm1(np.clip(np.asarray(log_agatston, np.float64), 0.0, None))
    w = np.ones(len(y), np.float64)
    for k in np.unique(y[y > 0]):
        m = y == k
        v = (1.0 + a[m]) ** float(power)
        w[m] = v / v.mean()
    return w.astype(np.float32)


def train_classifier(features: np.ndarray, targets: np.ndarray, *, config: ClassifierConfig = ClassifierConfig(),
                     sample_weight: np.ndarray | None = None, threshold_hu: float = 130.0,
                     min_area_mm2: float = 1.0) -> LesionModel:
    """Train the MLP on (n, F) features - the columns config.feature_names, in order (:func:`feature_table`) -
    and (n,) classes 0..4 (cross-entropy with class weights, AdamW, cosine learning rate). Anatomy columns may be
    nan (a part not found); the candidate features must be finite. sample_weight: optional (n,) extra
    per-candidate weight."""
    names = config.feature_names
    f = own_columns(features, names)
    y = np.asarray(targets, np.int64)
    if f.ndim != 2 or f.shape[1] != len(names) or y.shape != (f.shape[0],):
        raise LesionError(f"need features (n, {len(names)}) and targets (n,), got {f.shape} and {y.shape}")
    plain = [j for j, n in enumerate(names) if n in FEATURE_NAMES]
    if f.shape[0] == 0 or not np.isfinite(f[:, plain]).all() or np.isinf(f).any():
        raise LesionError("training features are empty or hold NaN/inf")
    if y.min() < 0 or y.max() >= N_CLASSES:
        raise LesionError(f"targets must be 0..{N_CLASSES - 1}")
    sw = np.ones(len(y), np.float32) if sample_weight is None else np.asarray(sample_weight, np.float32)
    near = f[:, names.index("dist_mm")] <= config.max_distance_mm
    n_far_coronary = int((y[~near] > 0).sum())
    if n_far_coronary:
        log.warning("%d coronary training candidates lie more than %g mm from the found heart centre and are dropped "
                    "(lesion-train --max-distance-mm)", n_far_coronary, config.max_distance_mm)
    f, y, sw = f[near], y[near], sw[near]
    if len(y) == 0:
        raise LesionError(f"no training candidate within {config.max_distance_mm:g} mm of the found heart centre "
                          f"(lesion-train --max-distance-mm)")
    density = coronary_density_hu(f, y, names)  # measured before the cap: what the training data holds
    f = cap_density(f, names, config.density_cap_hu)  # trained on what predict_proba will ask about
    if np.isnan(f).any():
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a column all nan (a part never found): mean 0, std 1
            mean = np.nan_to_num(np.nanmean(f, 0)).astype(np.float32)
            std = np.nan_to_num(np.nanstd(f, 0))
    else:  # the candidate features alone: exactly as before anatomy columns existed (the same model, bit for bit)
        mean, std = f.mean(0), f.std(0)
    std = np.where(std > 1e-6, std, 1.0).astype(np.float32)
    counts = np.bincount(y, minlength=N_CLASSES).astype(np.float64)
    cw = np.where(counts > 0, (len(y) / np.maximum(counts, 1)) ** config.class_weight_power, 0.0)
    cw = cw / (cw[counts > 0].mean())
    cw[1] *= config.lca_weight
    if config.au_weight_power:
        if "log_agatston" not in names:
            raise LesionError("au_weight_power needs the log_agatston column among the features")
        sw = sw * au_class_weights(y, f[:, names.index("log_agatston")], config.au_weight_power)
    from cacscore.lesion.torch_mlp import fit_mlp

    net, last = fit_mlp(np.nan_to_num((f - mean) / std, nan=0.0), y, (cw[y] * sw).astype(np.float32), config)
    cor = y > 0
    info = {"n_train": len(y), "n_far_coronary_dropped": n_far_coronary, "class_counts": counts.astype(int).tolist(),
            "final_loss": last,
            "coronary_dz_mm": [float(f[cor, names.index("dz_mm")].min()), float(f[cor, names.index("dz_mm")].max())]
            if cor.any() else None, "coronary_density_hu": density}
    return LesionModel(net, mean.astype(np.float32), std, config, names, float(threshold_hu),
                       float(min_area_mm2), info)


def save_model(model: LesionModel, out_dir: str | Path) -> Path:
    """Write ``model.safetensors`` (weights, mean, std) and ``model.json`` (config, feature names,
    Agatston settings) into ``out_dir`` atomically; returns out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from safetensors.numpy import save_file

    # written from numpy (no torch needed): the same names, dtypes and values as safetensors.torch wrote
    tensors = {}
    for i, (net, mean, std) in enumerate(model.members()):
        pre = "" if i == 0 else f"member{i}."  # the first member under the names a single model has always had
        tensors.update({f"{pre}net.{k}": np.ascontiguousarray(v) for k, v in net.state_dict().items()})
        tensors[f"{pre}feature_mean"] = np.ascontiguousarray(mean, np.float32)
        tensors[f"{pre}feature_std"] = np.ascontiguousarray(std, np.float32)
    with atomic_path(out / "model.safetensors") as tmp:
        save_file(tensors, str(tmp))
    cfg = {"kind": "cacscore.lesions.CandidateMLP", "version": 1, "config": asdict(model.config),
           "feature_names": list(model.feature_names), "class_names": list(CLASS_NAMES),
           "threshold_hu": model.threshold_hu, "min_area_mm2": model.min_area_mm2, "info": model.info}
    if model.extra:
        cfg["members"] = 1 + len(model.extra)
    atomic_write_text(out / "model.json", json.dumps(cfg, indent=2) + "\n")
    return out


def load_model(model_dir: str | Path) -> LesionModel:
    """Read a model written by :func:`save_model` (safetensors only; nothing is unpickled).

    Raises LesionError naming the file and the problem: a missing file, model.json that is not JSON, not a
    JSON object or not a lesion classifier's, weights that are not a readable safetensors file, hold NaN/inf
    (``cacscore.core.fileio.load_safetensors``), lack a tensor or do not fit the config.
    """
    d = Path(model_dir)
    jpath, wpath = d / "model.json", d / "model.safetensors"
    for p in (jpath, wpath):
        if not p.is_file():
            raise LesionError(f"{p}: missing (a lesion model folder holds model.json and model.safetensors)")
    try:
        cfg = read_json_object(jpath, what="a lesion classifier")
    except JsonFileError as exc:
        raise LesionError(str(exc)) from None
    if cfg.get("kind") != "cacscore.lesions.CandidateMLP":
        raise LesionError(f"{jpath}: not a lesion classifier (kind {cfg.get('kind')!r})")
    try:
        names = check_feature_names(cfg["feature_names"], str(jpath))
        c = dict(cfg["config"])
        c["hidden"] = tuple(c["hidden"])
        # models saved before the feature list was a setting hold FEATURE_NAMES and no "features"
        c["features"] = c.get("features") or (None if names == BASE_FEATURE_NAMES else names)
        config = ClassifierConfig.from_dict(c)
        if config.feature_names != names:
            raise LesionError(f"{jpath}: config features and feature_names differ")
        threshold_hu, min_area_mm2 = float(cfg["threshold_hu"]), float(cfg["min_area_mm2"])
        info = dict(cfg.get("info") or {})
    except LesionError:
        raise
    except KeyError as e:
        raise LesionError(f"{jpath}: broken lesion classifier config (no {e})") from None
    except (TypeError, ValueError) as e:
        raise LesionError(f"{jpath}: broken lesion classifier config ({' '.join(str(e).split())})") from None
    try:
        tensors = load_safetensors(wpath, numpy=True)  # names the file: garbage, truncated, NaN/inf weights
    except WeightsFileError as e:
        raise LesionError(str(e)) from None
    n = cfg.get("members", 1)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise LesionError(f"{jpath}: members must be a positive integer, got {n!r}")
    prefixes = ["" if i == 0 else f"member{i}." for i in range(n)]  # the first member under a single model's names
    members = [_load_member(tensors, pre, wpath, names, config) for pre in prefixes]
    stray = sorted(k for k in tensors if not any(k.startswith(f"{pre}net.") or k in (f"{pre}feature_mean",
                                                                                    f"{pre}feature_std")
                                                 for pre in prefixes))
    if stray:
        raise LesionError(f"{wpath}: tensors {stray[:3]} beyond the {n} member(s) model.json names")
    (net, mean, std), extra = members[0], tuple(members[1:])
    return LesionModel(net, mean, std, config, names, threshold_hu, min_area_mm2, info, extra)


def _load_member(tensors: dict, pre: str, wpath: Path, names: tuple[str, ...],
                 config: ClassifierConfig) -> tuple[NumpyMLP, np.ndarray, np.ndarray]:
    """One member's (net, mean, std) from the tensors named ``pre`` + net.* / feature_mean / feature_std."""
    for key in (f"{pre}feature_mean", f"{pre}feature_std"):
        if key not in tensors:
            raise LesionError(f"{wpath}: no tensor {key!r} (not weights written by lesion-train)")
    state = {k[len(pre) + len("net."):]: v for k, v in tensors.items() if k.startswith(f"{pre}net.")}
    try:
        net = NumpyMLP.from_state(state, len(names), config.hidden)
    except ValueError as e:
        raise LesionError(f"{wpath}: weights do not fit the config ({' '.join(str(e).split())[:300]})") from None
    mean, std = tensors[f"{pre}feature_mean"], tensors[f"{pre}feature_std"]
    if mean.shape != (len(names),) or std.shape != (len(names),):
        raise LesionError(f"{wpath}: weights do not fit the config ({pre}feature_mean / feature_std of shape "
                          f"{tuple(mean.shape)} / {tuple(std.shape)}, want ({len(names)},))")
    return net, mean, std


def ensemble(models: Sequence[LesionModel]) -> LesionModel:
    """One model whose probabilities are the mean of ``models``' (a seed ensemble: the same features, settings and
    Agatston threshold, trained with other seeds; the first model's config and info, the members' info under
    info["members"]). Raises LesionError when the models do not fit together."""
    if not models:
        raise LesionError("an ensemble needs at least one model")
    first = models[0]
    base = {k: v for k, v in asdict(first.config).items() if k != "seed"}
    for k, m in enumerate(models[1:], start=2):
        mine = {key: v for key, v in asdict(m.config).items() if key != "seed"}
        diff = sorted(key for key in base if base[key] != mine.get(key))
        if diff or m.feature_names != first.feature_names or (m.threshold_hu, m.min_area_mm2) != \
                (first.threshold_hu, first.min_area_mm2):
            raise LesionError(f"model {k} of the ensemble differs from the first in {', '.join(diff[:4]) or 'its features'}"
                              " (members must share every setting but the seed)")
    members = [mm for m in models for mm in m.members()]
    info = {**first.info, "members": [m.info for m in models]}
    return replace(first, net=members[0][0], mean=members[0][1], std=members[0][2], info=info,
                   extra=tuple(members[1:]))


def anatomical_candidates(hu: np.ndarray, spacing_mm: Sequence[float], *, threshold_hu: float = 130.0,
                          min_area_mm2: float = 1.0, heart_index: Sequence[float] | None = None,
                          context_where: Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray] | None = None,
                          reference: str = "finder", chest_sac: str = "s18",
                          frame_sac: str | None = None, chest_root: str = "s22") -> Candidates:
    """The candidates of a (z, y, x) HU volume placed in its chest anatomy (``read_chest``): anatomy columns, and,
    unless heart_index is given, the heart reference of :func:`cacscore.lesion.anatomy.heart_reference`. The same
    for training (lesion-train) and scoring (:func:`classify_volume`) of every model whose config
    ``needs_anatomy`` (:func:`framed_candidates`). reference: ClassifierConfig.reference, passed to heart_reference.
    chest_sac: ClassifierConfig.chest_sac, the chest reader's sac settings (cacscore.chest.anatomy.SAC_VERSIONS);
    frame_sac: ClassifierConfig.frame_sac, the sac the heart reference is read with (None: the same; the mask is found
    a second time in the one read, ChestAnatomy.framed). chest_root: ClassifierConfig.chest_root (ROOT_VERSIONS)."""
    hu, sp = check_hu(hu, spacing_mm)
    framing = sac_options(frame_sac) if heart_index is None and frame_sac is not None else None
    anatomy = read_chest(hu, sp, sac=sac_options(chest_sac), frame_sac=framing, root_options=root_options(chest_root))
    heart = hull = lungs = None
    peri = pericardium_distance(anatomy)  # heart_reference and the columns share it
    framed = anatomy.framed()
    framed_peri = peri if framed is anatomy else pericardium_distance(framed)
    if heart_index is None:
        # one lung mask for the heart finder and the chest-wall hull, as find_candidates shares it when it finds
        # the heart itself (with heart_index given it would compute the hull's lung mask again)
        lungs = lung_field(hu, sp)
        found = locate_heart(hu, sp, lungs=lungs)
        hull = thorax_hull(hu, sp, lungs=lungs if lungs_shareable(hu, lungs, sp) else None)
        heart_index, source = heart_reference(framed, found.index, found.found, pericardium=framed_peri,
                                              reference=reference)
        if source == FINDER_ABOVE_MASK:
            anatomy, source = without_pericardium(anatomy, source), "heart finder"
        heart = found if source == "heart finder" else HeartFinding(
            heart_index, source == "pericardium centroid",
            "" if source == "pericardium centroid" else found.reason)
    cand = find_candidates(hu, sp, threshold_hu=threshold_hu, min_area_mm2=min_area_mm2, heart_index=heart_index,
                           hull=hull, anatomy=anatomy, lungs=lungs, pericardium=peri,
                           context_where=context_where)
    return cand if heart is None else dataclasses.replace(cand, heart=heart)


def needs_anatomy(model: LesionModel) -> bool:
    """``model.config.needs_anatomy`` (:attr:`ClassifierConfig.needs_anatomy`)."""
    return model.config.needs_anatomy


def framed_candidates(hu: np.ndarray, spacing_mm: Sequence[float], config: ClassifierConfig, *,
                      threshold_hu: float = 130.0, min_area_mm2: float = 1.0,
                      heart_index: Sequence[float] | None = None,
                      context_where: Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray] | None = None,
                      ) -> Candidates:
    """The candidates of a (z, y, x) HU volume as a model of ``config`` reads them: placed in the chest anatomy
    (:func:`anatomical_candidates`) when ``config.needs_anatomy``, else ``find_candidates`` alone. The one door for
    training (:func:`cacscore.lesion.train._extract`) and scoring (:func:`classify_volume`), so a model is trained
    on features measured exactly as it is later asked about (issue 16; before session 13 training placed them with
    ``find_candidates``' own heart finder while scoring used ``heart_reference``: 37.5 mm apart on LIDC-IDRI-0001).
    context_where: None in training (every candidate's tissue context), ``LesionModel.may_be_coronary`` in scoring
    (the other candidates' context columns 0; their class cannot change)."""
    if config.needs_anatomy:
        return anatomical_candidates(hu, spacing_mm, threshold_hu=threshold_hu, min_area_mm2=min_area_mm2,
                                     heart_index=heart_index, context_where=context_where, reference=config.reference,
                                     chest_sac=config.chest_sac, frame_sac=config.frame_sac,
                                     chest_root=config.chest_root)
    return find_candidates(hu, spacing_mm, threshold_hu=threshold_hu, min_area_mm2=min_area_mm2,
                           heart_index=heart_index, context_where=context_where)


def classify_volume(hu: np.ndarray, spacing_mm: Sequence[float], model: LesionModel, *,
                    heart_index: Sequence[float] | None = None,
                    noise_sd: float | None = None) -> tuple[Candidates, np.ndarray]:
    """The candidates of a (z, y, x) HU volume (with the model's Agatston settings) and each one's class
    (0 non-coronary, 1..4 = LCA, LAD, LCX, RCA). spacing_mm: (z, y, x) mm. noise_sd: the image's noise sd (HU) when
    the caller has it (:func:`cacscore.lesion.noise.image_noise_hu`), else estimated here if the model needs it."""
    hu, sp = check_hu(hu, spacing_mm)
    # context features only where the classifier's answer counts (model.may_be_coronary: near the heart, in its z
    # range, inside the chest wall, not ruled out by anatomy): identical classes; on LIDC-IDRI-0002 the context of
    # 190 of its 10,199 candidates instead of the 1,715 within max_distance_mm
    cand = framed_candidates(hu, sp, model.config, threshold_hu=model.threshold_hu, min_area_mm2=model.min_area_mm2,
                             heart_index=heart_index, context_where=model.may_be_coronary)
    # the noise floor's noise sd, from the image itself (ClassifierConfig.noise_floor_k; about 0.3 s at 512 px)
    noise = None
    if model.config.needs_noise:
        noise = image_noise_hu(hu, sp) if noise_sd is None else float(noise_sd)
    return cand, model.classify(cand.features, cand.outside_thorax_mm, cand.anatomy_columns, cand.structure,
                                cand.agatston, noise_sd=noise, ring_hu=ring_hu_column(hu, cand, model),
                                scan_floor_mm=scan_floor_column(cand, model))


def scan_floor_column(cand: Candidates, model: LesionModel) -> np.ndarray | None:
    """(n,) each candidate's height (mm) above the scan's lowest slice (z index 0, the chest reader's bottom) when
    config.structure_ring_veto_floor is on and the chest reader found the diaphragm below the scan
    (chest.anatomy.DIAPHRAGM_BELOW_SCAN); None otherwise. A candidate is one lesion in one axial slice, so its slice
    is the z of its voxels."""
    a = cand.anatomy
    if not model.config.structure_ring_veto_floor or a is None or a.parts["diaphragm"].reason != DIAPHRAGM_BELOW_SCAN:
        return None
    boxes = ndimage.find_objects(cand.ids, max_label=cand.n)
    return np.array([np.nan if b is None else b[0].start for b in boxes], np.float64) * float(cand.spacing_mm[0])


def ring_hu_column(hu: np.ndarray, cand: Candidates, model: LesionModel) -> np.ndarray | None:
    """(n,) :func:`cacscore.lesion.context.ring_soft_hu` of the candidates the MLP is asked about
    (``model.may_be_coronary``; the others nan), what the ring veto reads with config.structure_ring_veto_hu; None
    when that is off (nothing computed)."""
    if model.config.structure_ring_veto_hu is None:
        return None
    table = model.table(cand.features, cand.anatomy_columns)
    may = model.may_be_coronary(table, cand.outside_thorax_mm, cand.anatomy_columns)
    return ring_soft_hu(hu, cand.ids, cand.spacing_mm, may)


def vessel_labels(hu: np.ndarray, cand: Candidates, classes: np.ndarray, model: LesionModel) -> np.ndarray:
    """(z, y, x) uint8 vessel label of every candidate voxel, what the scorer's ``agatston`` reads: each candidate's
    class (``assign_labels``), with config.voxel_split the large left-coronary candidates labelled piece by piece
    (:func:`cacscore.lesion.split.split_labels`, positions from ``cand.heart_index`` as the features were)."""
    c = model.config
    if not c.voxel_split:
        return assign_labels(cand.ids, classes)
    settings = c.split
    return split_labels(cand.ids, hu, classes, cand.features, cand.heart_index, cand.spacing_mm, model.threshold_hu,
                        lambda f, parent: model.predict_proba(model.table(
                            f, None if cand.anatomy_columns is None else cand.anatomy_columns[parent])), settings)


def score_volume(hu: np.ndarray, spacing_mm: Sequence[float], model: LesionModel, *,
                 heart_index: Sequence[float] | None = None) -> dict[str, float]:
    """Per-vessel Agatston of a (z, y, x) HU volume: candidates -> classes -> cacscore.scoring.agatston.agatston.

    spacing_mm: (z, y, x) mm. Returns {"LCA", "LAD", "LCX", "RCA", "total"} in Agatston units (slice
    factor = slice spacing / 3 mm, the project's convention).
    """
    cand, classes = classify_volume(hu, spacing_mm, model, heart_index=heart_index)
    return score_assignment(hu, cand, classes, labels=vessel_labels(hu, cand, classes, model))
