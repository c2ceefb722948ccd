"""The renderer's speed work (session 11) changes no output: each faster function against the code it replaced,
kept here as the reference, and whole small patients rendered with the reference functions swapped back in."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

import cacscore.phantom.anatomy as A
import cacscore.phantom.core as C
import cacscore.phantom.coronary as Cn
import cacscore.phantom.motion as M
import cacscore.phantom.noncoronary as N
import cacscore.phantom.raster as R
from cacscore.phantom.core import _draws
from cacscore.phantom.raster import Grid, ellipsoid_fraction


# ------------------------------------------------------------------ the replaced code (before session 11)
def ref_paint(img, box, frac, hu):
    v = img[box]
    t = np.subtract(np.float32(hu) if np.isscalar(hu) else hu, v)
    if t.shape != v.shape or np.shape(frac) != v.shape or np.asarray(frac).dtype != np.float32:
        v += frac * t
        return
    t *= frac
    v += t


def ref_layer_paint(self, box, frac, hu, label=None, label_at=0.5):
    rel, sub = [], []
    for b, lb, n in zip(box, self.box, frac.shape):
        s0, s1 = max(b.start, lb.start), min(b.stop, lb.stop)
        if s1 <= s0:
            return
        rel.append(slice(s0 - lb.start, s1 - lb.start))
        sub.append(slice(s0 - b.start, s1 - b.start))
    f = frac[tuple(sub)]
    v = self.img[self.box][tuple(rel)]
    if f.dtype != np.float32:
        v += f * (np.float32(hu) - v)
        self.trans[tuple(rel)] *= 1 - f
    else:
        t = np.subtract(np.float32(hu), v)
        t *= f
        v += t
        np.subtract(np.float32(1.0), f, out=t)
        self.trans[tuple(rel)] *= t
    if self.lab is not None and label is not None:
        self.lab[self.box][tuple(rel)][f >= label_at] = Cn.ANATOMY_LABEL[label]


def ref_tube_fields(grid, ves, radii_extra, box, n_sub):
    px = grid.px_mm
    xs, ys = grid.x_mm[box[2]], grid.y_mm[box[1]]
    e = grid.z_edges_mm[box[0].start:box[0].stop + 1]
    dz = grid.dz_mm / n_sub
    zs = (e[0] + (np.arange((len(e) - 1) * n_sub) + 0.5) * dz).astype(np.float32)
    fields = [np.zeros((len(zs), len(ys), len(xs)), np.float32) for _ in radii_extra]
    soft = max(px, dz)
    radii = np.stack([ves.radius + np.broadcast_to(np.asarray(e, float), ves.radius.shape) for e in radii_extra], axis=1)
    rmax = float(radii.max()) + soft
    x0, y0, z0 = xs[0], ys[0], zs[0]
    for p, rs in zip(ves.points, radii):
        i0 = max(int(np.floor((p[0] - rmax - x0) / px)), 0)
        i1 = min(int(np.ceil((p[0] + rmax - x0) / px)) + 1, len(xs))
        j0 = max(int(np.floor((p[1] - rmax - y0) / px)), 0)
        j1 = min(int(np.ceil((p[1] + rmax - y0) / px)) + 1, len(ys))
        k0 = max(int(np.floor((p[2] - rmax - z0) / dz)), 0)
        k1 = min(int(np.ceil((p[2] + rmax - z0) / dz)) + 1, len(zs))
        if i1 <= i0 or j1 <= j0 or k1 <= k0:
            continue
        d = np.sqrt((zs[k0:k1, None, None] - p[2]) ** 2 + (ys[None, j0:j1, None] - p[1]) ** 2
                    + (xs[None, None, i0:i1] - p[0]) ** 2).astype(np.float32)
        for f, re_ in zip(fields, rs):
            if re_ <= 0:
                continue
            v = np.clip((np.float32(re_) - d) / np.float32(soft) + 0.5, 0, 1)
            loc = f[k0:k1, j0:j1, i0:i1]
            np.maximum(loc, v, out=loc)
    nzb = len(e) - 1
    return [f.reshape(nzb, n_sub, len(ys), len(xs)).mean(axis=1) for f in fields]


def ref_ellipse_footprint(x_mm, y_mm, cx, cy, ax, ay, px_mm, angle_rad=0.0):
    dx = (x_mm - cx)[None, :].astype(np.float32)
    dy = (y_mm - cy)[:, None].astype(np.float32)
    if angle_rad:
        ca, sa = np.float32(np.cos(angle_rad)), np.float32(np.sin(angle_rad))
        dx, dy = ca * dx + sa * dy, -sa * dx + ca * dy
    rho = np.sqrt((dx / ax) ** 2 + (dy / ay) ** 2)
    d = (rho - 1.0) * np.float32(min(ax, ay) + 0.5 * abs(ax - ay) * 0.5)
    return np.clip(0.5 - d / px_mm, 0.0, 1.0).astype(np.float32)


def ref_box(self, lo_mm, hi_mm):
    out = []
    for centres, lo, hi, edge in ((None, lo_mm[0], hi_mm[0], True), (self.y_mm, lo_mm[1], hi_mm[1], False),
                                  (self.x_mm, lo_mm[2], hi_mm[2], False)):
        if edge:
            e = self.z_edges_mm
            i0 = int(np.searchsorted(e, lo, side="right")) - 1
            i1 = int(np.searchsorted(e, hi, side="left"))
            i0, i1 = max(i0, 0), min(i1, len(e) - 1)
        else:
            i0 = int(np.searchsorted(centres, lo, side="left"))
            i1 = int(np.searchsorted(centres, hi, side="right"))
            i0, i1 = max(i0, 0), min(i1, len(centres))
        if i1 <= i0:
            return None
        out.append(slice(i0, i1))
    return tuple(out)


def ref_shift2d_add(out, a, weights):
    ny, nx = a.shape
    for (oy, ox), ww in weights.items():
        if abs(oy) >= ny or abs(ox) >= nx:
            continue
        src = a[max(0, -oy):ny - max(0, oy), max(0, -ox):nx - max(0, ox)]
        dst = out[max(0, oy):ny - max(0, -oy), max(0, ox):nx - max(0, -ox)]
        dst += np.float32(ww) * src


def ref_move_layer(diff, z0, plan, name, px_mm):
    amp = plan.amplitude_mm * M.AMPLITUDE_SHARE[name]
    if amp < 1e-3:
        return diff.copy()
    dy, dx = plan.direction[name]
    out = np.zeros_like(diff)
    k = np.arange(plan.n_sub)
    for z in range(diff.shape[0]):
        phases = plan.phase[z0 + z] + plan.window * (k + 0.5) / plan.n_sub
        disp = 0.5 * amp * np.cos(2 * np.pi * phases) / px_mm
        ref_shift2d_add(out[z], diff[z], M._bilinear_weights([(d * dy, d * dx) for d in disp], 1.0 / plan.n_sub))
    return out


def ref_apply_layers(out, layers, plan, grid):
    nz, ny, nx = grid.shape
    pad = int(np.ceil(plan.amplitude_mm / 2 / grid.px_mm)) + 2
    for layer in layers:
        bz, by, bx = layer.box
        y0, y1 = max(by.start - pad, 0), min(by.stop + pad, ny)
        x0, x1 = max(bx.start - pad, 0), min(bx.stop + pad, nx)
        inner = (slice(None), slice(by.start - y0, by.stop - y0), slice(bx.start - x0, bx.stop - x0))
        moved = []
        for arr in (layer.alpha, layer.premult):
            big = np.zeros((bz.stop - bz.start, y1 - y0, x1 - x0), np.float32)
            big[inner] = arr
            moved.append(ref_move_layer(big, bz.start, plan, layer.name, grid.px_mm))
        v = out[bz, y0:y1, x0:x1]
        v *= 1 - moved[0]
        v += moved[1]


def ref_score(hu, labels, grid, box=None):
    box = tuple(slice(int(i[0]), int(i[-1]) + 1) if len(i) else slice(0, 1)
                for i in (np.flatnonzero(labels.any(axis=(1, 2))), np.flatnonzero(labels.any(axis=(0, 2))),
                          np.flatnonzero(labels.any(axis=(0, 1)))))
    res = C.agatston(hu[box], labels[box], pixel_spacing_mm=(grid.px_mm, grid.px_mm), slice_spacing_mm=grid.dz_mm,
                     slice_thickness_mm=grid.dz_mm)
    return res.as_row()


def _use_reference(monkeypatch) -> None:
    for mod in (R, A, N, Cn):
        monkeypatch.setattr(mod, "paint", ref_paint)
    monkeypatch.setattr(A, "ellipse_footprint", ref_ellipse_footprint)
    monkeypatch.setattr(Cn._LayerPainter, "paint", ref_layer_paint)
    monkeypatch.setattr(Cn, "_tube_fields", ref_tube_fields)
    monkeypatch.setattr(Grid, "box", ref_box)
    monkeypatch.setattr(C, "_apply_layers", ref_apply_layers)
    monkeypatch.setattr(C, "_score", ref_score)
    monkeypatch.setattr(R, "SLAB_LOOP_MIN", (10**12, 10**12))  # slab_fraction in one pass, as before


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint8)


def _same(p, q) -> None:
    for k in ("hu", "hu_static", "labels", "bright", "anatomy_labels"):
        assert np.array_equal(_bits(getattr(p, k)), _bits(getattr(q, k))), k
    assert p.truth == q.truth and p.truth_moving == q.truth_moving
    if p.gated is not None:
        assert np.array_equal(_bits(p.gated.hu), _bits(q.gated.hu)) and np.array_equal(p.gated.labels, q.gated.labels)


# ------------------------------------------------------------------ whole patients
@pytest.mark.parametrize("thick, slab_loop", [(0.0, False), (1.25, False), (0.0, True)])
def test_patients_bit_identical_to_the_replaced_code(monkeypatch, thick, slab_loop):
    if thick:
        monkeypatch.setattr(A, "SLICE_P", tuple(1.0 if m == thick else 0.0 for m in A.SLICE_MM))
    if slab_loop:  # every painted box slab by slab (at 64 px no box reaches the size that does it at 512)
        monkeypatch.setattr(R, "SLAB_LOOP_MIN", (1, 1))
    pids = (1, 2, 3)
    new = [C.make_patient(pid, seed=11, size=64, anatomy=True, gated=pid == 1) for pid in pids]
    assert sum(p.n_plaques for p in new) > 0 and max(p.motion_amplitude_mm for p in new) > 1.0  # the paths ran
    with monkeypatch.context() as m:
        _use_reference(m)
        old = [C.make_patient(pid, seed=11, size=64, anatomy=True, gated=pid == 1) for pid in pids]
    for p, q in zip(new, old):
        _same(p, q)


def ref_images(pid: int, seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """make_patient's images as rendered before session 11: the moving image a copy of the whole background."""
    d, _ = _draws(pid, seed, size)
    grid = A.chest_grid(d.anat, size)
    static, bright, alab = A.render_background(d.anat, grid, kvp=d.kvp)
    moving = static.copy()
    layers, labels, _ = Cn.render_heart(d.anat, grid, static, d.vessels, d.plaques, kvp=d.kvp,
                                        cardiac_calcium=d.cardiac, bright=bright, anatomy_lab=alab)
    C._apply_layers(moving, layers, d.motion, grid)
    N.paint_blobs([static, moving], grid, d.nodes, kvp=d.kvp, bright=bright, anatomy_lab=alab)
    C._finish(moving, static, grid, d.anat.fov_mm, sigma=d.sigma, rng=np.random.default_rng([seed, pid, 1]),
              grain_mm=C.KERNELS[d.kernel][0])
    return moving, static


