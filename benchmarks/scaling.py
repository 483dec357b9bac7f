"""Seconds per VMC step against the number of sites, and the exponent of the fit.

RBM alpha = 1 (M = N), fixed samples and chains. The look-up-table operation count per step is
O(Ns N M) for the sweeps (N proposals of O(M) per sample) and for the local energies (2N bonds of
O(M) per sample), i.e. O(N^2) at fixed alpha; SR with the structured minSR kernel adds
O(Ns^2 (N + M)) = O(N) plus an N-independent Ns^3 solve, and dense SR (P <= Ns) O(P^2 Ns) = O(N^4).
The fitted exponent over the sizes where the kernel is used is compared with 2.

    python benchmarks/scaling.py                      # L = 4, 6, 8, 10, 12, 14
    python benchmarks/scaling.py --sizes 4,6,8 --steps 3
"""

from __future__ import annotations

import argparse
import os
import platform

# nqs alone in this process: its sampling loops compiled whole, as `nqs run` has them (nqs/_xla.py)
os.environ.setdefault("NQS_XLA_TUNING", "1")

import numpy as np  # noqa: E402

import nqs  # noqa: E402
from vs_netket import time_nqs  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="4,6,8,10,12,14")
    ap.add_argument("--samples", type=int, default=1008)
    ap.add_argument("--chains", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"# {platform.machine()} CPU; RBM alpha=1, {args.samples} samples, {args.chains} chains; "
          f"sampling loops compiled whole: {nqs.XLA_TUNED}")
    rows = []
    for L in sizes:
        t = time_nqs(L, args.steps, 2, n_samples=args.samples, n_chains=args.chains)
        N = L * L
        # the automatic choice for the RBM's blocks (Gram width N + M for O_W = sigma t^T, N for a, M for b)
        solver = nqs.SR(diag_shift=0.01).choose(N + N + N * N, args.samples, gram_width=4 * N)
        rows.append((L, N, t, solver))
        print(f"  {L}x{L}: {t * 1e3:.1f} ms/step (SR {solver})", flush=True)
    print("\n| lattice | N | ms/step | SR solver |\n|---|---|---|---|")
    for L, N, t, solver in rows:
        print(f"| {L}x{L} | {N} | {t * 1e3:.1f} | {solver} |")
    kernel = [(N, t) for _, N, t, s in rows if s == "kernel"]
    if len(kernel) >= 2:
        slope = np.polyfit(np.log([n for n, _ in kernel]), np.log([t for _, t in kernel]), 1)[0]
        print(f"\nfit over the kernel sizes: time ~ N^{slope:.2f} (operation count of the fast path: N^2)")


if __name__ == "__main__":
    main()
