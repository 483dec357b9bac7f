"""``nqs ads``: the AdS/CFT deep-learning experiments from the command line.

    nqs ads schwarzschild                 # HSTT1: recover 3 coth(3η); writes ads_schwarzschild.h5 + PNG
    nqs ads qcd --seeds 10                # HSTT2: 10-seed ensemble, 5000 epochs; ads_qcd.h5 + PNGs

Hooked into the main command line by ``add_parser(subparsers)`` and ``main(args)``; also runs on its
own as ``python -m nqs.ads.cli ...``. Bad input raises ValueError or FileExistsError with a one-line
message (the main command line prints it and exits with code 2); an existing output file is never
overwritten without ``--force``.
"""

from __future__ import annotations

import argparse
import sys

from . import experiments as ex
from .io import check_output


def _non_negative_int(text):
    value = int(text) if text.lstrip("-").isdigit() else None
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def _common(p, out, seeds, epochs):
    p.add_argument("--seeds", type=int, default=seeds, help=f"ensemble size, trained together under vmap (default {seeds})")
    p.add_argument("--epochs", type=int, default=epochs, help=f"training epochs (default {epochs})")
    p.add_argument("--seed", type=int, default=0, help="data seed; training seeds count up from it (default 0)")
    p.add_argument("--out", default=out, help=f"HDF5 output (default {out}); PNG figures are written beside it")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_parser(subparsers):
    """Register ``ads`` (with ``schwarzschild`` and ``qcd``) on the main parser's subparsers."""
    ads = subparsers.add_parser("ads", help="AdS/CFT as a deep neural network (Hashimoto et al. 2018)",
                                description="The AdS/CFT correspondence as a deep neural network: "
                                            "Hashimoto, Sugishita, Tanaka, Tomiya, PRD 98 046019 and 106014 (2018).")
    sub = ads.add_subparsers(dest="ads_command", required=True)
    s = sub.add_parser("schwarzschild", help="recover the AdS4 black-hole metric 3 coth(3η) from data (HSTT1)")
    _common(s, "ads_schwarzschild.h5", 4, ex.SCHWARZSCHILD_RECIPE.epochs)
    q = sub.add_parser("qcd", help="emergent metric, lambda and 1/L from lattice QCD's chiral condensate (HSTT2)")
    _common(q, "ads_qcd.h5", 10, ex.QCD_RECIPE.epochs)
    q.add_argument("--screen", type=_non_negative_int, default=8,
                   help="random starts screened per kept seed (default 8); 0 = HSTT2's recipe verbatim")
    q.add_argument("--no-potential", action="store_true", help="skip the Wilson-loop potential")
    return ads


def _check(args):
    if args.seeds <= 0:
        raise ValueError(f"--seeds must be > 0, got {args.seeds}")
    if args.epochs <= 0:
        raise ValueError(f"--epochs must be > 0, got {args.epochs}")
    check_output(args.out, args.force)


def _command_line():
    return "nqs " + " ".join(sys.argv[1:]) if sys.argv and sys.argv[0].endswith("nqs") else " ".join(sys.argv)


def cmd_schwarzschild(args) -> int:
    _check(args)
    recipe = ex.SCHWARZSCHILD_RECIPE._replace(epochs=args.epochs)
    print(f"nqs ads schwarzschild: AdS4 black hole, h = 3 coth(3η), 10 layers η 1 → 0.1, "
          f"{args.seeds} seeds × {args.epochs} epochs, data seed {args.seed}")
    res = ex.schwarzschild(seed=args.seed, n_seeds=args.seeds, recipe=recipe, out=args.out, force=args.force,
                           progress=not args.no_progress, command_line=_command_line())
    h = res.h
    print(f"\n{'layer':>5} {'η_n':>6} {'learned h':>16} {'3coth(3η)':>10} {'rel.dev':>8}")
    for n, (eta, m, s, t, dev) in enumerate(zip(res.net.etas, h.mean(0), h.std(0), res.h_true, res.deviation)):
        print(f"{n:5d} {eta:6.3f} {m:9.3f} ± {s:5.3f} {t:10.3f} {dev:8.1%}")
    print(f"\nrelative deviation of the learned h (mean over seeds): max {res.deviation.max():.1%}, "
          f"mean {res.deviation.mean():.1%}")
    print(f"classification accuracy: training {res.train_accuracy.mean():.2%}, held-out {res.test_accuracy.mean():.2%} "
          f"(mean over seeds; min held-out {res.test_accuracy.min():.2%})")
    t = res.train
    print(f"training: {t.run_time:.1f} s ({t.seconds_per_epoch * 1e3:.2f} ms per epoch for all {len(t.seeds)} seeds), "
          f"compile {t.compile_time:.1f} s")
    print("wrote " + ", ".join(res.files.values()))
    return 0


