"""nqs.ads: the AdS/CFT correspondence as a deep neural network, on JAX.

Hashimoto, Sugishita, Tanaka & Tomiya, "Deep learning and the AdS/CFT correspondence", PRD 98,
046019 (2018), arXiv:1802.08313, and "Deep learning and holographic QCD", PRD 98, 106014 (2018),
arXiv:1809.10536. The discretised radial equation of a bulk scalar is the network; its weights are
the metric h(η) (and λ, and the AdS radius L for QCD).

    import nqs.ads as ads
    res = ads.schwarzschild(seed=0, n_seeds=4)          # recover 3 coth(3η); res.deviation, res.test_accuracy
    res = ads.qcd(seed=0, n_seeds=10, out="qcd.h5")     # 1/L, λ, the emergent metric, V(r)
    res.inv_L_MeV, res.lam, res.potential.r_screen_fm

Lower level: ``network`` (the layers, t(F), losses), ``data`` (experiment data, lattice QCD points),
``train`` (Adam epochs under jit + lax.scan, seeds under vmap, screening), ``observables`` (metric
with f = g, Nambu–Goto Wilson loop, the AdS5 check). ``nqs ads schwarzschild | qcd`` on the command line.
"""

from . import data, network, observables, train
from .data import Dataset, LatticeData, cubic_fit, lattice_qcd, qcd_data, schwarzschild_data
from .experiments import QCD_RECIPE, SCHWARZSCHILD_RECIPE, QCDResult, SchwarzschildResult, qcd, schwarzschild
from .network import QCD, SCHWARZSCHILD, Network, schwarzschild_h
from .observables import Potential, ads5_coefficient, ads5_wilson_loop, quark_potential, wilson_loop
from .train import Recipe, ScreenResult, TrainResult, TrainState, screen

__all__ = [
    "Dataset", "LatticeData", "Network", "Potential", "QCD", "QCDResult", "QCD_RECIPE", "Recipe", "SCHWARZSCHILD",
    "SCHWARZSCHILD_RECIPE", "SchwarzschildResult", "ScreenResult", "TrainResult", "TrainState", "ads5_coefficient",
    "ads5_wilson_loop", "cubic_fit", "data", "lattice_qcd", "network", "observables", "qcd", "qcd_data",
    "quark_potential", "schwarzschild", "schwarzschild_data", "schwarzschild_h", "screen", "train", "wilson_loop",
]
