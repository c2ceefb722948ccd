"""The lesion scorer's report picture: vessel colours where the scorer put each lesion, legend scores."""

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from cacscore.lesion.report import VESSEL_COLOURS, render_lesion_report


def _volume():
    hu = np.full((12, 96, 96), -800.0, dtype=np.float32)
    hu[:, 20:76, 20:76] = 40.0  # a "heart"
    labels = np.zeros(hu.shape, dtype=np.uint8)
    hu[5, 30:36, 30:36] = 500.0
    labels[5, 30:36, 30:36] = 2  # LAD
    hu[7, 60:66, 50:56] = 700.0
    labels[7, 60:66, 50:56] = 4  # RCA
    hu[3, 80:88, 40:60] = 900.0  # bone-like calcium outside: not coronary
    return hu, labels


def _has_colour(img: np.ndarray, colour: str, tol: float = 0.08) -> bool:
    """Pixels of ``colour`` in the image panels (above the legend, which always shows every colour)."""
    panels = img[: int(img.shape[0] * 0.85), :, :3]
    rgb = np.asarray(to_rgb(colour))
    return bool((np.abs(panels - rgb).max(axis=-1) < tol).sum() > 10)


def test_report_shows_each_vessel_in_its_colour(tmp_path):
    hu, labels = _volume()
    out = render_lesion_report(hu, (3.0, 0.7, 0.7), labels, {"LCA": 0, "LAD": 120.0, "LCX": 0, "RCA": 260.0},
                               tmp_path / "case.png", title="case 1", crop_mm=60)
    img = imread(out)
    assert img.shape[0] > 200 and img.shape[1] > 600
    assert _has_colour(img, VESSEL_COLOURS["LAD"]) and _has_colour(img, VESSEL_COLOURS["RCA"])
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically


def test_report_without_coronary_calcium_and_bad_input(tmp_path):
    hu, labels = _volume()
    zero = np.zeros_like(labels)
    out = render_lesion_report(hu, (3.0, 0.7, 0.7), zero, {v: 0.0 for v in ("LCA", "LAD", "LCX", "RCA")},
                               tmp_path / "zero.png", title="case 2")
    img = imread(out)
    assert not any(_has_colour(img, c) for c in VESSEL_COLOURS.values())
    with pytest.raises(ValueError, match="same"):
        render_lesion_report(hu, (3.0, 0.7, 0.7), labels[:-1], {}, tmp_path / "x.png", title="x")
    with pytest.raises(ValueError, match="spacing"):
        render_lesion_report(hu, (3.0, 0.0, 0.7), labels, {}, tmp_path / "x.png", title="x")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 3-patient phantom release at 96 px and a briefly trained candidate scorer on it."""
    import torch

    from cacscore.lesion import train as LC
    from cacscore import lesion as L
    from cacscore.phantom import write_release

    root = tmp_path_factory.mktemp("lesion_report")
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # the tiny MLP on a busy 2-core machine (see tests/test_lesion_cohort.py)
    try:
        write_release(root / "release", n_patients=3, seed=7, size=96)
        LC.train_lesion_model(LC.training_pairs(root / "release"), root / "model", progress=False,
                              config=L.ClassifierConfig(hidden=(16,), epochs=5, batch_size=256, seed=0))
    finally:
        torch.set_num_threads(n)
    return root / "release", root / "model"


def test_cli_lesion_score_report(trained, tmp_path, capsys):
    """`cacscore lesion-score MODEL CT --report DIR` writes one picture per scored scan (and its labels)."""
    from cacscore import cli

    release, model = trained
    ct = release / "deidentified_nongated" / "1" / "1"
    rc = cli.main(["lesion-score", str(model), str(ct), str(tmp_path / "nope"), "--report",
                   str(tmp_path / "rep"), "--no-progress"])
    assert rc == 1  # one input failed, the other was scored and pictured
    assert (tmp_path / "rep" / "1.png").is_file() and (tmp_path / "rep" / "labels" / "1.nii.gz").is_file()
    assert imread(tmp_path / "rep" / "1.png").shape[1] > 600
    assert "pictures in" in capsys.readouterr().err


def test_predict_with_a_lesion_model(trained, tmp_path):
    """`cacscore predict` takes a lesion-train folder: the same scores as lesion-score, the HTML report with the
    lesion pictures and the candidate scorer's own explanation."""
    import pandas as pd

    from cacscore import cli
    from cacscore.predict.lesion_score import score_cases
    from cacscore.predict.predictors import LesionPredictor, load_predictor
    from cacscore.predict.run import predict_inputs

    release, model = trained
    cts = [release / "deidentified_nongated" / str(i) / str(i) for i in (1, 2)]
    assert isinstance(load_predictor(model), LesionPredictor)
    run = predict_inputs(model, [*cts, tmp_path / "missing"], report_dir=tmp_path / "rep", progress=False)
    assert len(run.ok) == 2 and len(run.failed) + len(run.problems) == 1
    want = score_cases(model, cts, progress=False).set_index("id")
    table = run.table().set_index("id")
    for v in ("LCA", "LAD", "LCX", "RCA", "total"):
        np.testing.assert_allclose(table.loc[want.index, v], want[v], rtol=1e-9, atol=1e-9)
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "candidate classifier" in html and "saliency images" not in html
    assert all(r.report_png is not None and r.report_png.is_file() for r in run.ok)
    rc = cli.main(["predict", str(model), str(cts[0]), "--out", str(tmp_path / "p.csv")])
    # the CSV holds 6 significant digits (float_format "%.6g")
    assert rc == 0 and pd.read_csv(tmp_path / "p.csv")["total"].iloc[0] == pytest.approx(want.loc["1", "total"], rel=5e-6)


