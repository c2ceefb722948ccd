"""Anatomy v11 of the phantom (issues 15/16, session 14: the LCX in epicardial fat; the default since session 16, make_patient(version="v11"),
cacscore phantom --anatomy v11): v9 with the LCX's fat sheath held along its whole course (coronary.V11_LCX_SHEATH_MM,
drawn from its own stream), no myocardium collar and no crux bed under it; every course, plaque and MAC is v9's.
The default since session 16 (v8 before); v8 / v9 / v10 draw as before (tests/test_phantom_v8.py, _v9.py, _v10.py pin their images)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import ANATOMY_VERSION, ANATOMY_VERSIONS, chest_grid
from cacscore.phantom.core import _draws
from cacscore.phantom.coronary import V11_LCX_SHEATH_MM, V11_WAVE_MM, bed_profile, sheath_profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from lcx_groove_tissue import ring_shares  # noqa: E402
from version_fixtures import exact_version_patient

SEED = 5


def _blobs(blobs, kind=None) -> list[tuple]:
    return [(b.centre_mm, b.radius_mm, b.hu, b.kind) for b in blobs if kind is None or b.kind == kind]


def test_v11_is_the_default_and_keeps_every_v9_draw():
    assert ANATOMY_VERSION == "v11" and "v11" in ANATOMY_VERSIONS
    for pid in range(1, 13):
        d9, d11 = (_draws(pid, SEED, 64, version=v)[0] for v in ("v9", "v11"))
        for v in ("LCA", "LAD", "LCX", "RCA"):
            assert np.array_equal(d11.vessels[v].points, d9.vessels[v].points)
            assert d11.vessels[v].crux == d9.vessels[v].crux
        assert [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d11.specs] == \
               [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d9.specs]
        assert all(np.array_equal(a.centre, b.centre) for a, b in zip(d11.plaques, d9.plaques))
        assert _blobs(d11.cardiac) == _blobs(d9.cardiac) and _blobs(d11.nodes) == _blobs(d9.nodes)
        assert d11.motion.amplitude_mm == d9.motion.amplitude_mm
        assert d9.anat.lcx_sheath_mm is None
        assert V11_LCX_SHEATH_MM[0] <= d11.anat.lcx_sheath_mm <= V11_LCX_SHEATH_MM[1]
        for v in ("v8", "v10"):
            assert _draws(pid, SEED, 64, version=v)[0].anat.lcx_sheath_mm is None


def test_version_features_table_is_the_one_place():
    """anatomy.VERSION_FEATURES (session 16) says which version draws which feature; every other module asks it."""
    from cacscore.phantom.anatomy import VERSION_FEATURES, features
    from cacscore.phantom.noncoronary import MAC_GEOMETRY, mac_geometry

    assert ANATOMY_VERSIONS == tuple(VERSION_FEATURES) and ANATOMY_VERSION in VERSION_FEATURES
    assert {v for v in ANATOMY_VERSIONS if features(v).lcx_in_fat} == {"v11", "v12", "v13", "v14", "v15", "v16",
                                                                       "v17", "v18", "v19", "v20", "v21", "v22", "v23",
                                                                       "v24"}
    assert {v for v in ANATOMY_VERSIONS if features(v).raised_groove} == {"v10"}
    assert {v for v in ANATOMY_VERSIONS if features(v).turned_heart} == {"v12"}
    assert {v for v in ANATOMY_VERSIONS if features(v).left_heart} == {"v13"}
    assert {v for v in ANATOMY_VERSIONS if features(v).high_right_dome} == {"v14", "v15", "v16", "v17", "v18", "v19",
                                                                            "v20", "v22"}
    assert {v for v in ANATOMY_VERSIONS if features(v).kyphosis} == {"v15", "v16", "v17", "v18", "v19", "v20",
                                                                     "v22"}
    assert {v for v in ANATOMY_VERSIONS if features(v).abdomen} == {"v16", "v17", "v18", "v19", "v20", "v22"}
    assert {v for v in ANATOMY_VERSIONS if features(v).spine_v17} == {"v17", "v18", "v19", "v20", "v22"}
    assert {v for v in ANATOMY_VERSIONS if features(v).chest_v18} == {"v18", "v19", "v20", "v22"}
    assert {v for v in ANATOMY_VERSIONS if features(v).ribs_v19} == {"v19", "v20", "v22"}
    assert {v for v in ANATOMY_VERSIONS if features(v).ribs_v20} == {"v20", "v22"}
    assert {v for v in ANATOMY_VERSIONS if features(v).heart_v22} == {"v22"}
    assert {v for v in ANATOMY_VERSIONS if features(v).liver_v22} == {"v22"}
    assert {v for v in ANATOMY_VERSIONS if features(v).root_back} == {"v21", "v23", "v24"}
    assert {v for v in ANATOMY_VERSIONS if features(v).lean_heart} == {"v23", "v24"}
    assert {v for v in ANATOMY_VERSIONS if features(v).lcx_border} == {"v24"}
    assert all(mac_geometry(v) is MAC_GEOMETRY[features(v).mac] for v in ANATOMY_VERSIONS)
    assert [v for v in ANATOMY_VERSIONS if features(v).mac == "v8"] == ["v8"]
    try:
        features("v7")
        raise AssertionError("v7 is not drawn")
    except ValueError as e:
        assert "v7" in str(e)


def test_v11_lcx_sheath_is_thick_all_along_and_off_the_bed():
    for pid in range(1, 13):
        d9, d11 = (_draws(pid, SEED, 64, version=v)[0] for v in ("v9", "v11"))
        lcx = d11.vessels["LCX"]
        b9, b11 = bed_profile(d9.anat, lcx), bed_profile(d11.anat, lcx)
        if lcx.crux < 0:  # right dominant: no bed under the v11 LCX at all
            assert b11.max() == 0.0
        s9 = sheath_profile(d9.anat, "LCX", len(lcx.points), b9)
        s11 = sheath_profile(d11.anat, "LCX", len(lcx.points), b11)
        n = len(s11)
        off_bed = b11 == 0
        assert s11[off_bed].min() >= V11_LCX_SHEATH_MM[0] - V11_WAVE_MM - 1e-9
        # v9's sheath thins on the lateral wall: the distal half of v11's is thicker
        assert s11[n // 2:][off_bed[n // 2:]].mean() > s9[n // 2:].mean() + 1.0
        # every other vessel's sheath and bed are v9's
        for v in ("LCA", "LAD", "RCA"):
            ves = d11.vessels[v]
            assert np.array_equal(bed_profile(d11.anat, ves), bed_profile(d9.anat, ves))
            assert np.array_equal(sheath_profile(d11.anat, v, len(ves.points), bed_profile(d11.anat, ves)),
                                  sheath_profile(d9.anat, v, len(ves.points), bed_profile(d9.anat, ves)))


def _lcx_ring(p, d) -> tuple[np.ndarray, np.ndarray]:
    grid = chest_grid(d.anat, p.hu.shape[1])
    pts = d.vessels["LCX"].points
    zyx = np.stack([pts[:, 2] - grid.z_mm[0], pts[:, 1] - grid.y_mm[0], pts[:, 0] - grid.x_mm[0]], 1)
    fat, soft, _ = ring_shares(p.hu_static, p.spacing_mm, zyx)
    return fat, soft


def test_v11_lcx_ring_has_less_soft_tissue_and_more_fat_than_v9():
    pid, size = 2, 192
    out = {}
    for v in ("v9", "v11"):
        d = _draws(pid, SEED, size, version=v)[0]
        p = make_patient(pid, seed=SEED, size=size, version=v)
        out[v] = _lcx_ring(p, d)
    (f9, s9), (f11, s11) = out["v9"], out["v11"]
    assert np.nanmedian(s11) < np.nanmedian(s9) - 0.2
    assert np.nanmedian(f11) > np.nanmedian(f9) + 0.2


def test_v11_truth_exact_deterministic_and_labelled_on_its_own_vessels():
    pid, p = exact_version_patient("v11", {"LCX"}, seed=SEED)  # a patient with LCX plaques
    # the image differs from v9's only round the LCX (its sheath and bed): the other vessels' labels are v9's
    p9 = make_patient(pid, seed=SEED, size=96, version="v9")
    for lab in (1, 2, 4):
        assert np.array_equal(p.labels == lab, p9.labels == lab)
    assert not np.array_equal(p.hu_static, p9.hu_static)
