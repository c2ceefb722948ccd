"""The picture a reader checks after the candidate scorer (``cacscore.lesion.candidates``): where each scored lesion is.

One PNG per scan: the axial slices with the most coronary calcium, cropped around the heart, in a soft-tissue
window, every voxel the scorer gave to a vessel filled in that vessel's colour, every other calcium candidate
(>= threshold, judged non-coronary: bone, aortic wall, valves, noise) outlined in purple (grey vanished on white bone); and a maximum-intensity
projection of the heart slab with the same colours, so lesions on slices not shown are still seen. The legend
gives the per-vessel Agatston scores and the four-class risk category. Identifiers: only the ``title`` the
caller passes (a folder name, never a DICOM header value).
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from cacscore.core.fileio import atomic_savefig
from cacscore.chest.anatomy import MIN_CONFIDENCE, ChestAnatomy
from cacscore.chest.heart import find_heart
from cacscore.core.categories import CATEGORY4_LABELS, risk_category4
from cacscore.core.vessels import VESSELS

log = logging.getLogger(__name__)

VESSEL_COLOURS = {"LCA": "#e41a1c", "LAD": "#377eb8", "LCX": "#4daf4a", "RCA": "#ff7f00"}
NON_CORONARY_COLOUR = "#984ea3"  # the palette's (Set1) next colour: visible on white bone and on grey tissue
WINDOW_HU = (-160.0, 240.0)  # soft tissue: level 40, width 400


def _crop_box(shape_yx: tuple[int, int], centre_yx: tuple[float, float], half_px: tuple[int, int]
              ) -> tuple[slice, slice]:
    """A (y, x) window of about 2 * half_px around centre_yx, shifted to stay inside the image."""
    out = []
    for n, c, h in zip(shape_yx, centre_yx, half_px):
        h = min(h, n // 2)
        lo = int(round(c)) - h
        lo = min(max(lo, 0), n - 2 * h)
        out.append(slice(lo, lo + 2 * h))
    return out[0], out[1]


def _overlay(labels_2d: np.ndarray) -> np.ndarray:
    """uint8 vessel labels (y, x) -> RGBA (y, x, 4), transparent where 0."""
    from matplotlib.colors import to_rgba

    rgba = np.zeros((*labels_2d.shape, 4), dtype=np.float32)
    for k, v in enumerate(VESSELS, start=1):
        rgba[labels_2d == k] = to_rgba(VESSEL_COLOURS[v], alpha=1.0)
    return rgba


def _view(hu: np.ndarray, spacing_mm: tuple[float, float, float], coronary: np.ndarray,
          heart_index: Sequence[float] | None, n_slices: int, found_heart_index: Sequence[float] | None = None
          ) -> tuple[tuple[float, float, float], list[int]]:
    """(crop centre (z, y, x), slices to show): the slices with the most coronary voxels (distinct), else
    n_slices around the centre. Centre: heart_index, else the coronary lesions' centroid, else the heart found
    by cacscore.chest.heart.find_heart (not the image centre: a zero-calcium report must still show the heart):
    found_heart_index when the caller has it (e.g. Candidates.heart_index), else find_heart is run here."""
    nz = hu.shape[0]
    per_slice = coronary.sum(axis=(1, 2))
    if heart_index is not None:
        centre = tuple(float(c) for c in heart_index)
    elif per_slice.any():
        zz, yy, xx = np.nonzero(coronary)
        centre = (float(zz.mean()), float(yy.mean()), float(xx.mean()))
    elif found_heart_index is not None:
        centre = tuple(float(c) for c in found_heart_index)
    else:
        centre = tuple(float(c) for c in find_heart(hu, spacing_mm))
    if per_slice.any():
        order = [int(k) for k in np.argsort(-per_slice, kind="stable") if per_slice[k] > 0][:n_slices]
        return centre, sorted(order)
    c = int(round(centre[0]))
    return centre, sorted({min(max(c + d, 0), nz - 1) for d in range(-(n_slices // 2), n_slices - n_slices // 2)})


# outlines in colours the vessels, the non-coronary purple and the red warnings do not use
ANATOMY_COLOURS = {"pericardium": "#17becf", "aorta": "#f781bf", "bony thorax": "#e6c700",
                   "costal cartilage": "#a65628"}
NOT_USED_COLOUR = "#9a9a9a"
"""A part the scorer did not judge the candidates by (not found, or found with too little confidence for its rules,
or dropped, e.g. a pericardial mask that :func:`cacscore.lesion.anatomy.heart_reference` found on the liver's
dome) is drawn dashed in this grey, its reason under the title: in cyan it read as a mask the scorer had used."""
_PART_OF = {"pericardium": "pericardium", "aorta": "aorta", "bony thorax": "bone", "costal cartilage": "cartilage"}


def anatomy_not_used(anatomy: ChestAnatomy) -> dict[str, str]:
    """Drawn part name -> why the scorer did not use it, for the parts it did not use (the rules read a part found
    with confidence >= cacscore.chest.anatomy.MIN_CONFIDENCE; anatomy_columns gives nan for the others)."""
    out = {}
    for name, key in _PART_OF.items():
        part = anatomy.parts.get(key)
        if part is None or not part.sure(MIN_CONFIDENCE):
            why = (part.reason if part is not None and part.reason else
                   "not found" if part is None or not part.found else f"confidence {part.confidence:.2f}")
            out[name] = why
    return out


def _draw_anatomy(ax, anatomy: ChestAnatomy, k: int, spacing_mm: tuple[float, float, float], ys: slice,
                  xs: slice) -> None:
    """The pericardial outline, the aortic tube's circles, the bony thorax's and the costal cartilage's outlines of
    full slice k, in the crop (ys, xs) of the picture (the anatomy lives on its ~2.5 mm grid; contours are placed in
    crop pixels); a part the scorer did not use dashed grey (:func:`anatomy_not_used`)."""
    gm = anatomy.grid_mm
    unused = anatomy_not_used(anatomy)
    style = {n: ((NOT_USED_COLOUR, "--") if n in unused else (c, "-")) for n, c in ANATOMY_COLOURS.items()}
    kc = int(np.clip(round(k * spacing_mm[0] / gm[0]), 0, anatomy.pericardium.shape[0] - 1))
    yy = np.arange(anatomy.pericardium.shape[1]) * anatomy.step_xy - ys.start
    xx = np.arange(anatomy.pericardium.shape[2]) * anatomy.step_xy - xs.start
    masks = [(anatomy.pericardium[kc], "pericardium"), (anatomy.bone[kc] > 0, "bony thorax")]
    if anatomy.cartilage is not None:  # anatomies read before the mask (issue 16, wt16j) have none
        masks.append((anatomy.cartilage[kc], "costal cartilage"))
    for mask, name in masks:
        if mask.any() and not mask.all():
            colour, ls = style[name]
            ax.contour(xx, yy, mask.astype(np.float32), levels=[0.5], colors=colour, linewidths=0.7,
                       linestyles=ls)
    from matplotlib.patches import Circle

    near = np.abs(anatomy.aorta.centreline_mm[:, 0] - k * spacing_mm[0]) <= gm[0] / 2
    colour, ls = style["aorta"]
    for p, r in zip(anatomy.aorta.centreline_mm[near], anatomy.aorta.radius_mm[near]):
        ax.add_patch(Circle((p[2] / spacing_mm[2] - xs.start, p[1] / spacing_mm[1] - ys.start), r / spacing_mm[1],
                            fill=False, color=colour, linewidth=0.8, linestyle=ls))
    ax.set_xlim(-0.5, xs.stop - xs.start - 0.5)
    ax.set_ylim(ys.stop - ys.start - 0.5, -0.5)


def _anatomy_handles(anatomy: ChestAnatomy) -> list:
    """Legend entries of the drawn anatomy: a used part in its colour, one not used dashed grey."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    unused = anatomy_not_used(anatomy)
    out = []
    for name, colour in ANATOMY_COLOURS.items():
        if name in unused:  # the reason is written under the title
            out.append(Line2D([], [], color=NOT_USED_COLOUR, linestyle="--", label=f"{name} (not used)"))
        else:
            out.append(Patch(facecolor="none", edgecolor=colour, label=name))
    return out