def test_zero_calcium_report_shows_the_heart_not_the_image_centre():
    from cacscore.lesion.report import _view
    from cacscore.phantom import make_patient
    from cacscore.chest.heart import find_heart

    p = make_patient(3, seed=5, size=96)
    # a scan whose heart is off the volume's z centre, as in a chest CT that reaches far into the abdomen
    hu = np.concatenate([p.hu, np.repeat(p.hu[:1], p.hu.shape[0], axis=0)], axis=0)
    hz = find_heart(hu, p.spacing_mm)[0]
    assert abs(hz - hu.shape[0] / 2) > 5
    centre, shown = _view(hu, p.spacing_mm, np.zeros(hu.shape, bool), None, 3)
    assert centre[0] == hz and shown == [hz - 1, hz, hz + 1]


def test_non_coronary_calcium_is_outlined_in_a_visible_colour(tmp_path):
    from cacscore.lesion.report import NON_CORONARY_COLOUR

    hu, labels = _volume()
    hu[3, 40:44, 30:34] = 400.0
    labels[3, 40:44, 30:34] = 2  # a LAD lesion on the slice of the bone-like calcium, so that slice is shown
    out = render_lesion_report(hu, (3.0, 0.7, 0.7), labels, {"LCA": 0, "LAD": 150.0, "LCX": 0, "RCA": 260.0},
                               tmp_path / "case.png", title="case 3", crop_mm=66)
    assert _has_colour(imread(out), NON_CORONARY_COLOUR, tol=0.12)


