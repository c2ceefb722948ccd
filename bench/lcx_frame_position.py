"""Where the real LCX / LAD plaques lie in the classifier's own frame, against the phantom's (session 15, wt23a; issue 16:
the phantom-trained scorer gives the real LCX of the LIDC-0002 hybrids to the LAD).

The `ring` feature set's position columns are dz_mm / dy_mm / dx_mm from the FOUND heart centre (dz superior, dy
posterior, dx patient left; candidates.FEATURE_NAMES) plus r_inplane / cos / sin of the in-plane angle. Real: the inserted
plaques' candidates of the hybrids (cacscore.phantom.hybrid courses), read from bench/voxel_split.py hybrids outputs
(plaques.csv, one model's rows: the features do not depend on the model). Phantom: the coronary training candidates
cached by bench/v11_fold.py extract (features, targets 1..4 = LCA, LAD, LCX, RCA).

    PYTHONPATH=src python bench/lcx_frame_position.py OUT --hybrid 0002=/work/runs/lead/V_0002/plaques.csv ... \
        --phantom v11=/work/runs/wt22a/cache_v11/v2-heart_reference-finder ...

Prints per (set, vessel) the AU-weighted and count 10/50/90th percentiles of dz, dy, dx and the in-plane angle
atan2(dx, -dy) (0 = straight anterior, 90 = patient left, 180 = posterior), and a per-column separation of real LCX from
phantom LCX and from phantom LAD (difference of medians over the pooled SD); OUT/positions.png: dx-dy and dx-dz scatters.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

VESSEL = {1: "LCA", 2: "LAD", 3: "LCX", 4: "RCA"}
COLS = ("dz_mm", "dy_mm", "dx_mm", "angle_deg", "r_inplane_mm")


def real_rows(spec: str) -> pd.DataFrame:
    name, path = spec.split("=", 1)
    d = pd.read_csv(path)
    d = d[d.model == d.model.iloc[0]]
    out = pd.DataFrame({"set": f"real {name}", "vessel": d.truth_vessel, "dz_mm": d.dz_mm, "dy_mm": d.dy_mm,
                        "dx_mm": d.dx_mm, "au": d.au})
    return out


def phantom_rows(spec: str) -> pd.DataFrame:
    from cacscore.lesion.candidates import FEATURE_NAMES
    name, path = spec.split("=", 1)
    j = {c: FEATURE_NAMES.index(c) for c in ("dz_mm", "dy_mm", "dx_mm", "log_agatston")}
    rows = []
    for f in sorted(Path(path).glob("*.npz")):
        z = np.load(f)
        keep = z["targets"] > 0
        ft, t = z["features"][keep], z["targets"][keep]
        rows.append(pd.DataFrame({"set": f"phantom {name}", "vessel": [VESSEL[int(v)] for v in t],
                                  "dz_mm": ft[:, j["dz_mm"]], "dy_mm": ft[:, j["dy_mm"]], "dx_mm": ft[:, j["dx_mm"]],
                                  "au": np.expm1(ft[:, j["log_agatston"]]), "case": f.stem}))
    return pd.concat(rows, ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--hybrid", nargs="+", default=[])
    ap.add_argument("--phantom", nargs="+", default=[])
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    d = pd.concat([*(real_rows(s) for s in a.hybrid), *(phantom_rows(s) for s in a.phantom)], ignore_index=True)
    d["angle_deg"] = np.degrees(np.arctan2(d.dx_mm, -d.dy_mm))
    d["r_inplane_mm"] = np.hypot(d.dx_mm, d.dy_mm)
    d.to_csv(a.out / "positions.csv", index=False)
    print("| set | vessel | n | AU | " + " | ".join(f"{c} p10 / p50 / p90" for c in COLS) + " |")
    print("| --- | --- | ---: | ---: |" + " --- |" * len(COLS))
    for (s, v), g in d.groupby(["set", "vessel"], sort=True):
        cells = [" / ".join(f"{q:.0f}" for q in np.percentile(g[c], [10, 50, 90])) for c in COLS]
        print(f"| {s} | {v} | {len(g)} | {g.au.sum():.0f} | " + " | ".join(cells) + " |")
    print("\nseparation (median difference / pooled SD) of each real LCX set from phantom LCX and phantom LAD:")
    for s in sorted(x for x in d.set.unique() if x.startswith("real")):
        r = d[(d.set == s) & (d.vessel == "LCX")]
        for p in sorted(x for x in d.set.unique() if x.startswith("phantom")):
            for v in ("LCX", "LAD"):
                q = d[(d.set == p) & (d.vessel == v)]
                if len(r) < 2 or len(q) < 2:
                    continue
                parts = []
                for c in COLS:
                    sd = np.sqrt(0.5 * (r[c].var() + q[c].var()))
                    parts.append(f"{c} {r[c].median() - q[c].median():+.0f} mm/deg ({(r[c].median() - q[c].median()) / sd:+.2f} SD)")
                print(f"  {s} LCX - {p} {v}: " + "; ".join(parts))
    sets = list(d.set.unique())
    fig, axs = plt.subplots(2, len(sets), figsize=(4 * len(sets), 8), squeeze=False)
    colours = {"LCA": "k", "LAD": "tab:blue", "LCX": "tab:red", "RCA": "tab:green"}
    for i, s in enumerate(sets):
        g = d[d.set == s]
        for v, c in colours.items():
            h = g[g.vessel == v]
            axs[0, i].scatter(h.dx_mm, -h.dy_mm, s=6, c=c, label=v, alpha=0.6)
            axs[1, i].scatter(h.dx_mm, h.dz_mm, s=6, c=c, label=v, alpha=0.6)
        axs[0, i].set(title=f"{s}: axial (dx, -dy)", xlabel="dx mm (patient left)", ylabel="-dy mm (anterior)",
                      xlim=(-90, 110), ylim=(-90, 90))
        axs[1, i].set(title=f"{s}: coronal (dx, dz)", xlabel="dx mm (patient left)", ylabel="dz mm (superior)",
                      xlim=(-90, 110), ylim=(-90, 90))
        axs[0, i].legend(fontsize=7)
        for ax in axs[:, i]:
            ax.axhline(0, c="0.7", lw=0.5)
            ax.axvline(0, c="0.7", lw=0.5)
    fig.tight_layout()
    fig.savefig(a.out / "positions.png", dpi=70)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
