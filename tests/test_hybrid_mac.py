"""Mitral annular calcification (MAC) in hybrid cases (cacscore.phantom.hybrid, insert_plaques mac=True): the same
plaques, labels and truth with and without it, non-coronary (label 0), on the annulus just inside the LCX course, clear
of every plaque; the phantom's MAC band (noncoronary.mac_lumps) unchanged; bench/hybrid_cases.score_case counts it
apart from the native false positives. The 'real' scan is a small phantom rendered without coronary calcium (as
tests/test_hybrid.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from cacscore.chest.anatomy import read_chest
from cacscore.phantom import hybrid as H
from cacscore.phantom import noncoronary as N
from cacscore.phantom.core import make_patient
from cacscore.scoring.agatston import agatston

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # hybrid_cases, hybrid_training


@pytest.fixture(scope="module")
def scan():
    p = make_patient(3, seed=5, size=128, with_coronary_calcium=False)
    return p.hu, p.spacing_mm, read_chest(p.hu, p.spacing_mm)


@pytest.fixture(scope="module")
def pairs(scan):
    hu, sp, anatomy = scan
    return {s: (H.insert_plaques(hu, sp, anatomy, s), H.insert_plaques(hu, sp, anatomy, s, mac=True)) for s in (0, 1)}


def test_mac_leaves_plaques_labels_and_truth_unchanged(pairs):
    for plain, mac in pairs.values():
        assert plain.mac is None and mac.mac is not None and mac.mac.any(), mac.mac_note
        assert [p.centre.tolist() for p in mac.plaques] == [p.centre.tolist() for p in plain.plaques]
        assert [p.hu for p in mac.plaques] == [p.hu for p in plain.plaques]
        assert np.array_equal(mac.labels, plain.labels)
        assert mac.truth == plain.truth
        assert mac.courses.keys() == plain.courses.keys()
        assert all(np.array_equal(mac.courses[k], plain.courses[k]) for k in plain.courses)
        # the image changes only where the MAC lies (its footprint and a partial-volume fringe of a pixel)
        near = ndimage.binary_dilation(mac.mac, np.ones((3, 3, 3), bool))
        assert np.array_equal(mac.hu[~near], plain.hu[~near])
        assert (mac.hu[mac.mac] > plain.hu[mac.mac]).any()


def test_mac_is_non_coronary_dense_and_deterministic(scan, pairs):
    hu, sp, anatomy = scan
    _, mac = pairs[0]
    assert (mac.labels[mac.mac] == 0).all()  # never labelled coronary: a negative for training
    au = agatston(mac.hu, mac.mac.astype(np.uint8), pixel_spacing_mm=(sp[1], sp[2]), slice_spacing_mm=sp[0])
    assert au.as_row()["total"] > 0  # it is calcium a scorer sees
    again = H.insert_plaques(hu, sp, anatomy, 0, mac=True)
    assert np.array_equal(again.hu, mac.hu) and np.array_equal(again.mac, mac.mac)
    assert [b.centre_mm for b in again.mac_blobs] == [b.centre_mm for b in mac.mac_blobs]
    for b in mac.mac_blobs:
        assert N.MAC_THICK_MM[0] * 0.6 - 1e-9 <= b.radius_mm <= N.MAC_THICK_MM[1] * 1.25 + 1e-9
        assert 200 <= b.hu <= 1400 and b.kind == "mitral_annulus"


def test_mac_keeps_clear_of_plaques_and_lies_just_inside_the_lcx(scan, pairs):
    _, sp, _ = scan
    for plain, mac in pairs.values():
        # no MAC voxel joins a plaque's footprint: the nearest pair of voxels lies >= 2 mm apart
        d = ndimage.distance_transform_edt(plain.labels == 0, sampling=sp)
        assert d[mac.mac].min() >= 2.0
        lcx = mac.courses["LCX"]
        for b in mac.mac_blobs:
            c = np.array(b.centre_mm)[::-1]
            gap = np.linalg.norm(lcx - c, axis=1).min() - b.radius_mm - H.LUMEN_RADIUS_MM["LCX"]
            # the drawn LCX-annulus gap (2-9 mm) + the push out of fat (<= 6 mm), with slack for a course's curve
            assert H.MAC_GAP_MM[0] - 1.0 <= gap <= H.MAC_GAP_MM[1] + H.MAC_PUSH_MM + 1.0


def test_no_lcx_no_mac(scan):
    _, _, anatomy = scan
    ax = H.heart_axes(anatomy)
    blobs, note = H.mitral_annulus_blobs({"LAD": np.zeros((5, 3))}, ax, lambda p: np.zeros(len(p)),
                                         np.random.default_rng(0), plaque_points=np.zeros((0, 3)))
    assert blobs == [] and "LCX" in note


def test_mac_lumps_is_the_phantoms_band():
    rng = np.random.default_rng(3)
    radii, hus = N.mac_lumps(rng, 40.0, 2.0, 600.0)
    assert len(radii) == len(hus) == 21  # spheres a radius apart along the arc
    assert (radii >= 0.8).all() and (radii <= 2.5 + 1e-9).all() and (hus >= 450 - 1e-6).all() and (hus <= 720 + 1e-6).all()
    # the same draws as before the helper was factored out of draw_cardiac_calcium
    ref = np.random.default_rng(3)
    assert np.array_equal(radii, np.clip(2.0 * ref.uniform(0.6, 1.25, 21), 0.8, 4.0))
    assert np.array_equal(hus, np.clip(600.0 * ref.uniform(0.75, 1.2, 21), 200, 1400))


def test_score_case_counts_mac_apart_from_native_false_positives(scan, pairs):
    import hybrid_cases as HC

    from cacscore.lesion.classifier import load_model
    from cacscore.predict.predictors import DEFAULT_MODEL

    hu, sp, anatomy = scan
    _, mac = pairs[0]
    r = HC.score_case(load_model(DEFAULT_MODEL), mac.hu, sp, mac, anatomy)
    assert r["mac"]["mac_candidates"] >= 1 and r["mac"]["mac_au"] > 0
    assert 0 <= r["mac"]["mac_called_au"] <= r["mac"]["mac_au"]
    assert r["mac"]["mac_called_au"] == pytest.approx(sum(r["mac"][f"mac_called_{v}"] for v in ("LCA", "LAD", "LCX", "RCA")))
    # a MAC candidate is never also a native false positive
    if len(r["fp"]):
        zyx = r["fp"][["z_mm", "y_mm", "x_mm"]].to_numpy() / np.asarray(sp)
        idx = tuple(np.clip(np.rint(zyx).astype(int), 0, np.array(hu.shape) - 1).T)
        assert not mac.mac[idx].any()


def test_add_mac_to_a_written_hybrid_keeps_its_labels_and_truth(scan, pairs):
    _, sp, anatomy = scan
    plain, _ = pairs[1]
    added = H.add_mac(plain.hu, plain.labels, sp, anatomy, 1)
    assert added.mac.any(), added.mac_note
    assert np.array_equal(added.labels, plain.labels) and added.truth == plain.truth
    assert (added.labels[added.mac] == 0).all()
    near = ndimage.binary_dilation(added.mac, np.ones((3, 3, 3), bool))
    assert np.array_equal(added.hu[~near], plain.hu[~near])
    d = ndimage.distance_transform_edt(plain.labels == 0, sampling=sp)
    assert d[added.mac].min() >= 2.0


def test_mac_flags_and_weights_pick_the_mac_candidates_and_weigh_them_as_lcx(scan, pairs, tmp_path):
    import hybrid_cases as HC
    import hybrid_training as HT

    from cacscore import lesion as L
    from cacscore.io.dicom import Volume

    _, sp, _ = scan
    _, mac = pairs[0]
    vol = Volume(hu=mac.hu, spacing_mm=tuple(sp))
    ct, mask = tmp_path / "h_mac_ct.nii.gz", tmp_path / "h_mac_macmask.nii.gz"
    HC._write_nifti(ct, mac.hu, vol)
    HT.write_labels_nifti(mask, mac.mac, vol)
    cand = L.find_candidates(mac.hu, sp, threshold_hu=130.0, min_area_mm2=1.0)
    targets = L.candidate_targets(cand.ids, mac.labels)
    res = [{"id": "h_mac", "features": cand.features, "targets": targets},
           {"id": "ph_1", "features": cand.features, "targets": targets}]
    flags = HT.mac_flags(res, {"h_mac": str(mask)}, {"h_mac": str(ct)})
    assert flags[0].any() and not flags[1].any() and not (flags[0] & (targets > 0)).any()
    on_mac = np.unique(cand.ids[mac.mac & (cand.ids > 0)]) - 1
    assert set(np.flatnonzero(flags[0])) <= set(on_mac)
    with pytest.raises(SystemExit, match="differ from the cached"):
        HT.mac_flags([{**res[0], "features": cand.features + 1}], {"h_mac": str(mask)}, {"h_mac": str(ct)})
    n = len(targets)
    series = np.array(["A"] * n + [""] * n, object)
    all_t = np.concatenate([targets, targets])
    w, info = HT.mac_like_lcx_weights(np.ones(2 * n), all_t, np.ones(2 * n, bool), np.concatenate(flags), series,
                                      {"A": {"LCX": {"weight": 2.0}}}, 0.5)
    counts = np.bincount(all_t, minlength=5)
    ratio = (counts[0] / max(counts[3], 1)) ** 0.5
    assert info["class_weight_ratio_lcx_to_noncoronary"] == pytest.approx(ratio)
    f = np.concatenate(flags)
    assert np.allclose(w[f], 2.0 * ratio) and (w[~f] == 1).all()
