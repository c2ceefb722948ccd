"""Voxel-level vessel split of large left-coronary candidates (issue 16).

The scorer gives each candidate (one lesion in one axial slice) one class. The reference (``cacscore.scoring.agatston``,
``_split_by_vessel``) counts a lesion whose voxels carry several vessel labels as one lesion per vessel, each with its
own peak. At the left-main bifurcation one axial lesion often spans the left main, the LAD and the LCX: a whole-
candidate oracle (each candidate its true class) reaches a 4-vessel MSE ratio vs the constant of only 8.4 (phantom v8
seed 9401) and 13.9 (seed 9101); the voxel oracle (each voxel its true vessel) 110 and 35 (docs/lesion_scorer.md,
"Voxel-level vessel split").

What this does, with no truth: a candidate the classifier called a left-coronary artery (LCA, LAD or LCX) whose area
is at least ``SplitSettings.min_area_mm2`` is cut into pieces of about ``piece_mm2`` each (k-means on the voxels'
in-plane mm coordinates: compact pieces, the shape a small candidate at that place has); each piece is described with
the candidate features a candidate of exactly those voxels would get (position from the heart reference, area, HU,
Agatston, extents, fill; the 3-D structure and tissue-context columns stay the parent's) and asked to the same MLP;
it takes its most probable left-coronary vessel. The voxels carry their piece's vessel, and ``agatston`` then counts
one lesion per vessel as the reference does. The calcium's total is unchanged up to the per-lesion peak weights.

Why k-means rather than a skeleton: the candidates are 2-D blobs of a few to ~100 pixels, mostly round plaques
painted over two or three centrelines; a skeleton of a round blob is a point or a short line with spurs, while
compact pieces give the MLP what it was trained on (small candidates at a position).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.cluster.vq import kmeans2

from cacscore.lesion.candidates import FEATURE_NAMES, LesionError, assign_labels, voxel_group_columns

_F = {n: i for i, n in enumerate(FEATURE_NAMES)}
POSITION = ("dz_mm", "dy_mm", "dx_mm", "r_inplane_mm", "dist_mm", "cos_inplane", "sin_inplane")
PIECE_COLUMNS = ("all", "position")
METHODS = ("kmeans", "axis")
LEFT = (1, 2, 3)
"""The left-coronary classes (LCA, LAD, LCX): the arteries that meet at the left-main bifurcation."""


@dataclass(frozen=True)
class SplitSettings:
    """min_area_mm2: candidates called LCA / LAD / LCX at least this large are cut; piece_mm2: the target area of one
    piece (pieces = round(area / piece_mm2), at least 2, at most max_pieces); min_left_p: below."""

    min_area_mm2: float = 10.0
    piece_mm2: float = 5.0
    max_pieces: int = 8
    # a piece whose summed LCA + LAD + LCX probability is below this keeps the candidate's class: the MLP does not
    # read it as left coronary, so its argmax among the three is noise
    min_left_p: float = 0.0
    # "all": a piece's position and size columns are its own; "position": only its position columns (area, HU,
    # Agatston, extents, fill stay the whole candidate's, so the MLP sees the lesion it called, moved to the piece)
    piece_columns: str = "all"
    # >= 1: every large left candidate is cut. Below 1: only those the MLP is unsure of as a whole (its largest vessel
    # probability, renormalised over the four vessels, below this) or whose class the vote / guard / join changed
    # from the MLP's own call: a lesion across a fork should look mixed to the MLP, a plaque on one artery should not
    max_parent_p: float = 1.0
    # session 14 (wt22d), the guard that keeps a left-main plaque whole: after the pieces' calls, the pieces of one
    # vessel form one part; a part of less than min_part_mm2 takes the candidate's own class; then the candidate is
    # kept whole (its own class) unless at least two vessels remain AND (own_part) one of them is its own class. A
    # plaque on one artery whose small pieces all read as another artery (LIDC-IDRI-0002 hybrid seed 7: an 872 AU left-
    # main plaque cut into 8 mm2 pieces each called LCX) is not split; a plaque across the fork keeps its own call
    # on one side and gives the other side's part the branch. 0 / False: no guard (session 13's split)
    min_part_mm2: float = 0.0
    own_part: bool = False
    # the cut: "kmeans" (compact pieces, session 13) or "axis" (slabs across the candidate's principal in-plane axis,
    # equal lengths: a lesion across a fork is elongated along the arteries it spans)
    method: str = "kmeans"
    # session 17 (wt25b), opt-in: a piece takes the left-coronary vessel of the nearest "anchor" instead of its own
    # MLP call: another candidate called coronary whose own MLP call is LCA / LAD / LCX with probability >= anchor_p
    # (3-D distance of the dz / dy / dx columns, piece centroid to candidate centroid; the cut candidate itself is no
    # anchor). None: off (the pieces' own calls, as before). Why: a piece is read by the MLP as a small candidate at
    # that place, and at the bifurcation the pieces of a large LAD slice were called LCX wholesale (phantom v11 seed
    # 13901 patient 32: 572 + 388 AU LAD slices cut into LCX pieces; seed 14001 patient 20: 286 AU), while the
    # confident calls of the neighbouring slices, one 5 mm slice up or down the same artery, are right
    # (docs/lesion_scorer.md "(session 17, wt25b)")
    anchor_p: float | None = None
    # the anchors farther than this from a piece do not count (mm); no anchor within reach: the piece's own call
    anchor_mm: float = 20.0
    # the cut candidate itself an anchor too (at its centroid) when its own MLP call is sure: its pieces then leave its
    # call only where another sure call lies nearer (a left main alone in its slice keeps its call)
    anchor_self: bool = False
    # with anchor_self: the least probability of its own call (LCA / LAD / LCX) at which the cut candidate anchors its
    # own pieces; None: anchor_p (only a sure call, as any other anchor); 0: whatever its own call's probability
    anchor_self_p: float | None = None
    # session 18 (wt26c), opt-in, with the anchor rule: the left main is short (5-15 mm in the anatomy texts; the v11
    # phantom's median 16, p90 24 mm) and beyond the fork nothing is left main, but a sure LCA call anchors every piece
    # within anchor_mm (20 mm) and claims the first 5-9 mm of the branches, whose pieces read LAD / LCX themselves
    # (phantom v11 seed 14821 patient 22: a 187 AU LAD candidate claimed whole by a 66 AU LCA call in the same slice;
    # seed 14502 patient 33: a 603 AU LAD slice 5 mm above a sure LCA call). lca_reach_mm: an LCA anchor (another
    # candidate's or the cut candidate's own) claims only pieces within this (mm); None: anchor_mm (as before).
    # lca_agree: a piece takes LCA from an anchor only when its own MLP call (argmax of LCA / LAD / LCX) is LCA too.
    # A piece an LCA anchor may not claim takes what lca_denied says (docs/lesion_scorer.md "(session 18, wt26c)")
    lca_reach_mm: float | None = None
    lca_agree: bool = False
    # what a piece that lca_reach_mm / lca_agree keeps from an LCA anchor takes: "anchor" (the nearest other anchor
    # within anchor_mm, else its own call) or "class" (its candidate's class when that is LAD / LCX: the structure
    # vote's reading of the whole 3-D plaque; else as "anchor")
    lca_denied: str = "anchor"
    # session 18 (wt26c), opt-in: the length of the left main (mm). A piece called LCA (by its own call or an anchor)
    # farther than this (3-D) from the left main's origin (the patient-right-most LCA piece or sure whole-LCA call) is
    # beyond the fork and takes its candidate's class if LAD / LCX, else its more probable branch
    # (:func:`left_main_length`). None: off
    lca_len_mm: float | None = None
    # session 19 (wt27d), opt-in: the branch paths. Near the fork the pieces' own calls and the anchors read position
    # only, and the LAD's first millimetres lie where the LCX's do (phantom v11 seed 14504 patient 14: a 10-slice
    # column of 1.25 mm slices above the fork, LAD in the reference, called LCX / LCA). Here a piece of a cut
    # candidate called LAD / LCX within branch_mm (3-D) of the left main (the pieces called LCA of the candidates the
    # MLP surely calls LCA as a whole, p >= anchor_p or 0.95) takes the branch whose course it lies on: per branch,
    # the shortest path from that branch's calls farther than branch_mm from the left main to the left main, over a
    # graph of the pieces and uncut left candidates (touching ones joined at their centroid distance, others within
    # branch_gap_mm at branch_gap_cost times it: calcium has gaps); the piece takes the branch whose path it lies
    # nearer (the detour d_B + d_LM - D_B, mm) when the other's is longer by more than branch_margin_mm
    # (:func:`branch_paths`; docs/lesion_scorer.md "(session 19, wt27d)"). None: off
    branch_mm: float | None = None
    branch_gap_mm: float = 20.0
    branch_gap_cost: float = 4.0
    branch_margin_mm: float = 2.0
    # with branch_mm: a piece called LCA whose candidate is neither classed LCA nor surely called LCA as a whole (so no
    # part of the left main) is decided by the branch paths too (both detours within the margin: it stays LCA)
    branch_lca: bool = False
    # with branch_mm: pieces nearer the left main than this along the graph (d_LM, mm) are left as they are: at the
    # fork itself both paths pass within a few mm and the detours do not tell the branches apart (14502 p33)
    branch_min_mm: float = 10.0
    # session 21 (wt29a), opt-in, with the anchor rule: a piece whose own MLP call (argmax of LCA / LAD / LCX) is one
    # of anchor_keep_vessels with probability >= anchor_keep_p keeps that call against the anchors (another vessel's
    # anchor, or its own candidate's with anchor_self). Why: the anchor rule was made for the branches beyond the fork,
    # where the MLP reads a piece by position and the LAD's and the LCX's first millimetres lie side by side (session
    # 17); the left main is the trunk before the fork, and a sure LCA call of a piece there is not that confusion. At a
    # heavily calcified fork a large plaque read LAD as a whole (a sure LAD anchor, itself or its neighbour slice) took
    # its own pieces the MLP calls LCA at p 0.91-1.0 (phantom v11 seed 14509 patient 57: 807 AU left main -> 0).
    # None: off. The left-main limits (lca_len_mm) still apply to the pieces so kept
    anchor_keep_p: float | None = None
    anchor_keep_vessels: tuple[int, ...] = (1,)
    # with anchor_keep_p: keep a piece's sure own call only where no anchor of that vessel lies within anchor_mm of it:
    # where a sure LCA call lies near, the left main is among the anchors and the anchor rule (with the left-main limits)
    # decides as before; where none does, the anchors are all branch calls and can only erase the left main. On dev
    # (docs/lesion_scorer.md "(session 21, wt29a)") the pieces kept in spite of a near LCA anchor were the wrong ones
    # (seed 14510 p2: an LCX piece read LCA 0.98 beside a sure LCX anchor; 14501 p45: three LAD pieces read LCA 1.0)
    anchor_keep_unanchored: bool = False
    # session 23 (wt31b), opt-in, with the anchor rule: a cut candidate whose own MLP call as a whole (argmax of its
    # four vessel probabilities) is LCA with p >= lca_self_p, with no sure LCA call within anchor_mm of it and not itself
    # a sure self anchor (anchor_self), keeps as LCA its pieces that lie farther than lca_self_mm (3-D) from every sure
    # branch (LAD / LCX) call of the patient (and, with lca_agree, whose own call is LCA); its other pieces go to the
    # anchors as before. Why: where the patient has no sure left-main call, the anchors near the fork are all branch
    # calls and the anchor rule hands every piece of a slice blob across the fork to the LAD / LCX (phantom v11 seed
    # 14517 patient 38: a 728 AU blob, labels LCA 135 / LCX 121 voxels, MLP LCA 0.71 as a whole, classed LAD by the
    # structure vote; its left-main pieces lie 10.9-14.0 mm from the nearest sure branch call, its LCX pieces 5.1-8.1 mm
    # from a sure LCX call one slice down: 516 AU of left main -> 0; docs/lesion_scorer.md "(session 23, wt31b)"). The
    # MLP's piece calls alone do not separate them (there every piece, LAD voxels too, reads LCA). A blob the MLP reads
    # as a branch as a whole is not touched (the converse case 14867 p28, an LAD top slice read LAD 0.96 whose pieces
    # read LCA). None: off. lca_len_mm still limits the pieces it keeps
    lca_self_p: float | None = None
    lca_self_mm: float = 10.0
    # session 24 (wt32c), opt-in, with the anchor rule: the trunk before the fork. The left main leaves the aorta's left
    # sinus towards the patient's left and the LAD and LCX leave its fork further left still, so a left-coronary piece
    # within lca_right_reach_mm (3-D) of a sure LCA call (anchor_p; the cut candidate's own too) and more than
    # lca_right_mm to the patient's right of it (dx) lies between the aorta and that call: it takes LCA, whatever the
    # anchors and its own call said. Why: at a heavily calcified fork the MLP reads the left main's first millimetres
    # as LAD by position (phantom v11 seed 14523 patient 1: the pieces 7-16 mm right of the sure LCA call, all left
    # main in the reference, own calls LAD 0.7-1.0, and a 32 AU left-main candidate there a sure LAD call 1.00 that
    # anchors them; 716 AU of left main called 429). None: off. Applied after lca_len_mm, before branch_mm
    # (docs/lesion_scorer.md "(session 24, wt32c)")
    lca_right_mm: float | None = None
    lca_right_reach_mm: float = 15.0
    # with lca_right_mm: the pieces it moves to LCA count for lca_len_mm's origin (applied before lca_len_mm)
    lca_right_origin: bool = False

    def __post_init__(self) -> None:
        if not (self.min_area_mm2 > 0 and self.piece_mm2 > 0 and self.max_pieces >= 2 and self.min_part_mm2 >= 0) or \
                self.piece_columns not in PIECE_COLUMNS or self.method not in METHODS or \
                not (self.anchor_p is None or 0 < float(self.anchor_p) <= 1) or not self.anchor_mm > 0 or \
                not (self.anchor_self_p is None or 0 <= float(self.anchor_self_p) <= 1) or \
                not (self.lca_reach_mm is None or float(self.lca_reach_mm) > 0) or \
                not (self.lca_len_mm is None or float(self.lca_len_mm) > 0) or \
                self.lca_denied not in ("anchor", "class") or \
                not (self.branch_mm is None or float(self.branch_mm) > 0) or not self.branch_gap_mm >= 0 or \
                not self.branch_gap_cost >= 1 or not self.branch_margin_mm >= 0 or not self.branch_min_mm >= 0 or \
                not (self.anchor_keep_p is None or 0 < float(self.anchor_keep_p) <= 1) or \
                not set(self.anchor_keep_vessels) <= set(LEFT) or \
                not (self.lca_self_p is None or 0 < float(self.lca_self_p) <= 1) or not self.lca_self_mm >= 0 or \
                not (self.lca_right_mm is None or float(self.lca_right_mm) >= 0) or not self.lca_right_reach_mm > 0:
            raise ValueError(f"bad split settings: {self!r}")

    @property
    def guarded(self) -> bool:
        return self.min_part_mm2 > 0 or self.own_part

    def n_pieces(self, area_mm2: float) -> int:
        return int(np.clip(round(area_mm2 / self.piece_mm2), 2, self.max_pieces))


def piece_features(parent: np.ndarray, zyx: np.ndarray, hu: np.ndarray, heart_index: Sequence[float],
                   spacing_mm: Sequence[float], threshold_hu: float, columns: str = "all") -> np.ndarray:
    """(len(FEATURE_NAMES),) float32: the candidate features of a piece of one candidate, ``zyx`` ((k, 3) int voxel
    indices, one slice) with HU ``hu`` ((k,)): the position and size columns computed as
    ``cacscore.lesion.candidates.find_candidates`` computes them for a candidate of these voxels; the 3-D structure
    and tissue-context columns are the parent's (``parent``: its feature row); columns "position": only the position
    columns are the piece's."""
    return pieces_features(parent, zyx, hu, np.zeros(len(zyx), np.int64), 1, heart_index, spacing_mm, threshold_hu,
                           columns)[0]


