"""bench/hybrid_training.py: hybrid cases written as a lesion-train CSV (read back by training_pairs, labels scoring
the case's truth), the leave-one-series-out tables, the cached training equal to lesion-train's, and
bench/hybrid_cases.classify_many equal to classify_volume per model. The 'real' scan is a small phantom rendered
without coronary calcium (as tests/test_hybrid.py)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import hybrid_cases as HC
import hybrid_training as HT

from cacscore.core.vessels import VESSELS
from cacscore.io.ct import read_ct, read_labels
from cacscore.io.dicom import Volume
from cacscore.lesion.classifier import classify_volume, load_model
from cacscore.lesion.train import train_lesion_model, training_pairs
from cacscore.phantom.core import make_patient
from cacscore.predict.predictors import DEFAULT_MODEL
from cacscore.scoring.agatston import agatston


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("hyb")
    p = make_patient(3, seed=5, size=128, with_coronary_calcium=False)
    real = root / "real.nii.gz"
    HC._write_nifti(real, p.hu, Volume(hu=p.hu, spacing_mm=tuple(p.spacing_mm)))
    table = HT.write_hybrids(root, [str(real)], range(100, 102), root / "hybrids", None)
    return root, table


def _classify_many_matches_classify_volume(ct_path, models: dict) -> None:
    """bench/hybrid_cases.classify_many (one candidate search shared by the models) gives every model the candidates
    and classes classify_volume gives it alone."""
    vol = read_ct(ct_path)
    sp = tuple(abs(float(s)) for s in vol.spacing_mm)
    cand, classes = HC.classify_many(vol.hu, sp, models)
    for name, m in models.items():
        c1, k1 = classify_volume(vol.hu, sp, m)
        np.testing.assert_array_equal(c1.ids, cand.ids)
        np.testing.assert_array_equal(k1, classes[name])


def test_written_hybrids_are_a_lesion_train_csv_whose_labels_score_the_truth(written):
    root, table = written
    csv = root / "hybrids" / "hybrids.csv"
    cases = training_pairs(csv)
    assert [c.id for c in cases] == ["real_s100", "real_s101"] == list(table["id"])
    for c, row in zip(cases, table.itertuples()):
        vol, lab = read_ct(c.ct), read_labels(c.labels)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        got = agatston(vol.hu, lab, pixel_spacing_mm=(sp[1], sp[2]), slice_spacing_mm=sp[0]).as_row()
        assert got["total"] > 0
        for v in (*VESSELS, "total"):
            assert got[v] == pytest.approx(getattr(row, f"truth_{v}"))
    # a second call finds them listed and writes nothing new
    again = HT.write_hybrids(root, [str(root / "real.nii.gz")], range(100, 102), root / "hybrids", None)
    assert list(again["id"]) == list(table["id"])


def test_leave_one_series_out_tables_never_hold_the_held_out_series():
    ph = pd.DataFrame({"id": ["ph_1", "ph_2"], "ct": ["a", "b"], "labels": ["la", "lb"]})
    hy = pd.DataFrame({"id": [f"s{k}_h{j}" for k in (1, 2, 3) for j in (0, 1)],
                       "ct": list("cdefgh"), "labels": list("CDEFGH"), "series": [f"s{k}" for k in (1, 2, 3) for _ in (0, 1)]})
    t = HT.fold_tables(ph, hy)
    assert sorted(t) == ["all3", "loso_s1", "loso_s2", "loso_s3", "phantom"]
    assert list(t["phantom"]["id"]) == ["ph_1", "ph_2"]
    for s in ("s1", "s2", "s3"):
        ids = list(t[f"loso_{s}"]["id"])
        assert ids[:2] == ["ph_1", "ph_2"] and len(ids) == 6 and not any(i.startswith(s + "_") for i in ids)
    assert len(t["all3"]) == 8 and t["all3"]["id"].is_unique


def test_per_series_keeps_the_lowest_seeds_of_every_series():
    ph = pd.DataFrame({"id": ["ph_1"], "ct": ["a"], "labels": ["la"]})
    # rows out of seed order, so taking the first k rows would differ from taking the k lowest seeds
    seeds = [(s, j) for s in ("s1", "s2", "s3") for j in (102, 100, 101)]
    hy = pd.DataFrame({"id": [f"{s}_h{j}" for s, j in seeds], "ct": "c", "labels": "l",
                       "series": [s for s, _ in seeds], "seed": [j for _, j in seeds]})
    t = HT.fold_tables(ph, hy, per_series=2)
    assert sorted(t["loso_s1"]["id"]) == ["ph_1", "s2_h100", "s2_h101", "s3_h100", "s3_h101"]
    assert len(t["all3"]) == 7 and not t["all3"]["id"].str.endswith("h102").any()
    assert len(HT.fold_tables(ph, hy)["all3"]) == 10  # default: every hybrid
    with pytest.raises(SystemExit, match="fewer than 4"):
        HT.fold_tables(ph, hy, per_series=4)


def test_cached_training_is_lesion_train_and_classify_many_is_classify_volume(written, tmp_path):
    root, _ = written
    csv = root / "hybrids" / "hybrids.csv"
    cfg = dataclasses.replace(HT.LESION_TRAIN_DEFAULTS, epochs=3)
    train_lesion_model(training_pairs(csv), tmp_path / "ref", config=cfg, progress=False)
    HT.train_cached(csv, tmp_path / "cached", tmp_path / "cache", config=cfg)
    assert sorted(HT.cache_folder(tmp_path / "cache", cfg).glob("*.npz"))  # the candidates were kept
    HT.train_cached(csv, tmp_path / "again", tmp_path / "cache", config=cfg)  # from the cache this time
    ref = load_file(tmp_path / "ref" / "model.safetensors")
    for d in ("cached", "again"):
        got = load_file(tmp_path / d / "model.safetensors")
        assert sorted(got) == sorted(ref)
        for k in ref:
            np.testing.assert_array_equal(got[k], ref[k])
    models = {"shipped": load_model(DEFAULT_MODEL), "small": load_model(tmp_path / "ref")}
    # session 17: a model with the noise floor on (its noise estimated once for all) gets what it gets alone too
    shipped = models["shipped"]
    models["floor"] = dataclasses.replace(shipped, config=dataclasses.replace(shipped.config, noise_floor_k=3.0))
    _classify_many_matches_classify_volume(root / "hybrids" / "real_s100_ct.nii.gz", models)


def test_min_plaques_draws_more_plaques_for_training():
    from cacscore.chest.anatomy import read_chest
    from cacscore.phantom.hybrid import insert_plaques

    p = make_patient(3, seed=5, size=128, with_coronary_calcium=False)
    anatomy = read_chest(p.hu, p.spacing_mm)
    base = insert_plaques(p.hu, p.spacing_mm, anatomy, seed=3)
    assert np.array_equal(base.hu, insert_plaques(p.hu, p.spacing_mm, anatomy, seed=3, min_plaques=2).hu)
    many = insert_plaques(p.hu, p.spacing_mm, anatomy, seed=3, min_plaques=10)
    assert len(many.plaques) + len(many.dropped) >= 10
    assert many.truth["total"] > 0


def test_series_vessel_weights_give_every_series_the_phantom_patients_weight_per_vessel():
    # two phantom cases: 4 LAD + 2 RCA within reach (per patient 2 LAD, 1 RCA) and one far LAD (not counted)
    ph = [np.array([0, 2, 2, 4, 2]), np.array([2, 4, 0, 2])]
    ph_near = [np.array([1, 1, 1, 1, 0], bool), np.ones(4, bool)]
    # series a: 2 hybrids, 8 LAD + 1 RCA; series b: 1 hybrid, 1 LAD, no RCA, one LCX
    a = [np.array([2, 2, 2, 2, 0, 4]), np.array([2, 2, 2, 2, 0])]
    b = [np.array([2, 3, 0, 0])]
    w, summary = HT.series_vessel_weights([None, None, "a", "a", "b"], ph + a + b, ph_near + [np.ones(6, bool),
                                          np.ones(5, bool), np.ones(4, bool)])
    for x in w[:2]:
        np.testing.assert_array_equal(x, 1.0)  # phantom rows untouched, the far one too
    for i, t in enumerate(ph + a + b):
        np.testing.assert_array_equal(w[i][t == 0], 1.0)  # non-coronary rows untouched
    lad_a = np.concatenate([w[2][a[0] == 2], w[3][a[1] == 2]])
    assert lad_a.sum() == pytest.approx(2 * 2.0) and np.allclose(lad_a, 0.5)  # h=2 hybrids x 2 LAD per patient
    assert w[2][a[0] == 4].sum() == pytest.approx(2 * 1.0)  # one RCA candidate blown up to 2 patients' RCA
    assert w[4][b[0] == 2].sum() == pytest.approx(2.0)  # h=1 x 2 LAD
    assert summary["b"]["RCA"] == {"n": 0, "target": 1.0, "weight": 1.0}
    # LCX: the phantom has none, so a series' LCX is weighted to 0 (the target is 0)
    assert w[4][b[0] == 3].sum() == 0.0 and summary["b"]["LCX"]["target"] == 0.0
    capped, _ = HT.series_vessel_weights([None, None, "a", "a", "b"], ph + a + b, ph_near + [np.ones(6, bool),
                                         np.ones(5, bool), np.ones(4, bool)], cap=1.0)
    assert capped[2][a[0] == 4][0] == 1.0 and np.allclose(capped[2][a[0] == 2], 0.5)  # cap: down-weighting only
    with pytest.raises(SystemExit, match="no phantom case"):
        HT.series_vessel_weights(["a"], a[:1], [np.ones(6, bool)])


def test_series_weights_reach_the_classifier(written, tmp_path, monkeypatch):
    root, table = written
    csv = root / "hybrids" / "hybrids.csv"
    ph = pd.DataFrame({"id": ["ph_1"], "ct": [table["ct"][0]], "labels": [table["labels"][0]]})
    both = tmp_path / "both.csv"
    pd.concat([ph, table[["id", "ct", "labels"]]]).to_csv(both, index=False)
    got = {}
    real = HT.L.train_classifier

    def spy(f, t, **kw):
        got["w"], got["t"] = kw["sample_weight"], t
        return real(f, t, **kw)

    monkeypatch.setattr(HT.L, "train_classifier", spy)
    cfg = dataclasses.replace(HT.LESION_TRAIN_DEFAULTS, epochs=1)
    rep = HT.train_cached(both, tmp_path / "w", tmp_path / "cache", config=cfg, series_of=HT.hybrid_series(csv))
    w, t = got["w"], got["t"]
    assert w.shape == t.shape and np.all(w[t == 0] == 1.0)
    assert set(rep["series_weights"]["per_series"]) == {"real"}
    HT.train_cached(both, tmp_path / "u", tmp_path / "cache", config=cfg)
    assert got["w"] is None  # no series map: lesion-train's unweighted training


def test_lookalike_kinds_read_the_calcium_label_at_quarter_cover_else_the_majority():
    names = {0: "outside", 5: "heart", 19: "costal_cartilage", 22: "liver", 33: "mitral_annulus_calcium",
             30: "aortic_wall_calcium"}
    ids = np.zeros((1, 4, 8), np.int32)
    anat = np.zeros((1, 4, 8), np.uint8)
    ids[0, 0, :4], anat[0, 0, :4] = 1, [5, 5, 5, 33]      # 1/4 MAC in the heart: MAC
    ids[0, 1, :4], anat[0, 1, :4] = 2, [5, 5, 5, 5]       # heart only: other
    ids[0, 2, :5], anat[0, 2, :5] = 3, [22, 22, 22, 5, 30]  # 1/5 aortic calcium: under a quarter, majority liver
    ids[0, 3, :2], anat[0, 3, :2] = 4, [19, 19]
    assert list(HT.lookalike_kinds(ids, anat, names)) == ["MAC", "other", "abdominal", "cartilage"]


def test_sac_reference_trains_and_scores_in_its_own_frame_and_cache(written, tmp_path):
    """ClassifierConfig.reference "sac": the cached training equals lesion-train's, its candidates live in their own
    cache folder (a file of another frame is refused), and classify_many gives the sac model what classify_volume
    gives it next to a finder model."""
    root, _ = written
    csv = root / "hybrids" / "hybrids.csv"
    cfg = dataclasses.replace(HT.LESION_TRAIN_DEFAULTS, epochs=3, reference="sac")
    train_lesion_model(training_pairs(csv), tmp_path / "ref", config=cfg, progress=False)
    HT.train_cached(csv, tmp_path / "cached", tmp_path / "cache", config=cfg)
    sac_dir, finder_dir = (HT.cache_folder(tmp_path / "cache", c) for c in (cfg, HT.LESION_TRAIN_DEFAULTS))
    assert sac_dir == tmp_path / "cache" / "v2-heart_reference-sac"
    assert not list((tmp_path / "cache").glob("*.npz")) and list(sac_dir.glob("*.npz"))
    ref, got = (load_file(tmp_path / d / "model.safetensors") for d in ("ref", "cached"))
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k])
    assert load_model(tmp_path / "cached").config.reference == "sac"
    stray = next(sac_dir.glob("*.npz"))
    finder_dir.mkdir()
    stray.rename(finder_dir / stray.name)  # a sac file where the finder's are kept
    with pytest.raises(HT.LesionCohortError, match="heart_reference:sac"):
        HT.train_cached(csv, tmp_path / "mixed", tmp_path / "cache", config=HT.LESION_TRAIN_DEFAULTS)
    models = {"shipped": load_model(DEFAULT_MODEL), "sac": load_model(tmp_path / "ref")}
    _classify_many_matches_classify_volume(root / "hybrids" / "real_s100_ct.nii.gz", models)


def test_cache_of_an_older_version_is_never_read(tmp_path):
    """Candidates cached before session 13 (version 1: CACHE/<id>.npz, placed by find_candidates' own heart finder)
    are not read by version 2, and a file without its frame in a version-2 folder is refused: old-frame and
    new-frame rows never mix silently."""
    case = HT.Case("x", tmp_path / "no_ct", tmp_path / "no_labels.nii.gz")
    rows = {"features": np.zeros((1, 3), np.float32), "targets": np.zeros(1, np.int64)}
    np.savez(tmp_path / "x.npz", **rows)  # the version-1 place
    r = HT.cached_extract(case, tmp_path)
    assert "error" in r and "no_ct" in r["error"]  # searched again (and the missing CT reported), not read
    folder = HT.cache_folder(tmp_path, HT.LESION_TRAIN_DEFAULTS)
    assert folder.name == "v2-heart_reference-finder"
    folder.mkdir()
    np.savez(folder / "x.npz", **rows)
    with pytest.raises(HT.LesionCohortError, match="no frame recorded"):
        HT.cached_extract(case, tmp_path)


def test_classify_many_reads_each_chest_root_alone(written, monkeypatch):
    """Models that differ only in ClassifierConfig.chest_root (session 23) get candidates read with their own root
    settings: classify_many searches them apart, as it does models of another chest_sac (the root moves the anatomy
    columns, e.g. above_root_mm)."""
    import cacscore.lesion.classifier as C

    roots = []
    real = C.anatomical_candidates

    def recording(*args, **kw):
        roots.append(kw.get("chest_root", "s22"))
        return real(*args, **kw)

    monkeypatch.setattr(C, "anatomical_candidates", recording)
    root, _ = written
    vol = read_ct(root / "hybrids" / "real_s100_ct.nii.gz")
    shipped = load_model(DEFAULT_MODEL)
    models = {"s22": shipped, "s23": dataclasses.replace(shipped, config=dataclasses.replace(shipped.config,
                                                                                             chest_root="s23"))}
    HC.classify_many(vol.hu, tuple(abs(float(s)) for s in vol.spacing_mm), models)
    assert sorted(roots) == ["s22", "s23"]


def test_series_landmarks_refuses_a_missing_file(tmp_path):
    """A landmarks file that was named but is missing is an error, not a silent switch to ray courses (session 24:
    a snapshot without docs/ changed every hybrid's truth); None (--no-landmarks) and a series the file lacks still
    give ray courses, and a listed series gives its anchors."""
    series_landmarks = HC.series_landmarks
    with pytest.raises(FileNotFoundError, match="no landmarks file"):
        series_landmarks(tmp_path / "absent.json", "lidc-idri-0002")
    assert series_landmarks(None, "lidc-idri-0002") is None
    f = tmp_path / "lm.json"
    f.write_text('{"lidc-idri-0002": {"courses": {"LAD": [[1.0, 2.0, 3.0]]}}}')
    assert series_landmarks(f, "lidc-idri-0001") is None
    assert series_landmarks(f, "lidc-idri-0002") == {"LAD": [[1.0, 2.0, 3.0]]}