def test_moving_image_without_the_whole_volume_copy():
    n_blobs = 0
    for pid in (1, 2, 3, 4):
        p = C.make_patient(pid, seed=11, size=48)
        moving, static = ref_images(pid, 11, 48)
        assert np.array_equal(_bits(p.hu), _bits(moving)) and np.array_equal(_bits(p.hu_static), _bits(static))
        n_blobs += len(p.lookalikes)
    assert n_blobs > 10  # (seed 11: valve, annulus, nodes and granulomas painted into both images)


# ------------------------------------------------------------------ single functions
def test_paint_trans_is_the_layer_painters_old_arithmetic():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        img = rng.uniform(-1000, 1000, (6, 7, 8)).astype(np.float32)
        trans = rng.uniform(0, 1, (4, 5, 6)).astype(np.float32)
        frac = rng.uniform(0, 1, (4, 5, 6)).astype(dtype)
        box = (slice(1, 5), slice(2, 7), slice(0, 6))
        a, ta = img.copy(), trans.copy()
        R.paint(a, box, frac, 130.0, trans=ta)
        b, tb = img.copy(), trans.copy()
        v = b[box]
        if dtype == np.float32:
            t = np.subtract(np.float32(130.0), v)
            t *= frac
            v += t
            tb *= 1 - frac
        else:
            v += frac * (np.float32(130.0) - v)
            tb *= 1 - frac
        assert np.array_equal(_bits(a), _bits(b)) and np.array_equal(_bits(ta), _bits(tb))
        c = img.copy()
        ref_paint(c, box, frac, 130.0)  # without trans: as before
        R.paint(img, box, frac, 130.0)
        assert np.array_equal(_bits(c), _bits(img))