def pieces_features(parent: np.ndarray, zyx: np.ndarray, hu: np.ndarray, piece: np.ndarray, n: int,
                    heart_index: Sequence[float], spacing_mm: Sequence[float], threshold_hu: float,
                    columns: str = "all") -> np.ndarray:
    """(n, len(FEATURE_NAMES)) float32: :func:`piece_features` of the n pieces ``piece`` ((k,) 0..n-1) of one
    candidate's voxels at once (``cacscore.lesion.candidates.voxel_group_columns``, find_candidates' own columns)."""
    own = voxel_group_columns(zyx, hu, piece, n, heart_index, spacing_mm, threshold_hu)
    rows = np.repeat(np.asarray(parent, np.float64)[None, :], n, axis=0)
    for k, v in own.items():
        if columns == "all" or k in POSITION:
            rows[:, _F[k]] = v
    return rows.astype(np.float32)


def cut(yx_mm: np.ndarray, k: int) -> np.ndarray:
    """(n,) piece index 0..k-1 of each in-plane point ((n, 2) mm): k-means with k-means++ seeding from a fixed seed
    (the same pieces for the same candidate on every run); a cluster left empty simply yields fewer pieces."""
    if len(yx_mm) <= k:
        return np.arange(len(yx_mm))
    _, lab = kmeans2(np.asarray(yx_mm, np.float64), k, minit="++", seed=np.random.default_rng(0))
    return lab


