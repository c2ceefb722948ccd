"""Anatomy v2 of the phantom (issue 15): the oriented heart, great vessels, the anatomy label volume,
non-coronary calcium where it sits, and the arch / root / mid-ventricle preview with a real series beside it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from cacscore.core.vessels import VESSELS
from cacscore.io.dicom import Volume
from cacscore.phantom import load_labels, make_patient, write_release
from cacscore.phantom.anatomy import (ANATOMY_LABELS, HEART_AZIMUTH_DEG, HEART_ELEVATION_DEG, LABEL, heart_angles,
                                      heart_frame)
from cacscore.phantom.core import _draws
from cacscore.phantom.noncoronary import CORONARY_CLEARANCE_MM
from cacscore.phantom.coronary import COLLAR_BELOW_MM, sheath_profile
from cacscore.phantom.writer import preview_levels, write_preview

SEED = 3


@pytest.fixture(scope="module")
def patient():
    return make_patient(2, seed=SEED, size=96, anatomy=True)


def _centroid_mm(p, mask: np.ndarray) -> np.ndarray:
    """(x, y, z) patient mm of a (z, y, x) mask's centroid."""
    k, j, i = np.argwhere(mask).mean(axis=0)
    dz, dy, dx = p.spacing_mm
    return np.array([p.origin_mm[0] + i * dx, p.origin_mm[1] + j * dy, p.origin_mm[2] + k * dz])


def test_heart_frame_round_trips_and_points_anterior_left_inferior():
    for az, el in ((30.0, 25.0), (45.0, 35.0), (58.0, 44.0)):
        f = heart_frame(az, el)
        assert np.allclose(f @ f.T, np.eye(3), atol=1e-12)
        assert np.allclose(heart_angles(f), (az, el))
        e1, e2, e3 = f
        assert e1[0] > 0 and e1[1] < 0 and e1[2] < 0  # apex: left, anterior, inferior
        assert e2[2] > 0 and abs(e3[2]) < 1e-12 and e3[0] > 0  # top of the base; horizontal toward the left


def test_drawn_anatomy_stays_in_the_literature_ranges():
    for pid in range(1, 16):
        a = _draws(pid, SEED, 64)[0].anat
        az, el = a.heart_angles_deg
        assert HEART_AZIMUTH_DEG[0] <= az <= HEART_AZIMUTH_DEG[1] and HEART_ELEVATION_DEG[0] <= el <= HEART_ELEVATION_DEG[1]
        assert a.heart_c[0] > a.body_c[0]  # most of the heart left of the midline
        assert a.aorta_root[2] > a.heart_c[2]  # the root at the base, above the ventricles
        seg = a.aorta.label
        # the aorta's segments in order along its centreline: ascending, arch, descending, abdominal
        order = [int(s) for s in seg[np.r_[True, seg[1:] != seg[:-1]]]]
        assert order == [LABEL[n] for n in ("aorta_ascending", "aorta_arch", "aorta_descending", "aorta_abdominal")]
        desc = a.aorta.points[seg == LABEL["aorta_descending"]]
        assert (desc[:, 0] > a.spine_c[0]).all()  # the descending aorta runs left of the spine's centre
        assert 9.5 <= a.desc_r <= 15 and 12.5 <= a.aorta_r <= 18.6  # literature diameters (anatomy.py)


def test_coronaries_leave_the_aortic_root_and_run_in_epicardial_fat(patient):
    p = patient
    d = _draws(p.pid, p.seed, 96)[0]
    a, lab = p.anatomy, p.anatomy_labels
    root = a.aorta_root + np.array([0, 0, 11.0])
    for name in ("LCA", "RCA"):  # ostia on the root's wall (radius + a few mm), at the sinus level
        o = d.vessels[name].points[0]
        assert np.hypot(*(o - root)[:2]) < a.aorta.radius[0] + 4 and abs(o[2] - root[2]) < 8
    lm = d.vessels["LCA"].points
    assert 3 < np.linalg.norm(np.diff(lm, axis=0), axis=1).sum() < 40  # the left main: short (real 2-40 mm)
    assert np.ptp(lm[:, 2]) < 15  # and nearly level
    dz, dy, dx = p.spacing_mm
    for name in VESSELS:  # the centrelines lie in the coronary lumen or epicardial fat, not in myocardium, except
        # where anatomy v6 thins the sheath and lays the vessel on the muscle (checked in test_phantom_v6.py)
        pts = d.vessels[name].points
        pts = pts[sheath_profile(d.anat, name, len(pts)) >= COLLAR_BELOW_MM]
        if len(pts) < 10:
            continue
        idx = np.rint((pts[:, [2, 1, 0]] - np.array(p.origin_mm)[[2, 1, 0]]) / np.array([dz, dy, dx])).astype(int)
        ok = np.all((idx >= 0) & (idx < np.array(lab.shape)), axis=1)
        vals = lab[tuple(idx[ok].T)]
        inside = np.isin(vals, [LABEL["coronary_artery"], LABEL["epicardial_fat"], LABEL["pericardium"]])
        assert inside.mean() > 0.8, (name, np.unique(vals, return_counts=True))