def test_slab_by_slab_fraction_and_paint_are_the_one_pass_arithmetic(monkeypatch):
    rng = np.random.default_rng(6)
    lo = rng.uniform(-20, 10, (50, 60)).astype(np.float32)
    hi = (lo + rng.uniform(-5, 40, lo.shape)).astype(np.float32)
    edges = np.cumsum(rng.uniform(1.2, 1.3, 41)) - 30
    img = rng.uniform(-1000, 1000, (42, 60, 60)).astype(np.float32)
    box = (slice(1, 41), slice(5, 55), slice(0, 60))
    outs = []
    for loop in ((1, 1), (10**9, 10**9)):
        monkeypatch.setattr(R, "SLAB_LOOP_MIN", loop)
        f = R.slab_fraction(lo, hi, edges)
        a, trans = img.copy(), np.ones(f.shape, np.float32)
        R.paint(a, box, f, 350.0, trans=trans)
        outs.append((f, a, trans))
    for x, y in zip(*outs):
        assert np.array_equal(_bits(x), _bits(y))
    assert 0 < outs[0][0].mean() < 1


def test_tube_fields_match_the_point_by_point_code():
    for thick in (1.25, 5.0):
        d, _ = _draws(2, 11, 128)
        grid = A.chest_grid(d.anat, 128)
        grid = Grid(grid.x_mm, grid.y_mm, grid.z_edges_mm[0] + thick * np.arange(int(200 / thick)))
        n_sub = max(1, int(round(grid.dz_mm / 1.0)))
        for name, ves in d.vessels.items():
            sheath = Cn.sheath_profile(d.anat, name, len(ves.points), Cn.bed_profile(d.anat, ves))
            lo, hi = ves.points.min(axis=0) - 12, ves.points.max(axis=0) + 12
            box = grid.box((lo[2], lo[1], lo[0]), (hi[2], hi[1], hi[0]))
            if box is None:
                continue
            rad = ves.radius.copy()
            rad[::7] = -1.0  # points that paint nothing (a collar where the sheath is thick)
            ves2 = Cn.Vessel(name, ves.points, rad)
            for v, extra in ((ves, (sheath, 0.0, Cn.LABEL_MARGIN_MM)), (ves2, (0.0,))):
                for a, b in zip(Cn._tube_fields(grid, v, extra, box, n_sub), ref_tube_fields(grid, v, extra, box, n_sub)):
                    assert np.array_equal(_bits(a), _bits(b)), (name, thick)
                    assert a.max() > 0.5