def cut_axis(yx_mm: np.ndarray, k: int) -> np.ndarray:
    """(n,) piece index 0..k-1 of each in-plane point ((n, 2) mm): k slabs of equal length across the points' principal
    axis (the first right singular vector of the centred points; a round blob gets an arbitrary but fixed axis)."""
    p = np.asarray(yx_mm, np.float64)
    if len(p) <= k:
        return np.arange(len(p))
    c = p - p.mean(0)
    axis = np.linalg.svd(c, full_matrices=False)[2][0]
    t = c @ axis
    edges = np.linspace(t.min(), t.max(), k + 1)[1:-1]
    return np.searchsorted(edges, t, side="right")


def guard_parts(vessel_of_voxel: np.ndarray, own: int, px_area_mm2: float, settings: SplitSettings) -> np.ndarray:
    """(k,) the vessels of one candidate's voxels after the guard (SplitSettings.min_part_mm2 / own_part): parts (the
    voxels of one vessel) below min_part_mm2 take ``own`` (the candidate's class); then all voxels take ``own`` unless
    two or more vessels remain and, with own_part, ``own`` is one of them."""
    v = np.asarray(vessel_of_voxel, np.int64).copy()
    if not settings.guarded:
        return v
    names, counts = np.unique(v, return_counts=True)
    small = names[(counts * px_area_mm2 < settings.min_part_mm2 * (1 - 1e-9)) & (names != own)]
    v[np.isin(v, small)] = own
    left = np.unique(v)
    if len(left) < 2 or (settings.own_part and own not in left):
        v[:] = own
    return v