def test_anatomy_label_volume(patient):
    p = patient
    lab, a = p.anatomy_labels, p.anatomy
    assert lab.shape == p.hu.shape and lab.dtype == np.uint8
    present = set(np.unique(lab).tolist())
    for name in ("body_wall", "lung_right", "lung_left", "heart", "epicardial_fat", "pericardium", "aorta_ascending",
                 "aorta_arch", "aorta_descending", "pulmonary_artery", "svc", "airway", "vertebra", "rib",
                 "costal_cartilage", "sternum", "liver", "table"):
        assert LABEL[name] in present, name
    assert present <= set(ANATOMY_LABELS)
    # the heart label sits where the drawn heart is; the lungs on their sides; the liver on the right
    # (15 mm: the right atrium reaches right of the ventricles' centre, the right heart border, since v4)
    assert np.linalg.norm(_centroid_mm(p, lab == LABEL["heart"]) - a.heart_c) < 15
    assert _centroid_mm(p, lab == LABEL["lung_right"])[0] < a.cav_c[0] < _centroid_mm(p, lab == LABEL["lung_left"])[0]
    assert _centroid_mm(p, lab == LABEL["liver"])[0] < a.cav_c[0]
    # tissue HU under the labels (static image, 120 or 100 kVp): lungs air-like, heart soft tissue, bone bright
    s = p.hu_static
    assert np.median(s[lab == LABEL["lung_left"]]) < -700
    assert 20 < np.median(s[lab == LABEL["heart"]]) < 60
    assert np.median(s[lab == LABEL["epicardial_fat"]]) < -20
    assert np.median(s[lab == LABEL["vertebra"]]) > 150
    # bone labels are bright voxels; coronary labels never sit on them
    assert p.bright[lab == LABEL["rib"]].all() and p.bright[lab == LABEL["sternum"]].all()
    assert not (p.labels > 0)[lab == LABEL["sternum"]].any()
    # the label volume is a by-product: the image is the same with or without it
    q = make_patient(2, seed=SEED, size=96)
    assert q.anatomy_labels is None and np.array_equal(q.hu, p.hu) and q.truth == p.truth


def test_wall_and_cartilage_calcium_sit_where_they_belong_and_clear_of_the_coronaries():
    n_aortic = n_cart = 0
    for pid in range(1, 30):
        d = _draws(pid, SEED, 64)[0]
        a = d.anat
        vpts = np.concatenate([v.points for v in d.vessels.values()])
        for x, y, z, r, hu in a.aortic_calc + a.cartilage_calc:
            assert np.sqrt(((vpts - (x, y, z)) ** 2).sum(axis=1)).min() >= CORONARY_CLEARANCE_MM + 1.5 * r
        for x, y, z, r, hu in a.aortic_calc:  # on the aortic wall
            dist = np.sqrt(((a.aorta.points - (x, y, z)) ** 2).sum(axis=1))
            i = int(np.argmin(dist))
            assert abs(dist[i] - a.aorta.radius[i]) < 2.5
            n_aortic += 1
        for x, y, z, r, hu in a.cartilage_calc:  # anterior, beside the sternum
            assert y < a.cav_c[1] - 0.5 * a.cav_ab[1] and abs(x - a.cav_c[0]) < 0.75 * a.cav_ab[0]
            n_cart += 1
    assert n_aortic > 5 and n_cart > 5


def test_release_writes_anatomy_labels_and_the_comparison_preview(tmp_path):
    out = tmp_path / "rel"
    write_release(out, n_patients=1, seed=SEED, size=48)
    table = json.loads((out / "anatomy" / "labels.json").read_text())
    assert table == {str(k): v for k, v in ANATOMY_LABELS.items()}
    a = load_labels(out / "anatomy" / "1.nii.gz")
    assert a.shape == load_labels(out / "labels" / "1.nii.gz").shape and a.max() > 20
    p = make_patient(1, seed=SEED, size=64, anatomy=True)
    lv = preview_levels(p)
    assert lv["arch"] > lv["root / left main"] > lv["mid-ventricle"]
    other = make_patient(2, seed=SEED, size=64)  # stands in for a real series
    real = Volume(hu=other.hu, spacing_mm=other.spacing_mm)
    path = tmp_path / "prev.png"
    write_preview(path, p, compare=real)
    from PIL import Image

    w, h = Image.open(path).size
    assert w > 1000 and h > 500  # two rows of five panels


