"""Where the chest reader's aortic root and ascending tube lie against the phantom's own (session 22, wt30a; issue 16's
aortic-wall rule near the root).

    PYTHONPATH=src:bench nice -n 10 python bench/aortic_root_probe.py RELEASE OUT --seed S --ids 1-40 [--p-mac 1]

For each patient of a phantom release: the phantom's annulus (``Anatomy.aorta_root``) and its left-main centreline
(re-drawn from ``numpy.random.default_rng([seed, pid])``, no render), the scan's chest anatomy as the shipped model
reads it (``read_chest`` with the model's sac), and where the true left main lies in the anatomy columns the aortic-wall
rule reads (distance to the found wall, segment, height above the found root), and on how many centreline points of
the left main and of the RCA's first PROXIMAL_MM the rule fires, shipped and with root_clear_in_sac_mm = 40
(``<vessel>_fires_*``; ``*_peri_at_wall``: the least pericardium distance of those within 4 mm of the found wall). All heights in mm along the scan's z
(voxel 0 = z 0, as the anatomy columns). Writes OUT/root_probe.csv, one row per patient.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from id_ranges import id_range  # noqa: E402

from cacscore.chest.anatomy import read_chest, sac_options  # noqa: E402
from cacscore.io.ct import read_ct, read_labels  # noqa: E402
from cacscore.lesion.anatomy import (  # noqa: E402
    ANATOMY_NAMES, RULE_NAMES, AnatomyRules, anatomy_columns, anatomy_verdicts)
from cacscore.lesion.train import NONGATED_DIR  # noqa: E402
from cacscore.phantom.anatomy import LABEL, chest_grid  # noqa: E402
from cacscore.phantom.core import _draws  # noqa: E402


PROXIMAL_MM = 30.0
"""The RCA's first this many mm (from its ostium) are probed: where it runs beside the aortic root."""


def _scan_mm(grid, p_xyz: np.ndarray) -> np.ndarray:
    """Phantom (x, y, z) mm -> the scan's (z, y, x) mm from voxel 0 (z ascending, as chest_grid and read_ct)."""
    p = np.asarray(p_xyz, float).reshape(-1, 3)
    z0 = 0.5 * (grid.z_edges_mm[0] + grid.z_edges_mm[1])
    return np.stack([p[:, 2] - z0, p[:, 1] - grid.y_mm[0], p[:, 0] - grid.x_mm[0]], 1)


def probe(release: Path, pid: int, seed: int, p_mac: float | None, chest_sac: str) -> dict:
    d, _ = _draws(pid, seed, 512, version="v11", p_mac=p_mac)
    grid = chest_grid(d.anat, 512)
    vol = read_ct(release / NONGATED_DIR / str(pid) / str(pid))
    sp = tuple(abs(float(v)) for v in vol.spacing_mm)
    an = read_chest(vol.hu, sp, sac=sac_options(chest_sac))
    lab = read_labels(release / "anatomy" / f"{pid}.nii.gz")
    asc_k = np.nonzero((lab == LABEL["aorta_ascending"]).any((1, 2)))[0]
    annulus = _scan_mm(grid, d.anat.aorta_root)[0]
    lm = _scan_mm(grid, d.vessels["LCA"].points)
    cols = anatomy_columns(an, lm)
    rca = _scan_mm(grid, d.vessels["RCA"].points)
    rca = rca[np.r_[0, np.cumsum(np.linalg.norm(np.diff(rca, axis=0), axis=1))] <= PROXIMAL_MM]
    fires = {}
    for name, pts in (("lm", lm), ("rca", rca)):
        c = anatomy_columns(an, pts)
        for tag, rules in (("shipped", AnatomyRules()), ("sac40", AnatomyRules(root_clear_in_sac_mm=40.0))):
            fires[f"{name}_fires_{tag}"] = int(anatomy_verdicts(c, rules)[:, RULE_NAMES.index("aortic wall")].sum())
        fires[f"{name}_peri_at_wall"] = float(np.nanmin(np.where(np.abs(c[:, 1]) <= 4.0, c[:, 0], np.nan))) \
            if (np.abs(c[:, 1]) <= 4.0).any() else np.nan
    wall, seg, above = (cols[:, ANATOMY_NAMES.index(c)] for c in ("aortic_wall_mm", "aorta_segment", "above_root_mm"))
    tube = an.aorta
    asc = tube.centreline_mm[tube.segment == 0] if len(tube.centreline_mm) else np.zeros((0, 3))
    return {"pid": pid, "dz_mm": sp[0], "true_annulus_z": annulus[0], "label_asc_low_z": asc_k.min() * sp[0] if len(asc_k) else np.nan,
            "found_root_z": an.aortic_root_mm[0], "found_track_low_z": asc[:, 0].min() if len(asc) else np.nan,
            "root_err_z": an.aortic_root_mm[0] - annulus[0],
            "root_err_inplane": float(np.hypot(*(an.aortic_root_mm[1:] - annulus[1:]))),
            "lm_z0": lm[0, 0], "lm_z1": lm[-1, 0], "lm_above_true": lm[:, 0].mean() - annulus[0],
            "lm_above_found_min": np.nanmin(above), "lm_above_found_max": np.nanmax(above),
            "lm_wall_min": np.nanmin(wall), "lm_wall_max": np.nanmax(wall),
            "lm_seg": ",".join(str(int(s)) for s in np.unique(seg[np.isfinite(seg)])),
            "lm_fires_default": int(((np.abs(wall) <= 4.0) & (seg >= 0) & ~((seg == 0) & ~(above > 20.0))).sum()),
            "lm_n": len(lm), "root_conf": an.parts["root"].confidence, "aorta_conf": an.parts["aorta"].confidence,
            "aorta_r_true": d.anat.aorta_r, **fires}


def main(argv: list[str] | None = None) -> int:
    import json

    from cacscore.predict.predictors import DEFAULT_MODEL

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("release", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--p-mac", type=float, default=None)
    a = ap.parse_args(argv)
    sac = json.loads((DEFAULT_MODEL / "model.json").read_text())["config"].get("chest_sac", "s18")
    a.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for pid in id_range(a.ids):
        if not (a.release / "labels" / f"{pid}.nii.gz").is_file():
            continue
        rows.append(probe(a.release, pid, a.seed, a.p_mac, sac))
        print({k: (round(v, 1) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    pd.DataFrame(rows).to_csv(a.out / "root_probe.csv", index=False, float_format="%.2f")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