ANCHOR_COLUMNS = ("dz_mm", "dy_mm", "dx_mm")
"""The position columns the anchor rule measures distances in (mm from the heart reference)."""


def left_calls(proba: np.ndarray, min_p: float) -> tuple[np.ndarray, np.ndarray]:
    """(call, sure): each candidate's own MLP call (argmax of ``proba[:, 1:5]``, 1..4) and whether it is a
    left-coronary vessel (LCA / LAD / LCX) with probability >= min_p. proba: (n, 5)."""
    p = np.asarray(proba, np.float64)
    call = 1 + np.argmax(p[:, 1:5], axis=1)
    return call, np.isin(call, LEFT) & (p[np.arange(len(p)), call] >= float(min_p))


def sure_left_calls(proba: np.ndarray, classes: np.ndarray, min_p: float) -> tuple[np.ndarray, np.ndarray]:
    """(indices, vessels) of the candidates called coronary (``classes`` > 0) whose own MLP call is a sure
    left-coronary one (:func:`left_calls`): the anchors of :class:`SplitSettings.anchor_p`. proba: (n, 5); classes:
    (n,) after the vote."""
    call, sure = left_calls(proba, min_p)
    idx = np.flatnonzero(sure & (np.asarray(classes) > 0))
    return idx, call[idx]


