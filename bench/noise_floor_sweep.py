"""Offline replay of the noise floor (ClassifierConfig.noise_floor_k) on scanned dev seeds (session 17, wt25c).

    PYTHONPATH=src python bench/noise_floor_sweep.py x          # the grid: base 130 HU (k 1-4) and base 40 HU (k 3-5)
    PYTHONPATH=src python bench/noise_floor_sweep.py K AREA     # per patient: the category before and after (base 130)
    MOVING=1 PYTHONPATH=src python bench/noise_floor_sweep.py x  # against the motion-blurred truth (moving_*)

Reads the candidate tables that ``bench/category_errors.py scan`` wrote to /work/runs/wt25c/diag14001 and diag13901
(seeds 14001 / 13901 with the shipped model) and drops the coronary calls of each small faint 3-D structure as
``cacscore.lesion.noise.noise_floor`` does (max slice area <= AREA, peak < B + k x the image's noise estimate), then
the 4-vessel ratio and kappa4 as ``cacscore evaluate`` (bench/voxel_split.metrics). Exact for totals and vessels: the
floor touches only candidates below the voxel split's 10 mm^2, whose voxels keep their candidate's class.
"""
import glob
import sys

import numpy as np  # noqa: F401
import pandas as pd
sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from voxel_split import metrics
V=["LCA","LAD","LCX","RCA"]
sets={"14001":"/work/runs/lead16/held14001","13901":"/work/runs/lead16/held13901"}
cands=[];pats=[];truths=[]
for s,rel in sets.items():
    d=f"/work/runs/wt25c/diag{s}"
    for f in sorted(glob.glob(d+"/patient_*.csv")):
        pid=f.split("_")[-1][:-4]
        p=pd.read_csv(f,dtype={"pid":str}); p["set"]=s; pats.append(p)
        c=pd.read_csv(f"{d}/cand_{pid}.csv",dtype={"pid":str}); c["set"]=s; cands.append(c)
    t=pd.read_csv(rel+"/truth.csv",dtype={"id":str}); t["set"]=s; truths.append(t)
P=pd.concat(pats,ignore_index=True); C=pd.concat(cands,ignore_index=True); T=pd.concat(truths,ignore_index=True)
P["key"]=P.set+":"+P.pid; T["key"]=T.set+":"+T["id"]; C["key"]=C.set+":"+C.pid
T=T[T.key.isin(P.key)].set_index("key")
if __import__("os").environ.get("MOVING"):  # MOVING=1: score against truth.csv's moving_* (the motion-blurred truth)
    for v in V:
        T[v]=T[f"moving_{v}"]
sig=P.set_index("key").noise_est
C["sig"]=C.key.map(sig)
g=C.groupby(["key","structure"])
S=g.agg(peak=("peak_hu","max"),amax=("area_mm2","max"),au=("au","sum"),nsl=("z","nunique"),
        cor=("c",lambda x:(x>0).any()),tpos=("t",lambda x:(x>0).any()),sig=("sig","first")).reset_index()
def run(k,A,N=99, verbose=False, B=130):
    drop=S.cor & (S.amax<=A) & (S.nsl<=N) & (S.peak < B+k*S.sig)
    dk=set(zip(S.key[drop],S.structure[drop]))
    m=C.c.gt(0) & pd.Series([ (a,b) in dk for a,b in zip(C.key,C.structure)],index=C.index)
    pred=P.set_index("key")[[f"P_{v}" for v in V]].copy(); pred.columns=V
    lost=C[m].groupby(["key","c"]).au.sum()
    for (kk,c),a in lost.items(): pred.loc[kk,V[c-1]]-=a
    pred=pred.clip(lower=0)
    out={}
    for s in sets:
        keys=[x for x in pred.index if x.startswith(s)]
        if len(keys)<2: continue
        tt=T.loc[keys,V].reset_index().rename(columns={"key":"id"}); pp=pred.loc[keys].reset_index().rename(columns={"key":"id"})
        out[s]=metrics(tt,pp)
    tpau=C[m & (C.t>0)].au.sum(); fpau=C[m & (C.t==0)].au.sum()
    return out, tpau, fpau, int(drop.sum())
if len(sys.argv)<=2:
  print("base", run(0,0))
  for A in (3,5,8):
    for k in (1,1.5,2,2.5,3,3.5,4):
      o,tp,fp,n=run(k,A)
      print(f"A {A} k {k}: "+" ".join(f"{s} ratio {r:.2f} k4 {q:.3f}" for s,(r,q) in o.items())+f" | dropped true AU {tp:.0f} false AU {fp:.0f} structures {n}")

def detail(k,A):
    from cacscore.core.categories import risk_category4 as rc
    drop=S.cor & (S.amax<=A) & (S.peak < 130+k*S.sig)
    dk=set(zip(S.key[drop],S.structure[drop]))
    m=C.c.gt(0) & pd.Series([ (a,b) in dk for a,b in zip(C.key,C.structure)],index=C.index)
    lost=C[m].groupby("key").au.sum(); lost_t=C[m & (C.t>0)].groupby("key").au.sum()
    Pk=P.set_index("key")
    for kk in Pk.index:
        tt=T.loc[kk,V].sum(); p0=Pk.loc[kk,"P"]; p1=max(p0-lost.get(kk,0),0)
        if rc(tt)!=rc(round(p0,2)) or rc(tt)!=rc(round(p1,2)):
            print(f"{kk}: T {tt:.1f} P {p0:.1f} -> {p1:.1f} (true AU dropped {lost_t.get(kk,0):.1f}) cat {rc(tt)} {rc(round(p0,2))}->{rc(round(p1,2))} sig {Pk.loc[kk,'noise_est']:.0f}")
import sys
if len(sys.argv)>2: detail(float(sys.argv[1]),float(sys.argv[2]))
if len(sys.argv)==2:
  for A in (3,5,8):
    for k in (3,3.5,4,4.5,5):
      o,tp,fp,n=run(k,A,B=40)
      print(f"B40 A {A} k {k}: "+" ".join(f"{s} ratio {r:.2f} k4 {q:.3f}" for s,(r,q) in o.items())+f" | dropped true AU {tp:.0f} false AU {fp:.0f} structures {n}")