def test_acquisition_draws_cover_their_ranges_and_scale_calcium_with_kvp():
    """Slice thickness, kernel, kVp and FOV are drawn per patient within the recorded ranges (issue 15), and
    calcium HU scales with kVp while the 130 HU threshold stays."""
    from cacscore.phantom.anatomy import FOV_MM, SLICE_MM, kvp_calcium_factor
    from cacscore.phantom.core import KERNELS

    seen = {"slice": set(), "kernel": set(), "kvp": set()}
    fovs = []
    for pid in range(1, 61):
        d = _draws(pid, SEED, 64)[0]
        a = d.anat
        assert a.slice_mm in SLICE_MM and d.kernel in KERNELS and d.kvp in (100, 120, 140)
        assert FOV_MM[0] <= a.fov_mm <= FOV_MM[1]
        assert 290 <= a.n_slices * a.slice_mm <= 355  # the same scan range at any thickness
        seen["slice"].add(a.slice_mm), seen["kernel"].add(d.kernel), seen["kvp"].add(d.kvp)
        fovs.append(a.fov_mm)
    assert seen["slice"] == set(SLICE_MM) and seen["kernel"] == set(KERNELS) and seen["kvp"] == {100, 120, 140}
    assert max(fovs) - min(fovs) > 100
    assert kvp_calcium_factor(100) > kvp_calcium_factor(120) == 1.0 > kvp_calcium_factor(140)


def test_heart_rests_on_a_flat_floor_and_tapers_to_the_apex():
    from cacscore.phantom.anatomy import heart_surface

    for pid in range(1, 8):
        a = _draws(pid, SEED, 64)[0].anat
        phi = np.linspace(-180, 180, 73)
        for u in (-0.3, 0.0, 0.4, 0.8):
            pts = heart_surface(a, np.full(73, u), phi, np.zeros(73))
            assert pts[:, 2].min() >= a.heart_floor_z - 1e-6  # nothing of the ventricles below the diaphragm
        # the cross-section near the base is wider than toward the apex (a tapering cone, not a ball)
        w = [np.linalg.norm(heart_surface(a, np.full(2, u), np.array([-90.0, 90.0]), np.zeros(2))[1]
                            - heart_surface(a, np.full(2, u), np.array([-90.0, 90.0]), np.zeros(2))[0]) for u in (-0.3, 0.5)]
        assert w[0] > 1.15 * w[1]
        assert a.heart_floor_z < a.z_dome_mm  # the central tendon a little below the right dome's top


def test_arms_clavicles_and_lung_vessels_are_drawn_and_labelled():
    arms = [pid for pid in range(1, 40) if _draws(pid, SEED, 64)[0].anat.arms is not None]
    assert 4 <= len(arms) <= 25  # P_ARMS_DOWN = 0.35 of 39
    p = make_patient(arms[0], seed=SEED, size=96, anatomy=True)
    lab, s = p.anatomy_labels, p.hu_static
    for name in ("clavicle", "humerus", "arm", "scapula"):
        assert (lab == LABEL[name]).sum() > 5, name
    assert p.bright[lab == LABEL["humerus"]].mean() > 0.9 and p.bright[lab == LABEL["clavicle"]].mean() > 0.9
    assert not (p.labels > 0)[np.isin(lab, [LABEL["clavicle"], LABEL["humerus"], LABEL["arm"]])].any()
    a = p.anatomy
    for side in (-1, 1):  # an arm on each side, outside the body's outline
        m = lab == LABEL["arm"]
        xs = np.nonzero(m.any(axis=(0, 1)))[0] * p.spacing_mm[2] + p.origin_mm[0]
        assert ((side * (xs - a.body_c[0])) > a.body_ab[0]).any()
    # the vessel trees make the lungs' soft-tissue share rise toward the hila
    assert len(a.lung_vessels) > 300
    lung = np.isin(lab, [LABEL["lung_right"], LABEL["lung_left"]])
    assert (s[lung] > -500).mean() > 0.003