def nearest_anchor(points: np.ndarray, anchor_points: np.ndarray, anchor_vessels: np.ndarray, fallback: np.ndarray,
                   reach_mm: float, lca_reach_mm: float | None = None, lca_ok: np.ndarray | None = None) -> np.ndarray:
    """(k,) the vessel of the anchor nearest each of k points ((k, 3) mm; anchors (m, 3) with (m,) vessels), or the
    point's ``fallback`` vessel where no anchor lies within ``reach_mm``. Among the anchors a point may take (session
    18, SplitSettings.lca_reach_mm / lca_agree): an LCA anchor (vessel 1) counts only within ``lca_reach_mm`` (None:
    reach_mm) and only for the points where ``lca_ok`` ((k,) bool; None: all) holds; the nearest of the others then."""
    out = np.asarray(fallback, np.int64).copy()
    if len(anchor_points) == 0 or len(points) == 0:
        return out
    d = np.linalg.norm(np.asarray(points, np.float64)[:, None, :] - np.asarray(anchor_points)[None, :, :], axis=2)
    lca = np.asarray(anchor_vessels) == 1
    if lca_reach_mm is not None:
        d[:, lca] = np.where(d[:, lca] <= lca_reach_mm, d[:, lca], np.inf)
    if lca_ok is not None:
        d[np.ix_(~np.asarray(lca_ok, bool), lca)] = np.inf
    j = np.argmin(d, axis=1)
    near = d[np.arange(len(out)), j] <= reach_mm
    out[near] = np.asarray(anchor_vessels)[j[near]]
    return out


def lca_self_applies(settings: SplitSettings, proba: np.ndarray, position_mm: np.ndarray,
                    lca_anchors_mm: np.ndarray) -> bool:
    """Whether a cut candidate keeps its pieces far from the branch calls LCA (SplitSettings.lca_self_p): its own MLP call as a whole
    (argmax of ``proba[1:5]``, proba (5,)) is LCA with p >= lca_self_p and no sure LCA call (``lca_anchors_mm``, (m,
    3) dz / dy / dx) lies within anchor_mm of its centroid (``position_mm``, (3,))."""
    if settings.lca_self_p is None:
        return False
    p = np.asarray(proba, np.float64)
    if int(np.argmax(p[1:5])) != 0 or p[1] < float(settings.lca_self_p):
        return False
    d = np.linalg.norm(np.asarray(lca_anchors_mm, np.float64).reshape(-1, 3) - np.asarray(position_mm, np.float64),
                       axis=1)
    return not bool((d <= settings.anchor_mm).any())


def right_of_lca(points_mm: np.ndarray, lca_mm: np.ndarray, settings: SplitSettings) -> np.ndarray:
    """(k,) bool, SplitSettings.lca_right_mm: which of k points ((k, 3) dz / dy / dx mm) lie within lca_right_reach_mm
    (3-D) of one of the sure LCA calls ``lca_mm`` ((m, 3)) and more than lca_right_mm to the patient's right of it (dx
    smaller: the dx column grows to the patient's left)."""
    pts = np.asarray(points_mm, np.float64).reshape(-1, 3)
    lca = np.asarray(lca_mm, np.float64).reshape(-1, 3)
    if len(lca) == 0 or len(pts) == 0:
        return np.zeros(len(pts), bool)
    d = np.linalg.norm(pts[:, None, :] - lca[None, :, :], axis=2)
    right = pts[:, None, 2] < lca[None, :, 2] - float(settings.lca_right_mm)
    return ((d <= settings.lca_right_reach_mm) & right).any(1)


