"""Vessel assignment along the coronary tree, after the classifier's coronary / non-coronary decision (issue 16).

The MLP (:mod:`cacscore.lesion.classifier`) calls each candidate (one lesion in one axial slice) on its own, from
its position relative to a heart centre: near the left-main bifurcation the slices of one plaque may go to
different branches (docs/model_card.md, "Measured again in session 7"). A plaque is one 3-D structure: its slices
touch from one slice to the next, and they lie on one artery. This step gives every coronary candidate of one 3-D
structure (26-connected candidate voxels, ``Candidates.structure``) the vessel the classifier finds most probable
for the structure as a whole: the sum over its coronary candidates of their vessel probabilities (each candidate
counted once, whatever its size: weighting by Agatston lets the one largest slice decide alone, and measured worse,
docs/lesion_scorer.md "Vessel assignment along the tree"). The vote only moves calcium between the four arteries.
Then the members of such a structure that the MLP alone called non-coronary join it when the structure as a whole is
more likely coronary than not (:func:`join_structure`); what a rule called non-coronary stays non-coronary.

The left main is only the first 5-20 mm from the left ostium: a rule on the distance from the ostium was measured
with the phantom's true ostium (it helps) and with the found aortic root (``cacscore.chest.anatomy``: median 43 mm
off on phantom v3; it does not), so it is not applied (docs/lesion_scorer.md). What is applied needs no root: the
vote moves no candidate into the left main, and a structure across the bifurcation sends its left-main slices to
the branch when most of its calcium is the branch's (:func:`guard_left_main`).
"""

from __future__ import annotations

import numpy as np


def vote_by_structure(classes: np.ndarray, proba: np.ndarray, structure: np.ndarray,
                      weights: np.ndarray | None = None) -> np.ndarray:
    """(n,) classes with every coronary candidate (class 1..4) of one 3-D structure given the structure's most
    probable vessel: argmax over the four vessels of the summed ``proba[:, 1:5]`` of its coronary candidates.
    Non-coronary candidates (class 0) keep 0; a structure's non-coronary members do not vote.

    classes: (n,) 0..4 (the product's classes: MLP then rules); proba: (n, 5) the MLP's probabilities;
    structure: (n,) int, the 3-D structure of each candidate (any labels; equal = one structure); weights: (n,) >= 0,
    each candidate's probabilities times its weight in the sum (None: each counts once; ClassifierConfig.vote_weight
    "agatston" passes each candidate's Agatston contribution, so the largest slice decides). A structure whose
    weights are all 0 votes unweighted."""
    cl = np.asarray(classes, np.int64).copy()
    p = np.asarray(proba, np.float64)
    s = np.asarray(structure)
    if cl.shape != s.shape or p.shape != (len(cl), 5):
        raise ValueError(f"vote_by_structure: classes {cl.shape}, proba {p.shape} and structure {s.shape} disagree")
    w = np.ones(len(cl)) if weights is None else _checked_weights(weights, len(cl), "vote_by_structure")
    cor = np.flatnonzero(cl > 0)
    if len(cor) == 0:
        return cl
    group, w_cor = _grouped_weights(s, cor, w)  # (all-zero weights: each counts once, no tie broken to LCA)
    summed = np.zeros((int(group.max()) + 1, 4))
    np.add.at(summed, group, p[cor, 1:5] * w_cor[:, None])
    cl[cor] = 1 + np.argmax(summed[group], axis=1)
    return cl


