"""The aortic root found on a LIDC series against the eye-placed one (tests/data/landmarks_lidc.json): axial slices
at the landmark and at the found root, coronal and sagittal reformats through the landmark. Green + eye-placed,
red x found (shipped RootOptions: the 15 mm drop), yellow o found before session 9; cyan dots: the ascending track.

    PYTHONPATH=src python bench/aortic_root_pictures.py lidc-idri-0001 docs/pictures/aortic_root_lidc-idri-0001.png [DATA]
"""
import sys, json, numpy as np, matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
from pathlib import Path
from cacscore.chest.anatomy import read_chest, RootOptions
from cacscore.io.ct import read_ct
name, out = sys.argv[1], sys.argv[2]
lm = np.array(json.loads((Path(__file__).resolve().parents[1] / "tests" / "data" / "landmarks_lidc.json").read_text())[name]["aortic_root"], float)
vol = read_ct(Path(sys.argv[3] if len(sys.argv) > 3 else "/work/shared/data") / name)
hu = vol.hu; sp = np.array([abs(float(s)) for s in vol.spacing_mm])
new = read_chest(vol); old = read_chest(vol, root_options=RootOptions.before_session9())
fig, ax = plt.subplots(1, 4, figsize=(22, 6))
k = int(round(lm[0] / sp[0])); j = int(round(lm[1] / sp[1])); i = int(round(lm[2] / sp[2]))
kn = int(round(new.aortic_root_mm[0] / sp[0]))
for a, kk, t in ((ax[0], k, "axial at the landmark"), (ax[1], kn, "axial at the new root")):
    a.imshow(hu[kk], cmap="gray", vmin=-200, vmax=400, extent=(0, hu.shape[2] * sp[2], hu.shape[1] * sp[1], 0))
    a.set_xlim(lm[2] - 80, lm[2] + 80); a.set_ylim(lm[1] + 80, lm[1] - 80); a.set_title(f"{name} {t} z={kk * sp[0]:.0f}")
    a.plot(lm[2], lm[1], "g+", ms=18, mew=2); a.plot(new.aortic_root_mm[2], new.aortic_root_mm[1], "rx", ms=14, mew=2); a.plot(old.aortic_root_mm[2], old.aortic_root_mm[1], "yo", mfc="none", ms=14, mew=2)
cl = new.aorta.centreline_mm[new.aorta.segment == 0]
ax[2].imshow(hu[:, j, :], cmap="gray", vmin=-200, vmax=400, origin="lower", extent=(0, hu.shape[2] * sp[2], 0, hu.shape[0] * sp[0]), aspect="auto")
ax[2].plot(cl[:, 2], cl[:, 0], "c.", ms=3)
ax[2].plot(lm[2], lm[0], "g+", ms=18, mew=2); ax[2].plot(new.aortic_root_mm[2], new.aortic_root_mm[0], "rx", ms=14, mew=2); ax[2].plot(old.aortic_root_mm[2], old.aortic_root_mm[0], "yo", mfc="none", ms=14, mew=2)
ax[2].set_xlim(lm[2] - 100, lm[2] + 100); ax[2].set_ylim(lm[0] - 80, lm[0] + 120); ax[2].set_title("coronal through the landmark (cyan: ascending track)")
ax[3].imshow(hu[:, :, i], cmap="gray", vmin=-200, vmax=400, origin="lower", extent=(0, hu.shape[1] * sp[1], 0, hu.shape[0] * sp[0]), aspect="auto")
ax[3].plot(cl[:, 1], cl[:, 0], "c.", ms=3)
ax[3].plot(lm[1], lm[0], "g+", ms=18, mew=2); ax[3].plot(new.aortic_root_mm[1], new.aortic_root_mm[0], "rx", ms=14, mew=2); ax[3].plot(old.aortic_root_mm[1], old.aortic_root_mm[0], "yo", mfc="none", ms=14, mew=2)
ax[3].set_xlim(lm[1] - 100, lm[1] + 100); ax[3].set_ylim(lm[0] - 80, lm[0] + 120); ax[3].set_title("sagittal (green + eye, red x new, yellow o old)")
plt.tight_layout(); plt.savefig(out, dpi=55)
print(name, "new err", np.linalg.norm(new.aortic_root_mm - lm), "old err", np.linalg.norm(old.aortic_root_mm - lm))