def split_labels(ids: np.ndarray, hu: np.ndarray, classes: np.ndarray, features: np.ndarray,
                 heart_index: Sequence[float], spacing_mm: Sequence[float], threshold_hu: float,
                 proba: Callable[[np.ndarray, np.ndarray], np.ndarray], settings: SplitSettings = SplitSettings()) -> np.ndarray:
    """(z, y, x) uint8 label volume: ``assign_labels(ids, classes)`` with every large left-coronary candidate's voxels
    relabelled piece by piece (module doc). proba: ((m, len(FEATURE_NAMES)) candidate features of m pieces, (m,) the
    0-based candidate each piece comes from) -> (m, 5) class probabilities (the model's ``predict_proba`` of its
    table; the parent index lets a model that reads anatomy columns use the parent's). A piece keeps the candidate's class when the MLP
    gives it no left-coronary probability (out of the model's reach) or less than ``settings.min_left_p``."""
    ids = np.asarray(ids)
    cl = np.asarray(classes, np.int64)
    f = np.asarray(features, np.float32)
    if f.shape != (len(cl), len(FEATURE_NAMES)):
        raise LesionError(f"split_labels: features {f.shape} do not fit {len(cl)} candidates")
    labels = assign_labels(ids, cl)
    py, px = float(spacing_mm[1]), float(spacing_mm[2])
    area = np.expm1(f[:, _F["log_area_mm2"]])
    todo = np.flatnonzero(np.isin(cl, LEFT) & (area >= settings.min_area_mm2 * (1 - 1e-6)))
    if len(todo) == 0:
        return labels
    at = np.flatnonzero(np.isin(ids.reshape(-1), todo + 1))  # one pass over the volume for every cut candidate
    zyx_all = np.stack(np.unravel_index(at, ids.shape), 1)
    cid_all = ids.reshape(-1)[at] - 1
    order = np.argsort(cid_all, kind="stable")
    zyx_all, cid_all = zyx_all[order], cid_all[order]
    bounds = np.searchsorted(cid_all, np.append(todo, np.iinfo(np.int64).max))
    anchors = anchor_positions = anchor_vessel = every = None
    at = [_F[k] for k in ANCHOR_COLUMNS]  # the anchor rule's position columns
    if settings.anchor_p is not None:
        every = np.asarray(proba(f, np.arange(len(cl))), np.float64)
        anchors, anchor_vessel = sure_left_calls(every, cl, float(settings.anchor_p))
        anchor_positions = f[anchors][:, at].astype(np.float64)
        self_p = settings.anchor_p if settings.anchor_self_p is None else settings.anchor_self_p
        own_call, own_sure = left_calls(every, float(self_p))
    if settings.max_parent_p < 1:
        own = np.asarray(proba(f[todo], todo), np.float64)[:, 1:5]
        share = own.max(1) / np.maximum(own.sum(1), 1e-12)
        unsure = (share < settings.max_parent_p) | (1 + np.argmax(own, 1) != cl[todo])
    else:
        unsure = np.ones(len(todo), bool)
    done = []  # per cut candidate: (index, voxels, piece of each voxel, piece positions, piece probabilities, vessels)
    for j, c in enumerate(todo):
        if not unsure[j]:
            continue
        zyx = zyx_all[bounds[j]:bounds[j + 1]]
        vals = hu[zyx[:, 0], zyx[:, 1], zyx[:, 2]].astype(np.float64)
        cutter = cut_axis if settings.method == "axis" else cut
        piece = cutter(zyx[:, 1:] * np.array([py, px]), settings.n_pieces(len(zyx) * py * px))
        names, piece = np.unique(piece, return_inverse=True)
        rows = pieces_features(f[c], zyx, vals, piece, len(names), heart_index, spacing_mm, threshold_hu,
                               settings.piece_columns)
        p = np.asarray(proba(rows, np.full(len(rows), c)), np.float64)[:, list(LEFT)]
        left = p.sum(1)
        own_piece = np.array(LEFT)[np.argmax(p, 1)]  # each piece's own MLP call among LCA / LAD / LCX
        vessel = np.where((left > 0) & (left >= settings.min_left_p), own_piece, cl[c])
        pos = rows[:, at].astype(np.float64)  # the pieces' anchor-rule positions (dz / dy / dx mm)
        if anchors is not None:
            others = anchors != c
            pts, ves = anchor_positions[others], anchor_vessel[others]
            if settings.anchor_self and own_sure[c]:  # the candidate itself, at its centroid, with its own call
                pts = np.vstack([pts, f[c, at].astype(np.float64)[None]])
                ves = np.append(ves, own_call[c])
            limited = nearest_anchor(pos, pts, ves, vessel, settings.anchor_mm,
                                     settings.lca_reach_mm, (own_piece == 1) if settings.lca_agree else None)
            if settings.lca_denied == "class" and int(cl[c]) in (2, 3):  # the pieces an LCA anchor was denied
                free = nearest_anchor(pos, pts, ves, vessel, settings.anchor_mm)
                limited = np.where((free == 1) & (limited != 1), int(cl[c]), limited)
            if settings.anchor_keep_p is not None:  # the pieces' sure own calls the anchors may not change
                sure = p[np.arange(len(p)), own_piece - 1] >= float(settings.anchor_keep_p)
                keep = sure & np.isin(own_piece, settings.anchor_keep_vessels) & (vessel == own_piece)
                if settings.anchor_keep_unanchored and len(pts):  # only where no anchor of its own call is in reach
                    d = np.linalg.norm(pos[:, None, :] - pts[None, :, :], axis=2)
                    keep &= ~((d <= settings.anchor_mm) & (ves[None, :] == own_piece[:, None])).any(1)
                limited = np.where(keep, own_piece, limited)
            if not (settings.anchor_self and own_sure[c]) and \
                    lca_self_applies(settings, every[c], f[c, at], anchor_positions[anchor_vessel == 1]):
                branch = pts[np.isin(ves, (2, 3))]  # the sure branch calls (the cut candidate's own is no LCA one)
                far = np.full(len(pos), True) if len(branch) == 0 else \
                    np.linalg.norm(pos[:, None, :] - branch[None], axis=2).min(1) > settings.lca_self_mm
                if settings.lca_agree:
                    far &= own_piece == 1
                limited = np.where(far, 1, limited)
            if settings.lca_right_mm is not None and settings.lca_right_origin:
                limited = np.where(right_of_lca(pos, anchor_positions[anchor_vessel == 1], settings), 1, limited)
            vessel = limited
        done.append((c, zyx, piece, pos, p, vessel))
    if settings.lca_len_mm is not None and done:
        # the whole (uncut) candidates of class LCA that may mark the origin: only the MLP's sure LCA calls (as the
        # anchors: own call LCA with p >= anchor_p, 0.95 without the anchor rule), so that a sub-AU noise speck called
        # LCA at p 0.58 does not become the origin (phantom v11 seed 14822 patient 30, 9 mm right of the left main)
        sure_p = 0.95 if settings.anchor_p is None else float(settings.anchor_p)
        if every is None:
            every = np.asarray(proba(f, np.arange(len(cl))), np.float64)
        call, sure = left_calls(every, sure_p)
        whole = np.flatnonzero((cl == 1) & (call == 1) & sure)
        whole = whole[~np.isin(whole, [d[0] for d in done])]
        done = left_main_length(done, f[whole][:, at].astype(np.float64), cl, settings.lca_len_mm)
    if settings.lca_right_mm is not None and not settings.lca_right_origin and anchors is not None and done:
        # after lca_len_mm: the left main's origin stays where the calls put it (taken from the pieces moved here, it
        # moved 7-12 mm to the right and cut the far end of the left main off by lca_len: phantom v11 seed 14517
        # patient 42: one sure left-main slice, 121 of its 139 left-main voxels LCA -> 99)
        lca_mm = anchor_positions[anchor_vessel == 1]
        done = [(c, zyx, piece, pos, p, np.where(right_of_lca(pos, lca_mm, settings), 1, vessel))
                for c, zyx, piece, pos, p, vessel in done]
    if settings.branch_mm is not None and done:
        if every is None:
            every = np.asarray(proba(f, np.arange(len(cl))), np.float64)
        call, sure = left_calls(every, 0.95 if settings.anchor_p is None else float(settings.anchor_p))
        done = branch_paths(done, ids, cl, f[:, at].astype(np.float64), settings, lca=(call == 1) & sure)
    for c, zyx, piece, _, _, vessel in done:
        voxel_vessel = guard_parts(vessel[piece], int(cl[c]), py * px, settings)
        labels[zyx[:, 0], zyx[:, 1], zyx[:, 2]] = voxel_vessel.astype(np.uint8)
    return labels