def test_found_heart_index_replaces_the_second_heart_search(monkeypatch, tmp_path):
    """With no coronary calcium, the picture centres on the heart the candidates were placed from
    (found_heart_index) instead of searching for it again: same view, same picture, no find_heart call."""
    from cacscore.lesion import report as LR
    from cacscore import lesion as L
    from cacscore.phantom import make_patient

    p = make_patient(3, seed=5, size=96)
    cand = L.find_candidates(p.hu, p.spacing_mm)
    zero = np.zeros(p.hu.shape, bool)
    before = LR._view(p.hu, p.spacing_mm, zero, None, 3)  # the old path: find_heart here
    scores = {v: 0.0 for v in VESSEL_COLOURS}
    old_png = render_lesion_report(p.hu, p.spacing_mm, zero.astype(np.uint8), scores, tmp_path / "old.png", title="z")

    def no_search(*a, **k):
        raise AssertionError("find_heart called again")

    monkeypatch.setattr(LR, "find_heart", no_search)
    assert LR._view(p.hu, p.spacing_mm, zero, None, 3, cand.heart_index) == before
    new_png = render_lesion_report(p.hu, p.spacing_mm, zero.astype(np.uint8), scores, tmp_path / "new.png", title="z",
                                   found_heart_index=cand.heart_index)
    assert np.array_equal(imread(old_png), imread(new_png))
    # with coronary calcium the centre stays the lesions' centroid: the hint is not used
    hu, labels = _volume()
    cor = labels > 0
    assert LR._view(hu, (3.0, 0.7, 0.7), cor, None, 3, (0, 0, 0)) == LR._view(hu, (3.0, 0.7, 0.7), cor, None, 3)


def test_metal_warning_from_predict_and_lesion_score(trained, tmp_path):
    """A stent-like 3,000 HU cylinder at a coronary: predict (lesion model) and lesion-score warn, and the
    picture shows the warning; the same cylinder in the shoulder, or none, gives no metal warning."""
    import pandas as pd

    from cacscore.predict.lesion_score import score_cases
    from cacscore.phantom import make_patient
    from cacscore.predict.run import predict_inputs
    from metal_fixtures import metal_scans

    _, model = trained
    scans = metal_scans(tmp_path / "in", make_patient(1, seed=7, size=96))  # as tests/test_metal.py (anatomy v2)
    run = predict_inputs(model, list(scans.values()), report_dir=tmp_path / "rep", progress=False)
    w = run.table().set_index("id")["warnings"]
    assert "metal in the heart region (" in w["stent"] and "scores unreliable" in w["stent"]
    assert "metal" not in w["plain"] and "metal" not in w["shoulder"]
    df = score_cases(model, list(scans.values()), report_dir=tmp_path / "rep2", progress=False).set_index("id")
    assert "metal in the heart region (" in df.loc["stent", "warnings"]
    assert "metal" not in df.loc["plain", "warnings"] and "metal" not in df.loc["shoulder", "warnings"]
    assert (df["warnings"] == w.loc[df.index]).all()  # one pipeline: the same warnings as predict's
    assert (df["error"] == "").all() and not pd.isna(df["total"]).any()
    warn_red = "#c00000"
    assert _has_colour(imread(tmp_path / "rep2" / "stent.png"), warn_red, tol=0.15)
    # the plain scan carries one warning only, the noisy-image one (this 96 px phantom's noise reads 51 HU), and its
    # picture shows it in the same colour; so the picture's colour tells warned from not warned, not metal from noise
    assert df.loc["plain", "warnings"].startswith("noisy image (noise about ") and ";" not in df.loc["plain", "warnings"]
    assert _has_colour(imread(tmp_path / "rep2" / "plain.png"), warn_red, tol=0.15)


def test_slices_choose_what_is_shown(tmp_path):
    """slices= shows those slices (e.g. a false call's) instead of the ones with the most coronary calcium."""
    from unittest import mock

    import matplotlib.axes

    hu, labels = _volume()
    titles = []
    real = matplotlib.axes.Axes.set_title
    with mock.patch.object(matplotlib.axes.Axes, "set_title",
                           lambda self, t, *a, **k: (titles.append(t), real(self, t, *a, **k))[1]):
        render_lesion_report(hu, (3.0, 0.7, 0.7), labels, {}, tmp_path / "s.png", title="t", slices=[2])
    assert titles[0] == "slice 3 of 12 (from the feet)" and len(titles) == 2  # one slice and the projection