def test_ellipse_footprint_in_its_window_is_the_whole_plane_formula():
    rng = np.random.default_rng(8)
    x, y = np.round(np.arange(128) * 0.7 - 45, 4), np.round(np.arange(100) * 0.7 - 35, 4)
    inside = 0
    for i in range(400):
        cx, cy = rng.uniform(-70, 70, 2)
        ax, ay = rng.uniform(0.2, 60, 2)
        if i % 4 == 0:
            ax, ay = np.float64(ax), np.float64(ay)  # (float64 semi-axes compute in float64, as before)
        ang = rng.uniform(-3, 3) if i % 2 else 0.0
        px = (0.7, np.float64(0.7), 0.35)[i % 3]
        a = R.ellipse_footprint(x, y, cx, cy, ax, ay, px, ang)
        b = ref_ellipse_footprint(x, y, cx, cy, ax, ay, px, ang)
        assert a.dtype == b.dtype == np.float32 and np.array_equal(_bits(a), _bits(b)), i
        inside += a.max() > 0
    assert inside > 100
    with np.errstate(divide="ignore"):  # degenerate (a zero semi-axis): the whole-plane formula, as before
        flat = R.ellipse_footprint(x, y, 0.0, 0.0, 0.0, 5.0, 0.7)
        assert np.array_equal(_bits(flat), _bits(ref_ellipse_footprint(x, y, 0.0, 0.0, 0.0, 5.0, 0.7)))