def left_main_length(done: list, whole_lca_mm: np.ndarray, classes: np.ndarray, length_mm: float) -> list:
    """SplitSettings.lca_len_mm on the cut candidates' pieces: ``done`` holds per cut candidate (index, voxels, piece of
    each voxel, (k, 3) piece positions in mm (dz, dy, dx), (k, 3) the pieces' LCA / LAD / LCX probabilities, (k,) their
    vessels so far). The left main's origin is taken as the LCA-called point (a piece called LCA, or a whole candidate
    of class 1 that was not cut and that the MLP surely calls LCA: ``whole_lca_mm``, (m, 3)) farthest to the patient's
    right (least dx): the left main leaves the aorta's left sinus towards the patient's left, and the fork and both
    branches lie to the left of it. A piece called LCA farther than ``length_mm`` (3-D) from that origin is beyond the
    fork: it takes its candidate's class when that is LAD or LCX (the structure vote's reading of the whole 3-D plaque),
    else its own more probable of LAD / LCX. Returns ``done`` with the vessels changed."""
    pts = [d[3][d[5] == 1] for d in done] + [np.asarray(whole_lca_mm, np.float64).reshape(-1, 3)]
    pts = np.vstack(pts)
    if len(pts) == 0:
        return done
    origin = pts[np.argmin(pts[:, 2])]
    out = []
    for c, zyx, piece, pos, p, vessel in done:
        far = (vessel == 1) & (np.linalg.norm(pos - origin, axis=1) > length_mm)
        if far.any():
            vessel = vessel.copy()
            branch = np.where(p[:, 1] >= p[:, 2], 2, 3)
            vessel[far] = int(classes[c]) if int(classes[c]) in (2, 3) else branch[far]
        out.append((c, zyx, piece, pos, p, vessel))
    return out


_DEBUG: list | None = None  # bench/diagnosis hook: branch_paths appends its units and detours when a list

_TOUCH = [(dz, dy, dx) for dz in (0, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dz, dy, dx) > (0, 0, 0)]
"""The half 26-neighbourhood: two units touch when a voxel of one lies at one of these offsets from a voxel of the
other (same slice: 8-neighbours; the next slice: the 9 voxels over it)."""


def _units_box(done: list, ids: np.ndarray, whole: list) -> tuple[slice, slice, slice]:
    """The (z, y, x) slices of the smallest box holding the voxels of the cut candidates (``done``) and of the
    candidates ``whole`` (0-based indices into ``ids``, 1-based)."""
    lo = np.array(ids.shape)
    hi = np.zeros(3, np.int64)
    for d in done:
        lo, hi = np.minimum(lo, d[1].min(0)), np.maximum(hi, d[1].max(0) + 1)
    if whole:
        boxes = ndimage.find_objects(ids, max_label=int(max(whole)) + 1)
        for i in whole:
            if boxes[i] is not None:
                lo = np.minimum(lo, [b.start for b in boxes[i]])
                hi = np.maximum(hi, [b.stop for b in boxes[i]])
    return tuple(slice(int(a), int(max(a, b))) for a, b in zip(lo, hi))


