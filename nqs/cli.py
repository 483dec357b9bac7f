"""Command line: ``nqs run`` finds a ground state and compares it with the exact energy.

    nqs run                                  # 4x4 periodic Heisenberg, RBM alpha=1, writes run.h5, run.png
    nqs run --lattice 6x6 --model rbmsymm --alpha 2 --steps 500 --out six.h5

Bad input gives one line on stderr and exit code 2; an existing output file is never overwritten
without ``--force``.
"""

from __future__ import annotations

import argparse
import os
import sys

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2, as for every other bad input
        self.exit(EXIT_USAGE, f"nqs: error: {message}\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def build_parser():
    ap = _Parser(prog="nqs", description="Neural quantum states for the Heisenberg antiferromagnet (VMC on JAX).")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="find a ground state by VMC + SR and compare with the exact energy")
    run.add_argument("--lattice", default="4x4", help="Lx x Ly, e.g. 4x4 (default), 6x6, 4x2")
    run.add_argument("--open", action="store_true", help="open instead of periodic boundaries")
    run.add_argument("--no-marshall", action="store_true", help="do not apply the Marshall sign rule")
    run.add_argument("--model", default="rbm", choices=["rbm", "rbmsymm"], help="ansatz (default rbm)")
    run.add_argument("--alpha", type=_positive_float, default=1.0, help="hidden-unit density M/N (default 1)")
    run.add_argument("--samples", type=_positive_int, default=1024, help="samples per step (default 1024)")
    run.add_argument("--chains", type=_positive_int, default=16, help="Markov chains (default 16)")
    run.add_argument("--steps", type=_positive_int, default=300, help="optimisation steps (default 300)")
    run.add_argument("--lr", type=_positive_float, default=0.05, help="learning rate (default 0.05)")
    run.add_argument("--diag-shift", type=float, default=0.01, help="constant SR diagonal shift (default 0.01)")
    run.add_argument("--schedule", choices=["none", "carleo-troyer"], default="none",
                     help="add Carleo-Troyer's lambda(p) = max(100*0.9^p, 1e-4) on S_kk")
    run.add_argument("--solver", choices=["auto", "dense", "kernel", "cg"], default="auto", help="SR solver")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", default="run.h5", help="HDF5 output (default run.h5); a PNG is written beside it")
    run.add_argument("--force", action="store_true", help="overwrite an existing output file")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--no-exact", action="store_true", help="skip exact diagonalisation")
    return ap


def cmd_run(args) -> int:
    import nqs

    if os.path.exists(args.out) and not args.force:
        raise FileExistsError(f"{args.out} already exists; pass --force to overwrite it or --out for another file")
    lattice = nqs.parse_lattice(args.lattice, pbc=not args.open)
    H = nqs.Heisenberg(lattice, marshall_sign=not args.no_marshall)
    if args.model == "rbm":
        model = nqs.RBM(alpha=args.alpha)
    else:
        model = nqs.RBMSymm(lattice, alpha=args.alpha)
    sr = nqs.SR(solver=args.solver, diag_shift=args.diag_shift,
                schedule=None if args.schedule == "none" else args.schedule)
    exact, exact_label = None, ""
    if not args.no_exact:
        if H.n_sites <= nqs.MAX_ED_SITES:
            exact, exact_label = nqs.ground_state_energy(H), "exact diagonalisation"
        else:
            ref = nqs.reference_energy(lattice)
            if ref is not None:
                exact, exact_label = ref.energy_per_site, f"{ref.kind}, {ref.source}"
    print(f"nqs run: {lattice.name} Heisenberg (J=1, S.S units{', Marshall sign' if H.marshall_sign else ''}), "
          f"{type(model).__name__} alpha={args.alpha}, {args.samples} samples x {args.steps} steps, seed {args.seed}")
    result = nqs.ground_state(
        H, model, n_samples=args.samples, steps=args.steps, seed=args.seed, n_chains=args.chains,
        learning_rate=args.lr, sr=sr, out=args.out, force=args.force, progress=not args.no_progress,
        exact=exact, command_line="nqs " + " ".join(sys.argv[1:]),
    )
    from .plot import plot_convergence

    png = os.path.splitext(args.out)[0] + ".png"
    plot_convergence(result.history, png, exact=exact, title=f"{lattice.name}, {type(model).__name__} alpha={args.alpha}")
    print(f"E/N     = {result.energy_per_site:.6f} ± {result.error:.6f}   (per site, units of J, S = sigma/2)")
    if exact is not None:
        print(f"exact   = {exact:.8f}   ({exact_label})")
        print(f"rel.err = {result.relative_error:.2e}")
    print(f"V-score = {result.v_score:.2e}   parameters {result.n_params}   wall time {result.wall_time:.1f} s")
    print(f"wrote {args.out} and {png}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .io import NQSFileError

    try:
        if args.command == "run":
            return cmd_run(args)
    except (ValueError, TypeError, FileExistsError, NQSFileError) as exc:
        print(f"nqs: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("nqs: interrupted; the HDF5 file holds every completed step", file=sys.stderr)
        return 130
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
