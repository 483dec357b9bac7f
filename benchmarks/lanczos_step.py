"""What one Lanczos step buys on a trained state: an RBMSymm search, then nqs.lanczos_step on its
final state, against the exact (6x6: ED) or reference energy.

    python benchmarks/lanczos_step.py                        # 6x6, RBMSymm 4 filters real, 1000 steps
    python benchmarks/lanczos_step.py --lattice 4x4 --steps 200 --alpha 1
    python benchmarks/lanczos_step.py --alpha 16 --samples 2016 --steps 3000 --lr-decay 0.1 --rounds 4

Prints a table of psi's energy, phi's (one Lanczos step), the zero-variance extrapolation, their
relative errors and variances, and the time of each part. The run's file is kept (``--out``), and
an existing one is measured again instead of rerun.
"""

from __future__ import annotations

import argparse
import os
import time

# nqs alone in this process: its sampling loops compiled whole, as `nqs run` has them (nqs/_xla.py)
os.environ.setdefault("NQS_XLA_TUNING", "1")

import optax  # noqa: E402

import nqs  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lattice", default="6x6")
    ap.add_argument("--alpha", type=int, default=4)
    ap.add_argument("--symmetries", default="translations", choices=nqs.RBMSymm.SYMMETRIES)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=1008)
    ap.add_argument("--lr", type=float, default=0.03)
    ap.add_argument("--lr-decay", type=float, default=1.0,
                    help="final learning rate as a fraction of --lr (cosine decay over the steps; 1: constant)")
    ap.add_argument("--diag-shift", type=float, default=1e-3)
    ap.add_argument("--rounds", type=str, default="4,16", help="comma-separated: Lanczos steps on ROUNDS x the samples")
    ap.add_argument("--out", default=None, help="the run's file (default lanczos_<lattice>_alpha<alpha>.h5)")
    args = ap.parse_args(argv)
    lattice = nqs.parse_lattice(args.lattice)
    H = nqs.Heisenberg(lattice)
    ref = nqs.reference_energy(lattice)
    out = args.out or f"lanczos_{args.lattice}_alpha{args.alpha}.h5"
    if not os.path.exists(out):
        model = nqs.RBMSymm(lattice, alpha=args.alpha, dtype="float64", symmetries=args.symmetries)
        optimizer = None if args.lr_decay == 1 else optax.sgd(optax.cosine_decay_schedule(args.lr, args.steps,
                                                                                          alpha=args.lr_decay))
        r = nqs.ground_state(H, model, n_samples=args.samples, steps=args.steps, seed=0, learning_rate=args.lr,
                             optimizer=optimizer,
                             sr=nqs.SR(diag_shift=args.diag_shift), out=out, exact=ref.energy_per_site)
        print(f"run: {r.wall_time:.0f} s, final E/N {r.energy_per_site:.6f} ± {r.error:.6f}")
    print(f"\n{args.lattice} RBMSymm alpha={args.alpha} ({args.symmetries}), reference {ref.energy_per_site} ({ref.kind})")
    print("| samples | E/N psi ± | rel. error | Var psi | E/N phi ± | rel. error | Var phi | zero-variance E/N ± | rel. error | time (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for rounds in [int(r) for r in args.rounds.split(",")]:
        t = time.perf_counter()
        ls = nqs.lanczos_step(out, rounds=rounds)
        t = time.perf_counter() - t
        print(f"| {ls.n_samples} | {ls.energy_per_site:.6f} ± {ls.error:.6f} | {ls.relative_error:.1e} | {ls.variance:.3f} | "
              f"{ls.lanczos_energy_per_site:.6f} ± {ls.lanczos_error:.6f} | {ls.lanczos_relative_error:.1e} | "
              f"{ls.lanczos_variance:.3f} | {ls.extrapolated_energy_per_site:.6f} ± {ls.extrapolated_error:.6f} | "
              f"{ls.extrapolated_relative_error:.1e} | {t:.1f} |")


if __name__ == "__main__":
    main()