def render_lesion_report(hu: np.ndarray, spacing_mm: Sequence[float], labels: np.ndarray,
                         scores: Mapping[str, float], path: str | Path, *, title: str,
                         candidates: np.ndarray | None = None, threshold_hu: float = 130.0,
                         heart_index: Sequence[float] | None = None, n_slices: int = 3,
                         crop_mm: float = 160.0, found_heart_index: Sequence[float] | None = None,
                         warnings: Sequence[str] = (), anatomy: ChestAnatomy | None = None,
                         slices: Sequence[int] | None = None) -> Path:
    """Write the report PNG for one scan and return its path.

    hu: (z, y, x) HU; spacing_mm: (z, y, x); labels: (z, y, x) uint8 vessel labels the scorer assigned
    (0 none, 1..4 = LCA, LAD, LCX, RCA); scores: Agatston per vessel (and ``total``); candidates: (z, y, x)
    bool of every calcium candidate (default: ``hu >= threshold_hu``), outlined in purple where not coronary;
    heart_index: (z, y, x) voxel centre of the crop (default: the centroid of the coronary lesions, else the heart
    found by find_heart); crop_mm: side of the square shown around it. found_heart_index: the heart centre
    ``find_heart(hu, spacing_mm)`` gives, when the caller already has it (``Candidates.heart_index``): used only
    where find_heart would be (no coronary calcium, no heart_index), so the picture is the same without a second
    search. warnings: lines shown in red under the title (e.g. metal in the heart region). anatomy: the chest
    anatomy the scorer judged the candidates in, drawn under the lesions (pericardium cyan, aorta pink, bony thorax
    yellow) so a reader sees when it was wrong; a part it did not use (not found, unsure, or dropped, as a
    pericardial mask below the heart finder's point) dashed grey, "(not used)" in the legend and the reason under
    the title. slices: the
    (0-based) axial slices to show instead of those with the most coronary calcium (e.g. a false call's).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    hu = np.asarray(hu)
    labels = np.asarray(labels)
    if hu.ndim != 3 or labels.shape != hu.shape:
        raise ValueError(f"hu {hu.shape} and labels {labels.shape} must be the same (z, y, x) shape")
    if len(spacing_mm) != 3 or not all(float(s) > 0 for s in spacing_mm):
        raise ValueError(f"spacing_mm must be three positive numbers (z, y, x), got {tuple(spacing_mm)}")
    nz, ny, nx = hu.shape
    dz, dy, dx = (abs(float(s)) for s in spacing_mm)
    cand = (hu >= threshold_hu) if candidates is None else np.asarray(candidates, dtype=bool)
    coronary = labels > 0
    centre, shown = _view(hu, (dz, dy, dx), coronary, heart_index, n_slices, found_heart_index)
    if slices is not None:
        shown = sorted({int(np.clip(k, 0, nz - 1)) for k in slices})
    ys, xs = _crop_box((ny, nx), centre[1:], (int(crop_mm / dy / 2), int(crop_mm / dx / 2)))
    # the heart slab for the projection: the shown slices' span +- 15 mm, never the whole chest
    pad = int(round(15.0 / dz))
    z0, z1 = max(min(shown) - pad, 0), min(max(shown) + pad + 1, nz)

    lo, hi = WINDOW_HU
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(3.6 * (len(shown) + 1), 4.4), squeeze=False)
    axes = axes[0]
    extent_aspect = dy / dx
    for ax, k in zip(axes, shown):
        ax.imshow(hu[k, ys, xs], cmap="gray", vmin=lo, vmax=hi, aspect=extent_aspect, interpolation="nearest")
        if anatomy is not None:
            _draw_anatomy(ax, anatomy, k, (dz, dy, dx), ys, xs)
        other = cand[k, ys, xs] & ~coronary[k, ys, xs]
        if other.any():
            ax.contour(other.astype(np.float32), levels=[0.5], colors=NON_CORONARY_COLOUR, linewidths=0.8)
        ax.imshow(_overlay(labels[k, ys, xs]), aspect=extent_aspect, interpolation="nearest")
        ax.set_title(f"slice {k + 1} of {nz} (from the feet)", fontsize=9)
        ax.axis("off")
    ax = axes[-1]
    mip = hu[z0:z1, ys, xs].max(axis=0)
    ax.imshow(mip, cmap="gray", vmin=lo, vmax=max(hi, 600.0), aspect=extent_aspect, interpolation="nearest")
    slab = labels[z0:z1, ys, xs]
    proj = np.zeros(slab.shape[1:], dtype=np.uint8)
    for k in range(1, len(VESSELS) + 1):  # later vessels on top where two project onto one pixel
        proj[(slab == k).any(axis=0)] = k
    ax.imshow(_overlay(proj), aspect=extent_aspect, interpolation="nearest")
    ax.set_title(f"projection, slices {z0 + 1}-{z1}", fontsize=9)
    ax.axis("off")
    total = float(scores.get("total", sum(float(scores.get(v, 0.0)) for v in VESSELS)))
    cat = CATEGORY4_LABELS[int(risk_category4(total))]
    handles = [Patch(color=VESSEL_COLOURS[v], label=f"{v} {float(scores.get(v, 0.0)):.0f}") for v in VESSELS]
    handles.append(Patch(facecolor="none", edgecolor=NON_CORONARY_COLOUR, label="calcium judged non-coronary"))
    if anatomy is not None:
        handles += _anatomy_handles(anatomy)
    # two rows: the vessels and the non-coronary outline, then the anatomy (four parts, the costal cartilage since wt16j)
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=9, frameon=False)
    # wrapped to the figure's width (~13 characters per inch at 10 pt): with one slice shown the figure is
    # 7 inches wide and a long title ran off both edges
    head = textwrap.wrap(f"{title}: Agatston total {total:.0f} (category {cat}); {crop_mm:.0f} mm around the heart",
                         width=int(fig.get_figwidth() * 13))
    fig.suptitle("\n".join(head), fontsize=10)
    top = 0.94 - 0.045 * (len(head) - 1)
    if warnings:
        n_w = len(warnings)
        fig.text(0.5, top - 0.015, "\n".join(f"warning: {w}" for w in warnings), ha="center", va="top", fontsize=8.5,
                 color="#c00000")
        top -= 0.045 * n_w
    if anatomy is not None and (unused := anatomy_not_used(anatomy)):
        # the reasons under the title, wrapped to the figure (in the legend they ran off a one-slice picture)
        lines = textwrap.wrap("anatomy not used (dashed grey): " + "; ".join(f"{n}: {w}" for n, w in unused.items()),
                              width=int(fig.get_figwidth() * 14))
        fig.text(0.5, top - 0.015, "\n".join(lines), ha="center", va="top", fontsize=8.5, color="#555555")
        top -= 0.045 * len(lines)
    fig.tight_layout(rect=(0, 0.07, 1, top))
    path = Path(path)
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)
    return path