def join_structure(classes: np.ndarray, proba: np.ndarray, structure: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """(n,) classes where the non-coronary members of a 3-D structure that holds coronary candidates join it, when the
    structure as a whole is more likely coronary than not: the summed coronary probability (1 - proba[:, 0]) of its
    eligible members exceeds their summed non-coronary probability. They take the structure's vessel (call
    :func:`vote_by_structure` first, so that a structure has one). Only ``eligible`` members (no rule called them
    non-coronary: ``LesionModel.may_be_coronary``) join or count; the rules stay final.

    Why: a plaque's slice at its edge, small and far from the heart centre, can look non-coronary to the MLP alone
    (phantom v3 seed 9101, patient 17: a 146 AU slice of a distal LAD plaque whose neighbour slice was called
    coronary). classes: after the vote; proba: (n, 5) the MLP's probabilities; structure: (n,) as for the vote."""
    cl, p, s, ok = _masked_inputs("join_structure", classes, proba, structure, eligible, "eligible")
    cor = np.flatnonzero(cl > 0)
    if len(cor) == 0:
        return cl
    vessel = dict(zip(s[cor].tolist(), cl[cor].tolist()))  # one vessel per structure after the vote
    members, non, coronary = _structure_balance(s, cor, ok, p[:, 0], np.ones(len(cl)))
    join = members[(coronary > non) & (cl[members] == 0)]
    cl[join] = [vessel[v] for v in s[join].tolist()]
    return cl


def veto_structure(classes: np.ndarray, proba: np.ndarray, structure: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(n,) classes where every coronary member of a 3-D structure becomes non-coronary (0) when the structure as a
    whole, each member weighted by ``weights`` (its Agatston), is more likely non-coronary than coronary: the weighted
    sum of proba[:, 0] over ALL its members (those a rule decided read (1, 0, ...), as predict_proba gives them)
    exceeds that of 1 - proba[:, 0]. The mirror of :func:`join_structure`, weighted so that the large dense slices
    decide. A structure whose weights are all 0 is left as it is.

    Why (session 16): the v11-trained model calls the small slices of a mitral annulus ring LCX while its largest
    slice reads non-coronary with p 1.0 (bench/lookalike_calls.py, seed 12301 patient 5: a 3,808 AU ring, 1,615 AU of
    it called LCX); a coronary plaque's slices are called coronary throughout. ClassifierConfig.structure_veto."""
    cl = np.asarray(classes, np.int64).copy()
    p = np.asarray(proba, np.float64)
    s = np.asarray(structure)
    if cl.shape != s.shape or p.shape != (len(cl), 5):
        raise ValueError(f"veto_structure: classes {cl.shape}, proba {p.shape} and structure {s.shape} disagree")
    w = _checked_weights(weights, len(cl), "veto_structure")
    cor = np.flatnonzero(cl > 0)
    if len(cor) == 0:
        return cl
    members, non, coronary = _structure_balance(s, cor, np.ones(len(cl), bool), p[:, 0], w)
    cl[members[non > coronary]] = 0
    return cl


def veto_by_largest(classes: np.ndarray, proba: np.ndarray, structure: np.ndarray, weights: np.ndarray,
                    asked: np.ndarray, min_p: float) -> np.ndarray:
    """(n,) classes where every coronary member of a 3-D structure becomes non-coronary (0) when the structure's
    largest member (the greatest ``weights``, its Agatston) among those the MLP was ``asked`` about
    (``LesionModel.may_be_coronary``: no rule decided them) reads non-coronary with ``proba[:, 0] >= min_p``. A
    structure with no asked member is left as it is.

    Why (session 28, lead): the Agatston-weighted veto (:func:`veto_structure`) balances a structure's members, and a
    mitral annulus deposit whose upper slices reach the left AV groove can tip it: phantom v11 seed 14549 patient 12,
    an 849 AU MAC structure of 8 slices, non-coronary p 0.94 / 1.00 / 0.88 on its three lowest (the largest, 159 AU,
    0.88) and LCX 0.54-0.78 on five above; weighted 410 AU non-coronary against 439 coronary, so the join and the veto
    let all 849 AU go to the LCX (docs/model_card.md, "Session 28"). A plaque's heaviest slice is the one the MLP reads
    most surely as coronary; a look-alike's is the one it reads most surely as not.
    classes: after the vote, join and veto; proba: (n, 5); structure: (n,); weights: (n,) >= 0; asked: (n,) bool;
    min_p: in (0, 1]."""
    cl, p, s, ok = _masked_inputs("veto_by_largest", classes, proba, structure, asked, "asked")
    if not 0 < float(min_p) <= 1:
        raise ValueError(f"veto_by_largest: min_p must be in (0, 1], got {min_p!r}")
    w = _checked_weights(weights, len(cl), "veto_by_largest")
    for g in np.unique(s[cl > 0]):
        m = np.flatnonzero((s == g) & ok)
        if len(m) and p[m[np.argmax(w[m])], 0] >= float(min_p):
            cl[(s == g) & (cl > 0)] = 0
    return cl


def soft_veto_structure(classes: np.ndarray, structure: np.ndarray, ring_soft: np.ndarray,
                        above_diaphragm_mm: np.ndarray, weights: np.ndarray, min_ring_soft: float,
                        min_above_diaphragm_mm: float, ring_hu: np.ndarray | None = None,
                        min_ring_hu: float | None = None, depth_mm: np.ndarray | None = None,
                        deep: tuple[float, float] | None = None, inner_fat: np.ndarray | None = None,
                        low_inner_fat: float | None = None, length_mm: np.ndarray | None = None,
                        long: tuple[float, float] | None = None, p_non: np.ndarray | None = None,
                        min_p_non: float | None = None) -> np.ndarray:
    """(n,) classes where every coronary member of a 3-D structure becomes non-coronary (0) when its coronary members,
    each weighted by ``weights`` (its Agatston; all 0: each once), are wrapped in soft tissue and lie above the heart's
    diaphragmatic surface: the weighted mean of ``ring_soft`` exceeds ``min_ring_soft`` AND the weighted mean of
    ``above_diaphragm_mm`` exceeds ``min_above_diaphragm_mm``. A member whose ring_soft or above_diaphragm_mm is nan
    does not count in that mean; a structure with no finite value of either is left as it is.

    Why (session 17, wt25a; docs/lesion_scorer.md "(session 17, wt25a)"): mitral annulus calcium (MAC) the MLP itself
    calls coronary with p 0.9+ on its heavy slices (seed 13903 patient 3, 882 AU LCX; seed 14001 patient 46, 388 AU
    LCX) is out of :func:`veto_structure`'s reach, which asks the MLP again. MAC sits in the fibrous annulus between
    atrium and ventricle, soft tissue all round (ring_soft: the soft-tissue share of the in-plane ring 1-4 mm around a
    slice, cacscore.lesion.context; AU-weighted 0.69-0.88 on the five MAC structures of dev seed 14601, 13903 patient 3
    and 14001 patient 46); a coronary plaque sits in epicardial fat (at most 0.63 on dev seed 14601's LAD, LCX and
    LCA plaques) except on the inferior wall, where the RCA / PDA lie against the diaphragm and liver (ring_soft up to
    1.0, but above_diaphragm_mm -15 to +14 there; the MAC structures 17 to 48 mm). The means are over the structure,
    not per slice, so a noisy slice (thin slices: ring_soft 0.63-0.87 over one ring) does not decide alone.
    ClassifierConfig.structure_ring_veto.

    ``ring_hu`` / ``min_ring_hu`` (session 19, wt27a; ClassifierConfig.structure_ring_veto_hu; both or neither): a
    third condition, the weighted mean of ``ring_hu`` (cacscore.lesion.context.ring_soft_hu, the mean HU of the soft
    tissue round the calcium) above ``min_ring_hu``: the annulus's myocardium (MAC) rather than a coronary lumen's
    blood and fat sheath. A structure with no finite ring_hu is left as it is.

    ``depth_mm`` / ``deep`` = (min_ring_soft, max_depth_mm) (session 20, wt28a; ClassifierConfig.structure_ring_veto_deep;
    both or neither): the ring condition also holds when the weighted ring_soft exceeds deep[0] while the weighted
    ``depth_mm`` (pericardium_mm: signed depth under the pericardial mask's surface, < 0 inside) is below deep[1]: MAC
    deep on the annulus with some fat of the AV groove in its ring (dev: ring_soft 0.59 / 0.60, 11-14 mm deep). The
    other conditions are unchanged; nan depth: the deep tier does not fire for that structure.

    ``inner_fat`` / ``low_inner_fat`` (session 21, wt29c; ClassifierConfig.structure_ring_veto_low_fat; both or
    neither): the height condition also holds when the weighted ``inner_fat`` (the fat share of the half of the 1-4 mm
    ring facing the heart centre, cacscore.lesion.context) exceeds ``low_inner_fat``: below the height limit a
    coronary on the diaphragmatic surface (RCA / PDA) has myocardium on its heart-centre side (inner_fat 0.00-0.17 on
    25 true soft-wrapped dev structures), MAC on the posterior annulus the AV groove's fat (0.41-0.70 on 7 of 9 dev
    MAC structures). The ring and HU conditions are unchanged.

    ``length_mm`` / ``long`` = (min_length_mm, min_ring_hu) (session 21, wt29c; ClassifierConfig.structure_ring_veto_long;
    needs ``ring_hu``): a structure whose weighted ``length_mm`` (struct_length_mm, the 3-D structure's long axis) is
    at least long[0] passes the HU condition at the lower limit long[1]: MAC is a band along the annulus (dev MAC
    with ring HU 25.6 / 28.5 under the 29 limit: 55 / 50 mm long), while the true soft-wrapped plaques read near the
    limit are short (13903 p18: 25.4 HU, 15 mm); the one long soft-wrapped true LCX of the dev tables reads 7 HU.

    ``p_non`` / ``min_p_non`` (session 24, wt32b; ClassifierConfig.structure_ring_veto_unsure; both or neither): a
    structure fires only when also the weighted mean of ``p_non`` (the MLP's own non-coronary probability of its
    coronary members) exceeds ``min_p_non``: the MLP is never quite sure of MAC (AU-weighted p_non 0.017-0.47 on the 10
    MAC structures the s23 veto takes on dev 14524 / 14514),
    and sure of the true RCA / PDA on the posterior heart that the true (s23) diaphragm puts over the height limit
    (14524 p3, p13, p18: p_non <= 0.0015). Without it those structures (1,169 AU) were vetoed.
    docs/lesion_scorer.md "(session 24, wt32b)"."""
    if (p_non is None) != (min_p_non is None):
        raise ValueError("soft_veto_structure: p_non and min_p_non go together")
    if (ring_hu is None) != (min_ring_hu is None):
        raise ValueError("soft_veto_structure: ring_hu and min_ring_hu go together")
    if (depth_mm is None) != (deep is None):
        raise ValueError("soft_veto_structure: depth_mm and deep go together")
    if (inner_fat is None) != (low_inner_fat is None):
        raise ValueError("soft_veto_structure: inner_fat and low_inner_fat go together")
    if (length_mm is None) != (long is None):
        raise ValueError("soft_veto_structure: length_mm and long go together")
    if long is not None and ring_hu is None:
        raise ValueError("soft_veto_structure: long lowers the ring-HU limit and needs ring_hu")
    cl = np.asarray(classes, np.int64).copy()
    s = np.asarray(structure)
    rs = np.asarray(ring_soft, np.float64)
    dia = np.asarray(above_diaphragm_mm, np.float64)
    if not (cl.shape == s.shape == rs.shape == dia.shape):
        raise ValueError(f"soft_veto_structure: classes {cl.shape}, structure {s.shape}, ring_soft {rs.shape} and "
                         f"above_diaphragm_mm {dia.shape} disagree")
    w = _checked_weights(weights, len(cl), "soft_veto_structure")
    cor = np.flatnonzero(cl > 0)
    if len(cor) == 0:
        return cl
    group, wc = _grouped_weights(s, cor, w)

    def mean(v: np.ndarray) -> np.ndarray:
        ok = np.isfinite(v[cor])
        num = np.bincount(group, weights=np.where(ok, wc * np.nan_to_num(v[cor]), 0.0))
        den = np.bincount(group, weights=np.where(ok, wc, 0.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / den, np.nan)

    ring = mean(rs)
    soft = ring > min_ring_soft  # nan compares False
    if deep is not None:
        dep = np.asarray(depth_mm, np.float64)
        if dep.shape != cl.shape:
            raise ValueError(f"soft_veto_structure: depth_mm {dep.shape} and classes {cl.shape} disagree")
        soft |= (ring > float(deep[0])) & (mean(dep) < float(deep[1]))
    def column(v: np.ndarray, name: str) -> np.ndarray:
        v = np.asarray(v, np.float64)
        if v.shape != cl.shape:
            raise ValueError(f"soft_veto_structure: {name} {v.shape} and classes {cl.shape} disagree")
        return v

    high = mean(dia) > min_above_diaphragm_mm
    if low_inner_fat is not None:
        high |= mean(column(inner_fat, "inner_fat")) > float(low_inner_fat)
    fire = soft & high
    if ring_hu is not None:
        hu_limit = np.full(len(ring), float(min_ring_hu))
        if long is not None:
            hu_limit = np.where(mean(column(length_mm, "length_mm")) >= float(long[0]), float(long[1]), hu_limit)
        fire &= mean(column(ring_hu, "ring_hu")) > hu_limit
    if p_non is not None:
        fire &= mean(column(p_non, "p_non")) > float(min_p_non)
    cl[cor[fire[group]]] = 0
    return cl


def _masked_inputs(name: str, classes: np.ndarray, proba: np.ndarray, structure: np.ndarray, mask: np.ndarray,
                   mask_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(classes copy as int64, proba as float64, structure, mask as bool) of a structure step that reads a per-candidate
    mask (:func:`join_structure`'s eligible, :func:`veto_by_largest`'s asked); a one-line ValueError naming ``name``
    when their shapes disagree."""
    cl = np.asarray(classes, np.int64).copy()
    p = np.asarray(proba, np.float64)
    s = np.asarray(structure)
    ok = np.asarray(mask, bool)
    if cl.shape != s.shape or ok.shape != cl.shape or p.shape != (len(cl), 5):
        raise ValueError(f"{name}: classes {cl.shape}, proba {p.shape}, structure {s.shape} and {mask_name} "
                         f"{ok.shape} disagree")
    return cl, p, s, ok


def _grouped_weights(s: np.ndarray, cor: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group, weights) of the candidates ``cor``: each one's structure as 0..g-1 (of ``s``) and its weight ``w``,
    with every candidate of a structure whose weights are all 0 counting once: the one rule of
    :func:`vote_by_structure` and :func:`soft_veto_structure` for such structures."""
    _, group = np.unique(s[cor], return_inverse=True)
    total = np.bincount(group, weights=w[cor])
    return group, np.where(total[group] > 0, w[cor], 1.0)


def _checked_weights(weights: np.ndarray, n: int, name: str) -> np.ndarray:
    """``weights`` as (n,) float64, or a one-line ValueError naming ``name`` when not (n,), finite and >= 0."""
    w = np.asarray(weights, np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or (w < 0).any():
        raise ValueError(f"{name}: weights must be (n,) = ({n},) finite and >= 0, got shape {w.shape}")
    return w


def _structure_balance(s: np.ndarray, cor: np.ndarray, counted: np.ndarray, p_non: np.ndarray, w: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The members of the structures that hold the coronary candidates ``cor`` (among the ``counted`` ones) and, per
    member, its structure's ``w``-weighted sums of the non-coronary probability ``p_non`` and of 1 - p_non over
    those members: what :func:`join_structure` (unweighted, eligible members) and :func:`veto_structure`
    (Agatston-weighted, all members) compare."""
    members = np.flatnonzero(counted & np.isin(s, s[cor]))
    _, group = np.unique(s[members], return_inverse=True)
    non = np.bincount(group, weights=w[members] * p_non[members])
    coronary = np.bincount(group, weights=w[members] * (1.0 - p_non[members]))
    return members, non[group], coronary[group]


def guard_left_main(before: np.ndarray, voted: np.ndarray, proba: np.ndarray, structure: np.ndarray,
                    agatston: np.ndarray) -> np.ndarray:
    """(n,) classes after the vote with the left main (class 1, LCA) kept to what the candidates themselves say:

    1. a candidate the MLP called another artery (``before`` 2..4) does not become LCA through the vote: it keeps
       its own call;
    2. a structure that then still holds LCA and other-artery candidates straddles the bifurcation; when its
       Agatston-weighted probability of the other arteries (``proba[:, 2:5]`` summed, times each candidate's AU)
       exceeds its Agatston-weighted LCA probability, its LCA candidates take the structure's most probable other
       artery (the summed ``proba[:, 2:5]`` of its coronary candidates, each counted once, as the vote).

    Why: the vote (:func:`vote_by_structure`) reads one 3-D structure as one plaque on one artery. The left main is
    only the first 5-15 mm from the ostium: a plaque across the bifurcation is one structure whose slices lie on the
    left main and on the LAD / LCX, and a vote by candidate count let a small slice called LCA take a long branch
    plaque with it (phantom v4, seed 9101, patient 26: a 470 AU LAD slice 20 mm from the ostium, 0.67 LAD by the
    MLP, became LCA with its 105 AU neighbour, LCA 766 AU against a true 191; docs/lesion_scorer.md, "The left main
    in the vote"). Moving calcium into the LCA is what a count vote does worst: the LCA's reference scores are the
    smallest of the four, so an error there weighs most in a normalised MSE. The calcium's total is unchanged.

    before: (n,) classes before the vote (the MLP then the rules); voted: :func:`vote_by_structure` of them;
    proba: (n, 5); structure: (n,); agatston: (n,) each candidate's Agatston contribution."""
    b = np.asarray(before, np.int64)
    cl = np.asarray(voted, np.int64).copy()
    p = np.asarray(proba, np.float64)
    s = np.asarray(structure)
    au = np.asarray(agatston, np.float64)
    if not (b.shape == cl.shape == s.shape == au.shape) or p.shape != (len(cl), 5):
        raise ValueError(f"guard_left_main: before {b.shape}, voted {cl.shape}, proba {p.shape}, structure {s.shape} "
                         f"and agatston {au.shape} disagree")
    into = (cl == 1) & (b > 1)
    cl[into] = b[into]
    cor = np.flatnonzero(cl > 0)
    for g in np.unique(s[cor[cl[cor] == 1]]):
        m = cor[s[cor] == g]
        if not (cl[m] > 1).any():
            continue
        other = (p[m, 2:5].sum(1) * au[m]).sum()
        if other > (p[m, 1] * au[m]).sum():
            lca = m[cl[m] == 1]
            cl[lca] = 2 + int(np.argmax(p[m, 2:5].sum(0)))
    return cl


def keep_left_main(before: np.ndarray, voted: np.ndarray) -> np.ndarray:
    """(n,) classes after the vote with the candidates the MLP itself called the left main (``before`` == 1) kept LCA
    where the vote moved them to another artery: the mirror of :func:`guard_left_main`'s first rule (the vote moves
    nothing into the left main), applied before it, so that its second rule (the structure's Agatston-weighted LCA
    against other-artery probability) decides a structure across the bifurcation. Off by default
    (ClassifierConfig.left_main_keep). Why: the vote sums probabilities per candidate, so a structure's many LAD
    slices outvote its few left-main ones whatever their calcium (seed 9901 patient 43: three candidates, 1,023 AU
    of left main, called LCA by the 40-patient models' MLP at 0.68-0.97, voted LAD with 680 AU of LAD slices;
    docs/lesion_scorer.md "(session 15, wt23e)")."""
    b = np.asarray(before, np.int64)
    cl = np.asarray(voted, np.int64).copy()
    if b.shape != cl.shape:
        raise ValueError(f"keep_left_main: before {b.shape} and voted {cl.shape} disagree")
    cl[(b == 1) & (cl > 1)] = 1
    return cl


def keep_confident(before: np.ndarray, voted: np.ndarray, proba: np.ndarray, min_p: float) -> np.ndarray:
    """(n,) classes after the vote where a coronary candidate the MLP itself called a vessel with probability >=
    ``min_p`` keeps that call (the vote still decides the candidates the MLP was unsure of).

    Why: the vote reads a 3-D structure as one plaque on one artery, but a plaque at the left-main bifurcation is one
    structure over the left main, the LAD and the LCX; there the vote moved slices the MLP had called right with
    p >= 0.98 to the structure's majority artery (phantom v8 seed 9401, patient 58: LAD and LCA slices called LCX;
    docs/lesion_scorer.md, "Voxel-level vessel split"). before: (n,) classes before the vote (the MLP then the
    rules); voted: after :func:`vote_by_structure`; proba: (n, 5) the MLP's probabilities."""
    b = np.asarray(before, np.int64)
    cl = np.asarray(voted, np.int64).copy()
    p = np.asarray(proba, np.float64)
    if b.shape != cl.shape or p.shape != (len(cl), 5):
        raise ValueError(f"keep_confident: before {b.shape}, voted {cl.shape} and proba {p.shape} disagree")
    sure = (b > 0) & (cl > 0) & (p[np.arange(len(b)), b] >= min_p)
    cl[sure] = b[sure]
    return cl


def split_structures(classes: np.ndarray, proba: np.ndarray, structure: np.ndarray, min_p: float,
                     positions: np.ndarray | None = None) -> np.ndarray:
    """(n,) structure labels where a 3-D structure that the MLP confidently calls two or more vessels is cut into one
    part per such vessel, so that the vote, the left-main guard and the join (which all read these labels) decide each
    part alone. Other structures keep one label (their members' labels change, not their grouping).

    When a structure is split: its coronary candidates (``classes`` 1..4) whose own MLP call (argmax of
    ``proba[:, 1:5]``) has probability >= ``min_p`` are its sure calls; it is split when they name >= 2 vessels.
    Then each sure candidate goes to the part of its own vessel, and each other member (unsure coronary candidates and
    the non-coronary members that the join may bring in) to the part of the nearest sure candidate (``positions``:
    (n, 3) mm, e.g. the dz / dy / dx features; the connected run it lies on: phantom v11 seed 12001 patient 13, a
    90 AU LAD slice called LCA at 0.84 sat between LAD slices, and "the sure vessel it finds most probable" sent it to
    the LCX, whose probability it put at 0.12 against the LAD's 0.05), or without positions to the part of the sure
    vessel it finds most probable.
    Every candidate keeps one vessel, so the Agatston per vessel stays exact (each candidate's voxels carry its class).

    Why: the vote gives a structure one vessel, but a plaque across the left-main bifurcation is one structure over
    the left main and the LAD; the LAD slices outvoted 1,023 AU of left main the MLP called LCA at 0.68-0.97 (seed
    9901 patient 43, docs/lesion_scorer.md "(session 15, wt23e)"). A split needs two sure calls so that one odd slice
    the MLP is unsure of still follows its structure (the vote's purpose, seed 9101 patients 17 / 22 / 46).

    classes: (n,) 0..4 before the vote; proba: (n, 5); structure: (n,) any labels; min_p: in (0, 1]; positions: (n, k)
    or None. Returns (n,) int64 labels (equal = one part), new labels for the parts."""
    cl = np.asarray(classes, np.int64)
    p = np.asarray(proba, np.float64)
    s = np.asarray(structure)
    if cl.shape != s.shape or p.shape != (len(cl), 5):
        raise ValueError(f"split_structures: classes {cl.shape}, proba {p.shape} and structure {s.shape} disagree")
    xyz = None if positions is None else np.asarray(positions, np.float64)
    if xyz is not None and (xyz.ndim != 2 or len(xyz) != len(cl)):
        raise ValueError(f"split_structures: positions {xyz.shape} disagree with classes {cl.shape}")
    if not 0 < float(min_p) <= 1:
        raise ValueError(f"split_structures: min_p must be in (0, 1], got {min_p!r}")
    uniq, out = np.unique(s, return_inverse=True)
    out = out.astype(np.int64)
    own = 1 + np.argmax(p[:, 1:5], axis=1)
    sure = (cl > 0) & (p[np.arange(len(cl)), own] >= float(min_p))
    nxt = len(uniq)
    for g in np.unique(out[sure]):
        members = np.flatnonzero(out == g)
        vessels = np.unique(own[members[sure[members]]])
        if len(vessels) < 2:
            continue
        if xyz is None:
            guess = vessels[np.argmax(p[members][:, vessels], axis=1)]
        else:
            anchors = members[sure[members]]
            d = np.linalg.norm(xyz[members][:, None, :] - xyz[anchors][None, :, :], axis=2)
            guess = own[anchors][np.argmin(d, axis=1)]
        part = np.where(sure[members], own[members], guess)
        for v in vessels[1:]:  # the first vessel's part keeps the structure's label
            out[members[part == v]] = nxt
            nxt += 1
    return out