def test_upper_thorax_tapers_and_shoulders_widen_the_top(patient):
    """A bell, not a box (v4): the cavity widens from the apices all the way down to the lower ribs (1 there,
    1 - taper at the apices), and the body is wider at the top of the scan (shoulders) than at the heart."""
    from cacscore.phantom.anatomy import THORAX_TAPER, cavity_x_scale

    p, a = patient, patient.anatomy
    zd = a.z_dome_mm
    z = zd + np.linspace(a.t_apex, a.t_widest - 30, 40)  # from the apices down past the widest level
    s = cavity_x_scale(a, z)
    assert THORAX_TAPER[0] <= a.taper <= THORAX_TAPER[1] and s[0] == pytest.approx(1 - a.taper - a.taper_lin)
    assert (np.diff(s) >= 0).all() and s[-1] == 1.0  # never narrower lower down
    assert cavity_x_scale(a, np.array([a.heart_c[2]]))[0] < cavity_x_scale(a, np.array([zd + a.t_widest]))[0]
    lab = p.anatomy_labels
    lung = np.isin(lab, [LABEL["lung_right"], LABEL["lung_left"]])
    k_heart = int(round(p.heart_centre_index[0]))
    k_high = int(np.clip(round((zd + a.t_apex - 40 - p.origin_mm[2]) / p.spacing_mm[0]), 0, lab.shape[0] - 1))

    def width(mask2d):
        cols = np.nonzero(mask2d.any(axis=0))[0]
        return cols[-1] - cols[0] if len(cols) else 0

    assert width(lung[k_high]) < width(lung[k_heart])  # the lungs narrow toward the apices
    body = lab > 0
    assert width(body[-1] & (lab[-1] != LABEL["table"])) >= width(body[k_heart] & (lab[k_heart] != LABEL["table"]))


def test_heart_finder_on_a_sparse_gated_field_of_view():
    """A heart-centred gated series holds little lung; the finder's slice run once fell between the slices with
    mediastinal tissue and divided by zero (patient 6 of seed 5 at 64 px, found with v3)."""
    from cacscore.chest.heart import locate_heart

    g = make_patient(6, seed=5, size=64, gated=True).gated
    f = locate_heart(Volume(hu=g.hu, spacing_mm=g.spacing_mm))
    assert all(0 <= i < n for i, n in zip(f.index, g.hu.shape))


def test_descending_aorta_lies_in_front_of_the_spine_and_the_chest_is_deep_enough():
    """v4: the descending aorta at the heart's level is in front of the vertebral body's front and left of its
    centre (real: 3-15 mm in front, 22-30 mm left), still clear of the coronaries; the chest is >= 118 mm deep."""
    from cacscore.phantom.anatomy import MIN_STERNUM_TO_VERTEBRA_MM

    for pid in range(1, 13):
        d = _draws(pid, SEED, 64)[0]
        a = d.anat
        front = a.spine_c[1] - a.spine_r
        assert 0 < front - a.desc_c[1] < 20 and 18 < a.desc_c[0] - a.spine_c[0] < 38
        assert front - (a.cav_c[1] - a.cav_ab[1] + 9.0) >= MIN_STERNUM_TO_VERTEBRA_MM[0] - 1e-6
        desc = a.aorta.points[a.aorta.label == LABEL["aorta_descending"]]
        r = a.aorta.radius[a.aorta.label == LABEL["aorta_descending"]]
        vpts = np.concatenate([v.points for v in d.vessels.values()])
        wall = np.sqrt(((vpts[:, None] - desc[None]) ** 2).sum(-1)) - r[None]
        assert wall.min() > 6.0  # no coronary runs against the aortic wall


def test_ribs_show_every_two_centimetres_on_the_lateral_wall(patient):
    """v4: a coronal reformat through the heart cuts a rib every 21-25 mm along each lateral chest wall."""
    p = patient
    rib = p.anatomy_labels == LABEL["rib"]
    ky = int(round(p.heart_centre_index[1]))
    dz = p.spacing_mm[0]
    for half in (slice(0, rib.shape[2] // 2), slice(rib.shape[2] // 2, None)):
        col = rib[:, ky, half].any(axis=1)  # slices holding a rib on this side of the coronal plane
        lab, n = ndimage.label(col)
        starts = np.array([np.flatnonzero(lab == i)[0] for i in range(1, n + 1)]) * dz
        assert n >= 6
        gaps = np.diff(starts)
        assert 14 <= np.median(gaps) <= 27, gaps  # v3's ribs: every 27-33 mm


def test_gated_series_ends_just_below_the_heart():
    """The gated grid ends 5-20 mm below the heart's flat floor (not in the liver)."""
    from cacscore.phantom.core import gated_grid

    for pid in (1, 2, 3):
        a = _draws(pid, SEED, 64)[0].anat
        g = gated_grid(a, 64, np.random.default_rng(0))
        assert 5 - 1e-6 <= a.heart_floor_z - g.z_edges_mm[0] <= 20 + 1e-6
