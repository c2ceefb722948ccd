"""Session 15 (wt23d): locate_heart on LIDC 0001-0003, cached phantoms 11301 #1-5 (256 px) and gated (heart-only) phantoms 11301 #1-4
(128 px): the HeartFinding of each, printed (run with each src and diff):
    PYTHONPATH=SRC nice -n 10 python bench/heart_finder_equality.py > OUT.txt"""
import numpy as np
from cacscore.chest.heart import locate_heart
from cacscore.io.ct import read_ct
from cacscore.phantom.core import make_patient
for i in (1, 2, 3):
    print(f"lidc-idri-000{i}", locate_heart(read_ct(f"/work/shared/data/lidc-idri-000{i}")), flush=True)
for pid in range(1, 6):
    z = np.load(f"/work/runs/wt23d/cache/11301_256_{pid}.npz")
    print("phantom", pid, locate_heart(z["hu"], tuple(z["sp"])), flush=True)
for pid in range(1, 5):
    p = make_patient(pid, seed=11301, size=128, gated=True)
    print("gated", pid, locate_heart(p.hu, p.spacing_mm), flush=True)
    print("gated half", pid, locate_heart(p.hu[: p.hu.shape[0] // 3], p.spacing_mm), flush=True)
    print("gated series", pid, locate_heart(p.gated.hu, p.gated.spacing_mm), flush=True)
print("empty", locate_heart(np.full((10, 64, 64), -1000.0), (2.5, 1.0, 1.0)))