def cmd_qcd(args) -> int:
    _check(args)
    recipe = ex.QCD_RECIPE._replace(epochs=args.epochs)
    how = (f"screening {args.screen}× random starts for 100 epochs, then HSTT2's recipe" if args.screen
           else "HSTT2's recipe verbatim")
    print(f"nqs ads qcd: holographic QCD, 15 layers η 1 → 1/15, {args.seeds} seeds × {args.epochs} epochs "
          f"({how}), data seed {args.seed}")
    res = ex.qcd(seed=args.seed, n_seeds=args.seeds, recipe=recipe, screen=args.screen, out=args.out,
                 force=args.force, progress=not args.no_progress, command_line=_command_line(),
                 potential=not args.no_potential)
    print(f"\n{'seed':>5} {'accuracy':>9} {'loss':>8} {'1/L [MeV]':>10} {'lambda':>9} {'lambda/L [GeV]':>15}")
    for i, s in enumerate(res.train.seeds):
        flag = "" if res.converged[i] else "   (not converged)"
        print(f"{s:5d} {res.accuracy[i]:9.3f} {res.train.history[i, -1]:8.4f} {res.inv_L_MeV[i]:10.1f} "
              f"{res.lam[i]:9.5f} {res.lam_over_L_GeV[i]:15.6f}{flag}")
    n_ok = int(res.converged.sum())
    (il, il_s), (lam, lam_s), (ll, ll_s) = (res.stat(res.inv_L_MeV), res.stat(res.lam), res.stat(res.lam_over_L_GeV))
    print(f"\nensemble ({n_ok}/{len(res.converged)} converged seeds, mean ± spread):")
    print(f"  1/L      = {il:8.1f} ± {il_s:.1f} MeV     HSTT2: {ex.PAPER_INV_L_MEV[0]:.0f}({ex.PAPER_INV_L_MEV[1]:.0f}) MeV")
    print(f"  lambda   = {lam:8.5f} ± {lam_s:.5f}")
    print(f"  lambda/L = {ll:8.5f} ± {ll_s:.5f} GeV   HSTT2: {ex.PAPER_LAM_OVER_L[0]}({ex.PAPER_LAM_OVER_L[1] * 1e4:.0f})")
    if res.potential is not None:
        p = res.potential
        wall = f"IR wall (minimum of g = f) at η = {p.eta_wall:.3f}" if p.eta_wall is not None else "no IR wall"
        print(f"  metric: {wall}; h(η_fin) = {res.train.params['h'][res.converged].mean(0)[-1]:.1f} (horizon-like rise)")
        linear = f"linear part with slope 2πα'σ = g(η_wall) = {p.tension:.2f}" if p.tension is not None else "no linear part"
        screened = f"Debye screening at r = {p.r_screen_fm:.2f} fm" if p.r_screen_fm is not None else "no screening found"
        print(f"  potential (f = g): {linear}; {screened}")
    t = res.train
    if res.screen is not None:
        print(f"screening: {len(res.screen.candidates)} candidates in {res.screen.run_time:.1f} s")
    print(f"training: {t.run_time:.1f} s ({t.seconds_per_epoch * 1e3:.1f} ms per epoch for all {len(t.seeds)} seeds, "
          f"{t.steps_per_epoch} Adam steps each), compile {t.compile_time:.1f} s")
    print("wrote " + ", ".join(res.files.values()))
    return 0


def main(args) -> int:
    """Dispatch a parsed ``nqs ads ...`` namespace; returns the exit code."""
    if args.ads_command == "schwarzschild":
        return cmd_schwarzschild(args)
    if args.ads_command == "qcd":
        return cmd_qcd(args)
    raise ValueError(f"unknown ads command {args.ads_command!r}; use schwarzschild or qcd")


def run(argv=None) -> int:
    """Stand-alone entry point (``python -m nqs.ads.cli``): one-line errors and exit code 2."""

    class Parser(argparse.ArgumentParser):
        def error(self, message):
            self.exit(2, f"nqs: error: {message}\n")

    parser = Parser(prog="nqs")
    add_parser(parser.add_subparsers(dest="command", required=True, parser_class=Parser))
    args = parser.parse_args(argv)
    try:
        return main(args)
    except (ValueError, TypeError, FileExistsError) as exc:
        print(f"nqs: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nqs: interrupted; the HDF5 file holds every completed chunk of epochs", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(run())
