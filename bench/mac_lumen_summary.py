"""Structure-level table of bench/mac_lumen_explore.py outputs (session 19, wt27a): per structure with a final coronary
call, Agatston-weighted feature means and its kind (MAC / COR / oth by the phantom labels); prints, per feature, how
many soft-wrapped above-diaphragm true plaques fall inside the MAC range. Reads /work/runs/wt27a/b1*/ (scratch paths).
    python bench/mac_lumen_summary.py
"""
import pandas as pd, numpy as np, glob
pd.set_option('display.width',300); pd.set_option('display.max_columns',80); pd.set_option('display.max_rows',300)
fr=[]
for f in glob.glob('/work/runs/wt27a/b1*/[0-9]*.csv'):
    d=pd.read_csv(f); d['set']=f.split('/')[-2][1:]; fr.append(d)
d=pd.concat(fr); d=d[d.final>0]
num=[c for c in d.columns if pd.api.types.is_numeric_dtype(d[c]) and c not in ('pid','cand','structure','final','mlp','vote','join','veto','true_v','mac_frac','may')]
rows=[]
for (s,p,st),g in d.groupby(['set','pid','structure']):
    w=g.au.to_numpy(); w=w if w.sum()>0 else np.ones(len(g))
    r={'set':s,'pid':p,'st':st,'AU':g.au.sum(),'v':int(np.bincount(g.final,weights=g.au+1e-9).argmax()),
       'kind':'MAC' if (w*(g.mac_frac>0.25)).sum()>0.5*w.sum() else ('COR' if (w*(g.true_v>0)).sum()>0.5*w.sum() else 'oth')}
    for f in num:
        v=g[f].to_numpy(float); ok=np.isfinite(v)
        r[f]=(w[ok]*v[ok]).sum()/w[ok].sum() if ok.any() and w[ok].sum()>0 else np.nan
    rows.append(r)
S=pd.DataFrame(rows); S.to_csv('/work/runs/wt27a/struct_all.csv',index=False)
mac=S[S.kind=='MAC']; risk=S[(S.kind=='COR')&(S.ring_soft>0.58)&(S.a_above_diaphragm_mm>15)&(S.AU>5)]
print('MAC',len(mac),'risk',len(risk))
out=[]
for f in num:
    a=mac[f].dropna(); b=risk[f].dropna()
    if len(a)<2 or len(b)<2: continue
    # separation: overlap count
    lo,hi=a.min(),a.max()
    out.append((f, round(a.min(),2), round(a.max(),2), round(b.min(),2), round(b.max(),2), int(((b>=lo)&(b<=hi)).sum())))
o=pd.DataFrame(out,columns=['f','mac_min','mac_max','cor_min','cor_max','cor_in_mac_range']).sort_values('cor_in_mac_range')
print(o.to_string(index=False))
print(pd.concat([mac,risk])[['set','pid','st','AU','v','kind','ring_soft','a_above_diaphragm_mm','softhu_1_4','fat_4_7','struct_length_mm','struct_width_mm','struct_thick_mm','n_slices3d','dz_slice_mm']].round(2).to_string(index=False))
