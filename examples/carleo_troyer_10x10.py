"""The Carleo–Troyer benchmark: translation-invariant RBMs on the 10x10 periodic Heisenberg model.

Carleo & Troyer, Science 355, 602 (2017), Fig. 3: RBMSymm with alpha = 1, 2, 4 (and 16) against the
QMC energy −0.671549(4) per site (Sandvik 1997; −2.686196 in their Pauli units). Each alpha is one
resumable HDF5 file (``ct10_alpha<alpha>.h5``): rerunning the script continues unfinished runs from
their checkpoints (to the new ``--steps``) and skips finished ones, so it can be stopped at any time.
The table's energies are the final states re-measured on ``--measure`` (16) times the samples, and
the energies of one Lanczos step on each final state (``nqs.lanczos_step`` on ``--lanczos`` (2) times
the samples; its time counts in the run's), with the zero-variance extrapolation.

    python examples/carleo_troyer_10x10.py                         # alpha 1, 2, 4
    python examples/carleo_troyer_10x10.py --alphas 4 --dtype float32 --samples 2016 --lr 0.01 --lr-decay 0.1 \
        --diag-shift 0.1 --steps 9000     # 1.9e-3 (one Lanczos step: 1.2e-3) in 28 min on 2 cores (README)
    python examples/carleo_troyer_10x10.py --alphas 16 --dtype float32 --samples 2016 --lr 0.01 --lr-decay 0.1 \
        --diag-shift 0.1 --steps 3000     # 1.6e-3, one Lanczos step 8.7e-4: 41 min (README)
    python examples/carleo_troyer_10x10.py --alphas 8 --steps 3000 --samples 1008 --dtype float64 --lr 0.03
    python examples/carleo_troyer_10x10.py --alphas 2 --symmetries space_group --dtype float64 --lr 0.03 --lr-decay 0.1
    python examples/carleo_troyer_10x10.py --alphas 4 --symmetries space_group --dtype float32 --samples 1008 \
        --lr 0.03 --lr-decay 0.1 --steps 4500     # 1.1e-3 in 55 min on 2 cores (README)
    python examples/carleo_troyer_10x10.py --alphas 8 --symmetries space_group --dtype float32 --samples 1008 \
        --lr 0.01 --lr-decay 0.1 --diag-shift 0.1 --steps 2600     # 1.1e-3 in 53 min (README)
    python examples/carleo_troyer_10x10.py --alphas 4 --symmetries space_group --dtype float32 --samples 2016 \
        --lr 0.01 --lr-decay 0.1 --diag-shift 0.1 --steps 2400     # 1.02e-3 in 55 min (README)
    python examples/carleo_troyer_10x10.py --alphas 4 --symmetries space_group --dtype float32 --samples 2016 \
        --lr 0.01 --lr-decay 0.1 --diag-shift 0.1 --steps 2800     # 1.1e-3, one Lanczos step 6.6e-4: 55 min (README)
    python examples/carleo_troyer_10x10.py --alphas 4 --symmetries space_group --dtype float32 --samples 2016 \
        --lr 0.01 --lr-decay 0.1 --diag-shift 0.1 --sweep-size 50 --steps 3900  # 1.0e-3, Lanczos 4.0e-4: 53 min (README)
    python examples/carleo_troyer_10x10.py --alphas 4 --symmetries space_group --dtype float32 --samples 2016 \
        --chains 64 --lr 0.01 --lr-decay 0.1 --diag-shift 0.1 --steps 3000     # 1.1e-3 in 53 min (README)
    python examples/carleo_troyer_10x10.py --alphas 4 --symmetries space_group --dtype float32 --samples 2016 \
        --lr 0.01 --lr-decay 0.1 --diag-shift 0.1 --steps 1500     # 1.4e-3, one Lanczos step 9.0e-4: 39 min (README)
    python examples/carleo_troyer_10x10.py --quick                 # 6x6, a few steps: checks the script
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
    ap.add_argument("--alphas", default="1,2,4")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--chains", type=int, default=16,
                    help="Markov chains (more chains: fewer sequential moves per step, each on more chains at once)")
    ap.add_argument("--sweep-size", type=int, default=None, metavar="MOVES",
                    help="exchange moves per chain between kept samples (nqs.Metropolis(sweep_size=...); default N, "
                         "one sweep: an autocorrelation time of ~0.12 samples on 10x10, so half a sweep costs little)")
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--diag-shift", type=float, default=1e-3)
    ap.add_argument("--momentum", type=float, default=0.0,
                    help="SPRING's momentum on the SR direction (nqs.SR(momentum=...); 0: plain SR)")
    ap.add_argument("--dtype", default="complex128", choices=["complex128", "complex64", "float64", "float32"],
                    help="parameters: complex as Carleo & Troyer, or real (the Marshall-rotated ground state is "
                         "positive; real arithmetic is several times cheaper on CPU)")
    ap.add_argument("--symmetries", default="translations", choices=nqs.RBMSymm.SYMMETRIES,
                    help="the group that ties the filters: translations (Carleo & Troyer) or the whole space group "
                         "(rotations and reflections too; 8x the hidden units per filter)")
    ap.add_argument("--lr-decay", type=float, default=1.0,
                    help="final learning rate as a fraction of --lr (cosine decay over the steps; 1: constant)")
    ap.add_argument("--measure", type=int, default=16, metavar="ROUNDS",
                    help="the table's energies: each final state re-measured on ROUNDS x the samples per step "
                         "(nqs.measure; 0: the run's own final estimate on 4x)")
    ap.add_argument("--lanczos", type=int, default=2, metavar="ROUNDS",
                    help="one Lanczos step on each final state, on ROUNDS x the samples per step (nqs.lanczos_step, "
                         "about 33 ms per sample at 10x10 on 2 cores; 0: none)")
    ap.add_argument("--quick", action="store_true", help="6x6 and 20 steps, to check the script")
    args = ap.parse_args(argv)
    if not 0 < args.lr_decay <= 1:
        ap.error(f"--lr-decay must be in (0, 1], got {args.lr_decay}")
    if args.chains < 1:
        ap.error(f"--chains must be >= 1, got {args.chains}")
    if args.sweep_size is not None and args.sweep_size < 1:
        ap.error(f"--sweep-size must be >= 1, got {args.sweep_size}")
    if args.measure < 0:
        ap.error(f"--measure must be >= 0, got {args.measure}")
    if args.lanczos < 0:
        ap.error(f"--lanczos must be >= 0, got {args.lanczos}")
    L, steps = (6, 20) if args.quick else (10, args.steps)
    lattice = nqs.Square(L, L)
    H = nqs.Heisenberg(lattice)
    ref = nqs.reference_energy(lattice)
    rows = []
    # SGD on the SR direction, its step decaying as a cosine to lr_decay * lr (the same optimizer must be
    # passed again to resume: a schedule cannot be stored in the file, its step count is)
    optimizer = None if args.lr_decay == 1 else optax.sgd(optax.cosine_decay_schedule(args.lr, steps, alpha=args.lr_decay))
    for alpha in [int(a) for a in args.alphas.split(",")]:
        tag = "" if args.dtype == "complex128" else f"_{args.dtype}"
        tag += "" if args.symmetries == "translations" else "_sg"
        tag += "" if args.lr_decay == 1 else f"_decay{args.lr_decay:g}"
        # a run with other settings is another file (an existing file resumes only its own run)
        tag += "" if args.samples == 2000 else f"_n{args.samples}"
        tag += "" if args.lr == 0.02 else f"_lr{args.lr:g}"
        tag += "" if args.diag_shift == 1e-3 else f"_shift{args.diag_shift:g}"
        tag += "" if args.chains == 16 else f"_c{args.chains}"
        tag += "" if args.momentum == 0 else f"_mom{args.momentum:g}"
        tag += "" if args.sweep_size is None else f"_sweep{args.sweep_size}"
        out = f"ct{L}_alpha{alpha}{tag}{'_quick' if args.quick else ''}.h5"
        if os.path.exists(out):
            rec = nqs.load(out).runs["main"]
            # an unfinished run continues to this --steps (its cosine schedule stretched to match)
            result = None if rec.finished else nqs.resume(out, steps=steps, optimizer=optimizer)
            if result is None:
                print(f"alpha={alpha}: finished earlier, read from {out}")
                e, err, v, t, n_params = rec.energy_per_site, rec.error, rec.attrs["v_score"], rec.attrs["wall_time"], rec.attrs["n_params"]
                rows.append((alpha, n_params, e, err, v, t, out))
                continue
        else:
            result = nqs.ground_state(
                H, nqs.RBMSymm(lattice, alpha=alpha, dtype=args.dtype, symmetries=args.symmetries), n_samples=args.samples,
                sampler=nqs.Metropolis(n_chains=args.chains, sweep_size=args.sweep_size), steps=steps, seed=alpha, learning_rate=args.lr, optimizer=optimizer, sr=nqs.SR(diag_shift=args.diag_shift, momentum=args.momentum),
                out=out, exact=ref.energy_per_site,
            )
        rows.append((alpha, result.n_params, result.energy_per_site, result.error, result.v_score, result.wall_time, out))
    print(f"\n{L}x{L} periodic Heisenberg, RBMSymm over the {args.symmetries.replace('_', ' ')}; reference {ref.energy_per_site} ({ref.kind}, {ref.source})")
    samples = f"{4 if not args.measure else args.measure} x {args.samples} samples"
    print(f"| alpha | parameters | E/N ({samples}) | ± | rel. error | V-score | time (s) |")
    print("|---|---|---|---|---|---|---|")
    steps_done = []
    for alpha, n_params, e, err, v, t, out in rows:
        if args.lanczos:  # part of the answer: its time counts
            t0 = time.perf_counter()
            steps_done.append(nqs.lanczos_step(out, rounds=args.lanczos))
            t += time.perf_counter() - t0
        if args.measure:  # a sharper final energy (the error bar shrinks as 1/sqrt(rounds)); not counted in the time
            m = nqs.measure(out, rounds=args.measure)
            e, err, v = m.energy_per_site, m.error, m.v_score
        rel = abs(e - ref.energy_per_site) / abs(ref.energy_per_site)
        print(f"| {alpha} | {n_params} | {e:.6f} | {err:.6f} | {rel:.1e} | {v:.1e} | {t:.0f} |")
    if steps_done:
        print(f"\nOne Lanczos step on each final state, phi = [1 + a (H - E)] psi ({args.lanczos} x {args.samples} samples; "
              "its time is in the table's):")
        print("| alpha | E/N psi | E/N phi | ± | rel. error | Var(E) psi -> phi | zero-variance E/N | ± | rel. error |")
        print("|---|---|---|---|---|---|---|---|---|")
        for (alpha, *_), ls in zip(rows, steps_done):
            print(f"| {alpha} | {ls.energy_per_site:.6f} | {ls.lanczos_energy_per_site:.6f} | {ls.lanczos_error:.6f} | "
                  f"{ls.lanczos_relative_error:.1e} | {ls.variance:.3f} -> {ls.lanczos_variance:.3f} | "
                  f"{ls.extrapolated_energy_per_site:.6f} | {ls.extrapolated_error:.6f} | {ls.extrapolated_relative_error:.1e} |")


if __name__ == "__main__":
    main()
