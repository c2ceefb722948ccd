"""Anatomy v10 of the phantom (issue 15, the AV plane; opt-in: make_patient(version="v10"), cacscore phantom --anatomy
v10): the LCX and the RCA run in a groove nearer the base (coronary.V10_GROOVE, drawn from its own stream), the crux,
the left main and the LAD stay where v8 / v9 have them, the MAC is v9's. v11 is the default since session 16 and v8 / v9 draw as
before (their own tests, tests/test_phantom_v8.py and tests/test_phantom_v9.py, pin that)."""

from __future__ import annotations

import numpy as np

from cacscore.cli import build_parser
from cacscore.phantom.anatomy import ANATOMY_VERSION, ANATOMY_VERSIONS
from cacscore.phantom.core import _draws
from cacscore.phantom.coronary import V10_GROOVE, crux_point
from cacscore.phantom.noncoronary import MAC_GEOMETRY, mac_geometry
from version_fixtures import exact_version_patient

SEED = 5
PIDS = range(1, 25)


def _u(d, pts: np.ndarray) -> np.ndarray:
    """Long-axis position (base -1, apex +1) of points (x, y, z) in the patient's heart frame."""
    return (pts - d.anat.heart_c) @ d.anat.heart_axes[0] / d.anat.heart_semi[0]


def _blobs(blobs, kind=None) -> list[tuple]:
    return [(b.centre_mm, b.radius_mm, b.hu, b.kind) for b in blobs if kind is None or b.kind == kind]


def test_v10_is_opt_in_and_keeps_every_other_draw():
    assert ANATOMY_VERSION == "v11" and "v10" in ANATOMY_VERSIONS
    moved = 0
    for pid in PIDS:
        d8, d9, d10 = (_draws(pid, SEED, 64, version=v)[0] for v in ("v8", "v9", "v10"))
        # the left main and the LAD, the plaques drawn (the calibrated sizes, HU, estimates, vessels, positions along
        # the vessel), the motion (drawn after them from the main stream) and the nodes are v8's
        for v in ("LCA", "LAD"):
            assert np.array_equal(d10.vessels[v].points, d8.vessels[v].points)
        assert [(s.vessel, s.s_frac, s.diameter_mm, s.length_mm, s.hu, s.est_score) for s in d10.specs] == \
               [(s.vessel, s.s_frac, s.diameter_mm, s.length_mm, s.hu, s.est_score) for s in d8.specs]
        assert [p.vessel for p in d10.plaques] == [p.vessel for p in d8.plaques]
        assert d10.motion.amplitude_mm == d8.motion.amplitude_mm and _blobs(d10.nodes) == _blobs(d8.nodes)
        assert _blobs(d10.cardiac, "aortic_valve") == _blobs(d8.cardiac, "aortic_valve")
        # the MAC is v9's, less any sphere the moved courses now come too close to
        assert set(_blobs(d10.cardiac, "mitral_annulus")) <= set(_blobs(d9.cardiac, "mitral_annulus"))
        moved += not np.array_equal(d10.vessels["LCX"].points, d8.vessels["LCX"].points)
    assert moved == len(PIDS)
    assert mac_geometry("v10") == MAC_GEOMETRY["v9"] and mac_geometry("v8") == MAC_GEOMETRY["v8"]


def test_v10_groove_is_nearer_the_base_and_higher_with_the_crux_kept():
    for pid in PIDS:
        d8, d10 = (_draws(pid, SEED, 64, version=v)[0] for v in ("v8", "v10"))
        for v in ("LCX", "RCA"):
            a, b = d8.vessels[v], d10.vessels[v]
            n = len(b.points)
            mid = slice(n // 3, 2 * n // 3)  # the course's middle third (the RCA's PDA counted in: still inside)
            assert _u(d10, b.points[mid]).mean() < _u(d8, a.points[mid]).mean() - 0.05
        lcx8, lcx10 = d8.vessels["LCX"].points, d10.vessels["LCX"].points
        assert np.median(lcx10[:, 2]) > np.median(lcx8[:, 2])  # the LCX runs higher in the patient
        # the groove's most basal point is V10_GROOVE's height (u, plus the 2.5 mm the vessels run outside the wall)
        assert _u(d10, lcx10).min() > V10_GROOVE["u"][0] - 0.1
        # the crux and the bifurcation are where v8 has them (within the resampling step)
        c8, c10 = crux_point(d8.vessels), crux_point(d10.vessels)
        assert c8[0] == c10[0]
        assert np.linalg.norm(d8.vessels[c8[0]].points[c8[1]] - d10.vessels[c10[0]].points[c10[1]]) < 1.0
        assert np.array_equal(lcx10[0], lcx8[0])


def test_v10_truth_exact_deterministic_and_labelled_on_its_own_vessels():
    exact_version_patient("v10", {"LCX", "RCA"}, seed=SEED)  # a patient with LCX and RCA plaques



def test_cli_offers_every_version():
    parser = build_parser()
    action = next(a for sub in parser._subparsers._group_actions for name, sp in sub.choices.items()
                  if name == "phantom" for a in sp._actions if "--anatomy" in a.option_strings)
    assert tuple(action.choices) == ANATOMY_VERSIONS
    assert "v8" in action.choices and "v7" not in action.choices and action.default is None  # None: the phantom's


def test_cli_parser_leaves_the_phantom_unimported():
    """The --anatomy choices come from anatomy.ANATOMY_VERSIONS only when asked (session 16): building the parser and
    parsing another subcommand do not import the renderer (a fresh interpreter: this one has it imported)."""
    import subprocess
    import sys

    code = ("import sys; from cacscore.cli import build_parser; p = build_parser(); p.parse_args(['score', 'x', "
            "'--labels', 'y']); assert 'cacscore.phantom.anatomy' not in sys.modules; "
            "a = p.parse_args(['phantom', 'o', '--anatomy', 'v9']); assert a.anatomy == 'v9'; "
            "assert 'cacscore.phantom.anatomy' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mitral_geometry_course_middles():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from mitral_geometry import MID_FRACS, course_points, mid_points

    course = np.array([[0.0, 0, 0], [10, 0, 0], [10, 30, 0]])  # 40 mm long, a right-angle turn at 10 mm
    assert np.allclose(course_points(course, (0.0, 0.25, 0.5, 1.0)), [[0, 0, 0], [10, 0, 0], [10, 10, 0], [10, 30, 0]])
    pts, names = mid_points(course, course[::-1])
    assert names.count("lcx_mid") == len(MID_FRACS["lcx_mid"]) and names.count("rca_mid") == len(MID_FRACS["rca_mid"])
    assert np.allclose(pts[0], [10, 6, 0])  # 40 % of 40 mm: 6 mm past the turn
