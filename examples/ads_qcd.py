"""Holographic QCD from lattice data (HSTT2): the emergent metric, λ, the AdS radius L, and the
quark–antiquark potential the metric predicts.

    python examples/ads_qcd.py              # 10 seeds x 5000 epochs: ~5 minutes on 2 cores
    python examples/ads_qcd.py 500          # a shorter run (epochs), for a first look
"""

import sys

import nqs.ads as ads

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
res = ads.qcd(seed=0, n_seeds=10, recipe=ads.QCD_RECIPE._replace(epochs=epochs),
              out="ads_qcd_example.h5", force=True)           # also writes the PNGs beside it

ok = res.converged
print(f"{ok.sum()}/{len(ok)} seeds converged (training accuracy >= 0.75)")
for name, values, unit in (("1/L", res.inv_L_MeV, "MeV"), ("lambda", res.lam, ""), ("lambda/L", res.lam_over_L_GeV, "GeV")):
    mean, spread = res.stat(values)
    print(f"{name:9s} = {mean:.4g} ± {spread:.2g} {unit}")
pot = res.potential
if pot is not None:
    print(f"IR wall at η = {pot.eta_wall}, 2πα'σ = {pot.tension}, Debye screening at r = {pot.r_screen_fm} fm")
print("files:", res.files)