def test_grid_box_matches_searchsorted():
    rng = np.random.default_rng(3)
    g = Grid(np.round(np.arange(64) * 0.7 - 20.3, 4), np.round(np.arange(48) * 0.7 - 10.1, 4), np.arange(30) * 1.25 - 9)
    for trial in range(3000):
        lo = rng.uniform(-50, 50, 3)
        hi = lo + rng.uniform(-5, 60, 3)
        if trial % 3 == 0:  # exactly on slab edges and pixel centres
            lo = np.array([g.z_edges_mm[rng.integers(30)], g.y_mm[rng.integers(48)], g.x_mm[rng.integers(64)]])
            hi = np.array([g.z_edges_mm[rng.integers(30)], g.y_mm[rng.integers(48)], g.x_mm[rng.integers(64)]])
        if trial % 5 == 0:
            lo, hi = lo.astype(np.float32), hi.astype(np.float32)
        if trial % 11 == 0:
            lo[rng.integers(3)] = (np.nan, np.inf, -np.inf)[trial % 3]
        assert g.box(tuple(lo), tuple(hi)) == ref_box(g, tuple(lo), tuple(hi))


def test_move_layer_into_a_padded_box_is_moving_the_padded_layer():
    plan = M.draw_motion(np.random.default_rng(4), 12)
    rng = np.random.default_rng(5)
    diff = rng.uniform(-1, 1, (12, 9, 11)).astype(np.float32)
    for name in ("heart", "RCA"):
        for at, shape in (((3, 2), (15, 16)), ((0, 0), (9, 11)), ((0, 4), (10, 15))):
            big = np.zeros((12, *shape), np.float32)
            big[:, at[0]:at[0] + 9, at[1]:at[1] + 11] = diff
            a = M.move_layer(diff, 0, plan, name, 0.4, shape=shape, at=at)
            b = ref_move_layer(big, 0, plan, name, 0.4)
            assert np.array_equal(_bits(a), _bits(b)) and np.abs(a).max() > 0.1


def test_plaque_masks_and_labels_are_the_footprints():
    d, _ = _draws(3, 11, 96)
    grid = A.chest_grid(d.anat, 96)
    img, bright, _ = A.render_background(d.anat, grid, kvp=d.kvp)
    _, labels, masks = Cn.render_heart(d.anat, grid, img, d.vessels, d.plaques, kvp=d.kvp, bright=bright)
    assert d.plaques and set(masks) == {p.vessel for p in d.plaques}
    ss = 3 if grid.px_mm < 1.2 else 5
    for name, m in masks.items():
        ref = np.zeros(grid.shape, bool)
        for p in d.plaques:
            if p.vessel == name:
                r = ellipsoid_fraction(grid, p.centre, p.axes, p.semi, supersample=ss)
                if r is not None:
                    ref[r[0]] |= r[1] > 0.005
        assert m.shape == grid.shape and np.array_equal(m, ref) and m.any()
        later = [masks[v] for v in Cn.VESSELS[Cn.VESSELS.index(name) + 1:] if v in masks]
        mine = m & ~np.any(later, axis=0) if later else m
        assert (labels[mine] == Cn.LABEL_OF[name]).all()


def test_series_files_carry_each_slices_own_header(tmp_path):
    from cacscore.phantom import writer

    hu = np.arange(5 * 6 * 4, dtype=np.float32).reshape(5, 6, 4) * 7 - 1000
    paths = writer.write_series(tmp_path, hu, spacing_mm=(2.5, 0.7, 0.7), origin_mm=(-10.0, -20.0, -30.0), pid=3,
                                seed=1, kvp=120, series_number=1, thickness_mm=2.5, clean=True, description="t",
                                model=writer.MODELS[0], fov_mm=300.0)
    seen = set()
    for p in paths:
        ds = pydicom.dcmread(p)
        k = 5 - int(ds.InstanceNumber)  # instance 1 = top slice
        assert p.name == f"IM-0001-{int(ds.InstanceNumber):04d}.dcm"
        assert float(ds.ImagePositionPatient[2]) == pytest.approx(-30.0 + 2.5 * k)
        assert float(ds.SliceLocation) == pytest.approx(30.0 - 2.5 * k)
        assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID and ds.SOPInstanceUID not in seen
        seen.add(ds.SOPInstanceUID)
        assert np.array_equal(ds.pixel_array.astype(np.float32) - 1024, hu[k])
