"""Accuracy of every ansatz on 4x4 and 6x6 against the exact energies (no DMRG), one table per lattice.

Each ansatz is trained with the settings of its entry in ``nqs.bench.MODELS`` (SR, learning rate),
the same samples, steps and seed for all, and measured on fresh samples at the end. The table has
ansatz, parameters, E/N ± error, relative error, V-score and wall time; the references are exact
(4x4: ED −0.70178020; 6x6: −0.67887215, Schulz, Ziman & Poilblanc 1996). Goal of the issue: every
ansatz ≤ 1e-3 relative error on 4x4, the best ≤ 5e-4 on 6x6, each within 15 minutes on 2 cores.

    python benchmarks/ansatze.py                          # 4x4 and 6x6, all ansätze (long: hours on 2 cores)
    python benchmarks/ansatze.py --lattices 4x4 --steps 300
"""

from __future__ import annotations

import argparse

import nqs
from nqs.bench import MODELS, format_table


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lattices", default="4x4,6x6")
    ap.add_argument("--models", default="all", help=f"comma-separated, from {', '.join(MODELS)}")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--samples", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    for lattice in args.lattices.split(","):
        bench = nqs.run_bench(lattice, models=args.models, chi_list=None, steps=args.steps, samples=args.samples,
                              seed=args.seed, progress=True, reference="auto")
        print(format_table(bench), flush=True)
        print()


if __name__ == "__main__":
    main()