def branch_paths(done: list, ids: np.ndarray, classes: np.ndarray, positions_mm: np.ndarray, settings: SplitSettings,
                 lca: np.ndarray | None = None) -> list:
    """SplitSettings.branch_mm on the cut candidates' pieces (``done`` as :func:`left_main_length` reads it; ids: the
    candidate id volume, 1-based; classes: (n,) the candidates' classes; positions_mm: (n, 3) their dz / dy / dx
    centroids). The units: every piece of a cut candidate (its vessel so far) and every uncut candidate of class LCA /
    LAD / LCX (its class). The left main: the LCA-labelled units of the candidates ``lca`` ((n,) bool; None: those
    classed LCA) marks; none: nothing changes. A unit farther than branch_mm from
    every LCA unit is a branch's course (its vessel, LAD or LCX). Graph: two units that touch (26-neighbourhood of
    their voxels) are joined at their centroid distance, two within branch_gap_mm at branch_gap_cost times it (calcium
    has gaps between plaques). d_B: the shortest distance from branch B's course units, d_LM from the LCA units, D_B
    = min(d_B + d_LM) the length of B's path to the left main. A piece called LAD / LCX within branch_mm of the left
    main and at least branch_min_mm from it along the graph (d_LM) takes the branch B of the smaller detour d_B + d_LM
    - D_B when the other branch's detour is larger by more than branch_margin_mm (with branch_lca also a piece called
    LCA outside the left main); a branch with no course units or no path: nothing changes."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    cut = {int(d[0]) for d in done}
    lca_ok = np.asarray(classes) == 1 if lca is None else np.asarray(lca, bool)
    whole = [i for i in np.flatnonzero(np.isin(classes, LEFT)) if int(i) not in cut]
    # every unit voxel lies in one box: the unit volume and the touch test work there, not on the whole scan (on a
    # 272 x 512 x 512 scan, phantom v11 seed 14504 patient 14, 2.8 s per call on the whole volume, 0.25 s in the box)
    box = _units_box(done, ids, whole)
    origin = np.array([b.start for b in box])
    units_vessel, units_pos, units_class = [], [], []
    unit = np.zeros(tuple(b.stop - b.start for b in box), np.int64)  # unit id + 1 per voxel of the box
    for c, zyx, piece, pos, _, vessel in done:
        first = len(units_vessel)
        at = zyx - origin
        unit[at[:, 0], at[:, 1], at[:, 2]] = first + 1 + piece
        units_vessel.extend(int(v) for v in vessel)
        units_pos.extend(pos)
        units_class.extend([int(lca_ok[c])] * len(vessel))
    if whole:
        ids_box = ids[box]
        at = np.isin(ids_box, np.asarray(whole) + 1)
        lut = np.zeros(len(classes) + 1, np.int64)
        lut[np.asarray(whole) + 1] = len(units_vessel) + 1 + np.arange(len(whole))
        unit[at] = lut[ids_box[at]]
        units_vessel.extend(int(classes[i]) for i in whole)
        units_pos.extend(positions_mm[whole])
        units_class.extend(int(lca_ok[i]) for i in whole)
    v = np.asarray(units_vessel, np.int64)
    pts = np.asarray(units_pos, np.float64).reshape(-1, 3)
    n = len(v)
    # the left main: the LCA-labelled units of the candidates ``lca`` marks (split_labels: those the MLP surely calls
    # LCA as a whole; default: those classed LCA). A piece called LCA in a candidate read as LAD / LCX is no evidence
    # of where the left main runs (14504 p14's LAD column above the fork: pieces called LCA in candidates the MLP calls
    # LAD 1.00), nor is a speck classed LCA that the MLP calls LAD 0.62 beside the fork (the same patient)
    lm_unit = (v == 1) & (np.asarray(units_class) == 1)
    lm = np.flatnonzero(lm_unit)
    if len(lm) == 0 or n < 3:
        return done
    d_lm_direct = np.linalg.norm(pts[:, None, :] - pts[lm][None, :, :], axis=2).min(1)
    near = d_lm_direct <= float(settings.branch_mm)
    # the graph: touching units at their centroid distance, others within the gap at gap_cost times it
    pair = np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=2)
    w = np.where(pair <= settings.branch_gap_mm, pair * settings.branch_gap_cost, np.inf)
    zmax, ymax, xmax = unit.shape
    for dz, dy, dx in _TOUCH:
        a = unit[0:zmax - dz, max(0, -dy):ymax - max(0, dy), max(0, -dx):xmax - max(0, dx)]
        b = unit[dz:, max(0, dy):ymax - max(0, -dy), max(0, dx):xmax - max(0, -dx)]
        m = (a > 0) & (b > 0) & (a != b)
        if m.any():
            i, j = a[m] - 1, b[m] - 1
            w[i, j] = pair[i, j]
            w[j, i] = pair[j, i]
    np.fill_diagonal(w, np.inf)
    ii, jj = np.nonzero(np.isfinite(w))
    graph = coo_matrix((np.maximum(w[ii, jj], 1e-6), (ii, jj)), shape=(n, n)).tocsr()
    d_lm = dijkstra(graph, directed=False, indices=lm, min_only=True)
    detour = {}
    for b in (2, 3):
        course = np.flatnonzero((v == b) & ~near)
        if len(course) == 0:
            return done
        d_b = dijkstra(graph, directed=False, indices=course, min_only=True)
        total = d_b + d_lm
        if not np.isfinite(total).any():
            return done
        detour[b] = total - total[np.isfinite(total)].min()
    if _DEBUG is not None:
        _DEBUG.append(dict(v=v, pts=pts, near=near, detour=detour, d_lm=d_lm, graph=graph, unit=unit, box=box,
                           lm=lm_unit))
    lad_better = detour[2] + settings.branch_margin_mm < detour[3]
    lcx_better = detour[3] + settings.branch_margin_mm < detour[2]
    out, k = [], 0
    for c, zyx, piece, pos, p, vessel in done:
        m = len(vessel)
        sl = slice(k, k + m)
        k += m
        zone = near[sl] & (d_lm[sl] >= settings.branch_min_mm)
        free = zone & np.isin(vessel, (2, 3))
        if settings.branch_lca:  # pieces called LCA in a candidate neither classed nor surely called LCA
            free |= zone & (vessel == 1) & ~lm_unit[sl]
        new = vessel.copy()
        new[free & lad_better[sl]] = 2
        new[free & lcx_better[sl]] = 3
        out.append((c, zyx, piece, pos, p, new))
    return out
