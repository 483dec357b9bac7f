"""Command line: ``nqs run`` finds a ground state and compares it with the exact energy; ``nqs show``
summarises a result file.

    nqs run                                  # 4x4 periodic Heisenberg, RBM alpha=1, writes run.h5, run.png
    nqs run --lattice 6x6 --model rbmsymm --alpha 2 --steps 500 --out six.h5
    nqs run config.toml                      # the same options from a TOML file
    nqs run --lattice 6x6 --lanczos 4        # ... and one Lanczos step on the final state
    nqs run --resume run.h5                  # continue a run from its last checkpoint
    nqs show run.h5                          # summary table and convergence figure
    nqs show run.h5 --measure 16             # ... and the final state's energy on 16x the samples
    nqs show run.h5 --lanczos 4              # ... and one Lanczos step on it, with the zero-variance estimate
    nqs bench                                # every ansatz vs ED, DMRG and published energies
    nqs ads schwarzschild | qcd --seeds 10   # AdS/CFT as a deep network (nqs.ads)

Bad input gives one line on stderr and exit code 2; an existing output file is never overwritten
without ``--force``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from . import _cache, _xla
from .bench import add_parser as add_bench_parser
from .bench import main as bench_main
from .models import RBMSymm

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


# options of `nqs run`: name -> (type, check, default). A TOML config file uses the same keys (with
# underscores); the command line overrides the file, the file overrides the defaults.
RUN_OPTIONS = {
    "lattice": (str, None, "4x4"),
    "open": (bool, None, False),
    "no_marshall": (bool, None, False),
    "model": (str, ("rbm", "rbmsymm", "dbm", "ffnn", "ffnnsymm", "deepffnn"), "rbm"),
    "alpha": (float, "positive", 1.0),
    "widths": (str, "widths", "2,1"),
    "alpha_deep": (float, "non-negative", 0.25),
    "symmetries": (str, RBMSymm.SYMMETRIES, "translations"),
    "samples": (int, "positive", 1024),
    "chains": (int, "positive", 16),
    "sweep_size": (int, "positive", None),
    "steps": (int, "positive", 300),
    "lr": (float, "positive", 0.05),
    "diag_shift": (float, "non-negative", 0.01),
    "momentum": (float, "non-negative", 0.0),
    "schedule": (str, ("none", "carleo-troyer"), "none"),
    "solver": (str, ("auto", "dense", "kernel", "cg"), "auto"),
    "seed": (int, None, 0),
    "out": (str, None, "run.h5"),
    "checkpoint_every": (int, "positive", 10),
    "float32": (bool, None, False),
    "lanczos": (int, "non-negative", 0),
}


def parse_widths(value, source="--widths") -> tuple:
    """The DeepFFNN's hidden-layer widths (multiples of N) from "2,1"."""
    try:
        widths = tuple(float(w) for w in value.split(","))
    except ValueError:
        widths = ()
    if not widths or not all(w > 0 for w in widths):
        raise ValueError(f"{source}: widths must be comma-separated positive multiples of N, e.g. 2,1; got {value!r}")
    return widths


def _check_option(key, value, source):
    if key == "widths" and isinstance(value, list):  # a TOML array: widths = [2, 1]
        value = ",".join(str(v) for v in value)
    kind, check, _ = RUN_OPTIONS[key]
    ok_type = isinstance(value, bool) if kind is bool else (
        isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else
        isinstance(value, int) and not isinstance(value, bool) if kind is int else isinstance(value, str))
    if not ok_type:
        raise ValueError(f"{source}: key '{key}' must be {kind.__name__}, got {value!r}")
    if check == "positive" and not value > 0:
        raise ValueError(f"{source}: key '{key}' must be > 0, got {value}")
    if check == "non-negative" and not value >= 0:
        raise ValueError(f"{source}: key '{key}' must be >= 0, got {value}")
    if check == "widths":
        parse_widths(value, source)
    if isinstance(check, tuple) and value not in check:
        raise ValueError(f"{source}: key '{key}' must be one of {', '.join(check)}, got {value!r}")
    return float(value) if kind is float else value


def load_run_config(path) -> dict:
    """Read and validate a TOML run configuration; every error names the offending key."""
    import tomllib

    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None
    config = {}
    for key, value in raw.items():
        norm = key.replace("-", "_")
        if norm not in RUN_OPTIONS:
            raise ValueError(f"{path}: unknown key '{key}' (known: {', '.join(RUN_OPTIONS)})")
        config[norm] = _check_option(norm, value, path)
    return config


def build_parser():
    ap = _Parser(prog="nqs", description="Neural quantum states for the Heisenberg antiferromagnet (VMC on JAX).")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="find a ground state by VMC + SR and compare with the exact energy")
    run.add_argument("config", nargs="?", help="optional TOML file with the options below (underscored keys)")
    run.add_argument("--lattice", help="Lx x Ly, e.g. 4x4 (default), 6x6, 4x2")
    run.add_argument("--open", action="store_const", const=True, help="open instead of periodic boundaries")
    run.add_argument("--no-marshall", action="store_const", const=True, help="do not apply the Marshall sign rule")
    run.add_argument("--model", choices=RUN_OPTIONS["model"][1], help="ansatz (default rbm)")
    run.add_argument("--alpha", type=_positive_float, help="hidden-unit density M/N; the number of filters for rbmsymm "
                     "and ffnnsymm (default 1)")
    run.add_argument("--alpha-deep", type=float, help="dbm: deep-unit density M_d/N (default 0.25)")
    run.add_argument("--widths", help="deepffnn: hidden-layer widths as multiples of N, comma-separated (default 2,1)")
    run.add_argument("--symmetries", choices=RBMSymm.SYMMETRIES,
                     help="rbmsymm, ffnnsymm: the group that ties the filters (default translations; space_group adds "
                          "rotations and reflections)")
    run.add_argument("--samples", type=_positive_int, help="samples per step (default 1024)")
    run.add_argument("--chains", type=_positive_int, help="Markov chains (default 16)")
    run.add_argument("--sweep-size", type=_positive_int, metavar="MOVES",
                     help="Metropolis proposals per chain between kept samples (default N, one sweep; fewer: "
                          "cheaper steps, more correlated samples, as the file's tau shows)")
    run.add_argument("--steps", type=_positive_int, help="optimisation steps (default 300; with --resume: the total)")
    run.add_argument("--lr", type=_positive_float, help="learning rate (default 0.05)")
    run.add_argument("--diag-shift", type=float, help="constant SR diagonal shift (default 0.01)")
    run.add_argument("--momentum", type=float,
                     help="SPRING's momentum mu in [0, 1) on the SR direction (default 0: plain SR)")
    run.add_argument("--schedule", choices=["none", "carleo-troyer"],
                     help="add Carleo-Troyer's lambda(p) = max(100*0.9^p, 1e-4) on S_kk")
    run.add_argument("--solver", choices=["auto", "dense", "kernel", "cg"], help="SR solver (default auto)")
    run.add_argument("--seed", type=int)
    run.add_argument("--out", help="HDF5 output (default run.h5); a PNG is written beside it")
    run.add_argument("--checkpoint-every", type=_positive_int, help="steps between checkpoints (default 10)")
    run.add_argument("--float32", action="store_const", const=True,
                     help="single precision (complex64 parameters): faster, for GPUs and long runs")
    run.add_argument("--force", action="store_true", help="overwrite an existing output file")
    run.add_argument("--resume", metavar="FILE", help="continue the run in FILE from its last checkpoint")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--no-exact", action="store_true", help="skip exact diagonalisation")
    run.add_argument("--lanczos", type=_positive_int, metavar="ROUNDS",
                     help="after the run, one Lanczos step on its final state on ROUNDS x the samples per step "
                          "(as nqs show --lanczos; not for the dbm)")
    show = sub.add_parser("show", help="summarise an nqs HDF5 file and plot its convergence")
    show.add_argument("file")
    show.add_argument("--png", help="figure path (default: FILE with .png)")
    show.add_argument("--measure", type=_positive_int, metavar="ROUNDS",
                      help="re-measure each run's last checkpointed state on ROUNDS x its samples per step")
    show.add_argument("--lanczos", type=_positive_int, metavar="ROUNDS",
                      help="one Lanczos step on each run's last checkpointed state, on ROUNDS x its samples per step "
                           "(nqs.lanczos_step: a lower variational energy, and the zero-variance extrapolation)")
    add_bench_parser(sub)
    from .ads.cli import add_parser as add_ads_parser

    add_ads_parser(sub)
    return ap


def _run_options(args) -> tuple[dict, set]:
    """The run's options (defaults, then the config file, then the command line) and the keys the
    user set in either."""
    opts = {k: v[2] for k, v in RUN_OPTIONS.items()}
    given = set()
    if args.config:
        from_file = load_run_config(args.config)
        opts.update(from_file)
        given.update(from_file)
    for key in RUN_OPTIONS:
        value = getattr(args, key, None)
        if value is not None:
            opts[key] = _check_option(key, value, "command line")
            given.add(key)
    return opts, given


# options that belong to some ansätze only: setting one for another ansatz is refused, not ignored
MODEL_OPTIONS = {
    "symmetries": (("rbmsymm", "ffnnsymm"), "ties the filters of --model rbmsymm or ffnnsymm"),
    "widths": (("deepffnn",), "are the layers of --model deepffnn"),
    "alpha_deep": (("dbm",), "is the deep layer's density of --model dbm"),
}


def _report(result, exact, exact_label, out, png):
    print(f"E/N     = {result.energy_per_site:.6f} ± {result.error:.6f}   (per site, units of J, S = sigma/2)")
    if exact is not None:
        print(f"exact   = {exact:.8f}   ({exact_label})")
        print(f"rel.err = {result.relative_error:.2e}")
    print(f"V-score = {result.v_score:.2e}   parameters {result.n_params}   wall time {result.wall_time:.1f} s")
    if result.events:
        print(f"recovered from {len(result.events)} divergence(s); see runs/main/events in {out}")
    print(f"wrote {out} and {png}")


def cmd_run(args) -> int:
    import nqs
    from .plot import plot_convergence

    if args.resume:
        if args.config or args.force:
            raise ValueError("--resume continues a file as it was configured; drop the config file and --force")
        result = nqs.resume(args.resume, steps=args.steps, progress=not args.no_progress)
        png = os.path.splitext(args.resume)[0] + ".png"
        plot_convergence(result.history, png, exact=result.exact, title="resumed run")
        _report(result, result.exact, "stored in the file", args.resume, png)
        if args.lanczos:
            _print_lanczos(args.resume, "main", args.lanczos, result.exact, progress=not args.no_progress)
        return 0
    o, given = _run_options(args)
    for key, (models, what) in MODEL_OPTIONS.items():
        if key in given and o["model"] not in models:
            flag = "--" + key.replace("_", "-")
            raise ValueError(f"{key}={o[key]} {what}, not of the {o['model']} (drop {flag} or use "
                             f"--model {' or '.join(models)})")
    if os.path.exists(o["out"]) and not args.force:
        raise FileExistsError(f"{o['out']} already exists; pass --force to overwrite it, --resume to continue it, "
                              "or --out for another file")
    lattice = nqs.parse_lattice(o["lattice"], pbc=not o["open"])
    H = nqs.Heisenberg(lattice, marshall_sign=not o["no_marshall"])
    dtype = "complex64" if o["float32"] else "complex128"
    model = {
        "rbm": lambda: nqs.RBM(alpha=o["alpha"], dtype=dtype),
        "rbmsymm": lambda: nqs.RBMSymm(lattice, alpha=o["alpha"], dtype=dtype, symmetries=o["symmetries"]),
        "ffnn": lambda: nqs.FFNN(alpha=o["alpha"], dtype=dtype),
        "ffnnsymm": lambda: nqs.FFNNSymm(lattice, alpha=o["alpha"], dtype=dtype, symmetries=o["symmetries"]),
        "deepffnn": lambda: nqs.DeepFFNN(widths=parse_widths(o["widths"]), dtype=dtype),
        # real parameters: the DBM's sampling weight must be positive
        "dbm": lambda: nqs.DBM(alpha_hidden=o["alpha"], alpha_deep=o["alpha_deep"],
                               dtype="float32" if o["float32"] else "float64"),
    }[o["model"]]()
    sr = nqs.SR(solver=o["solver"], diag_shift=o["diag_shift"], schedule=None if o["schedule"] == "none" else o["schedule"],
                momentum=o["momentum"])
    if hasattr(model, "check_hamiltonian"):  # refuse an impossible pairing before the exact diagonalisation
        model.check_hamiltonian(H)
    if o["lanczos"]:  # refuse before the run, not after it
        nqs.lanczos.check_model(model, H.n_sites)
    exact, exact_label = None, ""
    if not args.no_exact:
        if H.n_sites <= nqs.MAX_ED_SITES:
            exact, exact_label = nqs.ground_state_energy(H, cache=_cache.directory()), "exact diagonalisation"
        else:
            ref = nqs.reference_energy(lattice)
            if ref is not None:
                exact, exact_label = ref.energy_per_site, f"{ref.kind}, {ref.source}"
    size = f"widths={o['widths']}" if o["model"] == "deepffnn" else f"alpha={o['alpha']:g}"
    print(f"nqs run: {lattice.name} Heisenberg (J=1, S.S units{', Marshall sign' if H.marshall_sign else ''}), "
          f"{type(model).__name__} {size}, {o['samples']} samples x {o['steps']} steps, seed {o['seed']}")
    result = nqs.ground_state(
        H, model, n_samples=o["samples"], steps=o["steps"], seed=o["seed"],
        sampler=nqs.Metropolis(n_chains=o["chains"], sweep_size=o["sweep_size"]),
        learning_rate=o["lr"], sr=sr, out=o["out"], force=args.force, progress=not args.no_progress,
        exact=exact, command_line="nqs " + " ".join(sys.argv[1:]), checkpoint_every=o["checkpoint_every"],
    )
    png = os.path.splitext(o["out"])[0] + ".png"
    plot_convergence(result.history, png, exact=exact, title=f"{lattice.name}, {type(model).__name__} {size}")
    _report(result, exact, exact_label, o["out"], png)
    if o["lanczos"]:
        _print_lanczos(o["out"], "main", o["lanczos"], exact, progress=not args.no_progress)
    return 0


def _print_lanczos(path, name, rounds, exact, progress=True):
    """One Lanczos step on run ``name`` of ``path``, as one line (``nqs run --lanczos``, ``nqs show --lanczos``)."""
    import nqs

    ls = nqs.lanczos_step(path, rounds=rounds, name=name, progress=progress)
    if exact is not None:  # the caller's reference (the file's baseline) over the checkpoint's
        ls = dataclasses.replace(ls, exact=exact)
    rel = lambda r: "" if r is None else f" (rel. error {r:.2e})"  # noqa: E731
    print(f"{name}, one Lanczos step on {ls.n_samples} fresh samples at step {ls.step}: "
          f"E/N = {ls.energy_per_site:.6f} ± {ls.error:.6f}{rel(ls.relative_error)} -> "
          f"{ls.lanczos_energy_per_site:.6f} ± {ls.lanczos_error:.6f}{rel(ls.lanczos_relative_error)}, "
          f"variance {ls.variance:.4g} -> {ls.lanczos_variance:.4g}; zero-variance extrapolation "
          f"{ls.extrapolated_energy_per_site:.6f} ± {ls.extrapolated_error:.6f}{rel(ls.extrapolated_relative_error)}")


def cmd_show(args) -> int:
    import nqs
    from .plot import plot_convergence

    data = nqs.load(args.file)
    print(f"{args.file}: nqs schema {data.attrs['schema_version']}, written by nqs {data.attrs.get('nqs_version')}")
    print(f"system: {data.system.get('lattice')} Heisenberg, J={data.system.get('J')}, "
          f"Marshall sign {'on' if data.system.get('marshall_sign') else 'off'}; energies per site, units of J, S.S")
    kind = "ed" if "ed" in data.baselines else "reference"
    exact = data.baselines.get(kind, {}).get("energy_per_site")
    print()
    print("| run | status | steps | E/N | ± | rel. error | V-score | acceptance | R-hat | events |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    png = args.png or os.path.splitext(args.file)[0] + ".png"
    first = None
    for name, rec in data.runs.items():
        h = rec.history
        n = len(h.get("energy_per_site", []))
        if rec.finished:
            e, err = rec.energy_per_site, rec.error
        elif n:
            e, err = float(h["energy_per_site"][-1]), float(h["error_per_site"][-1])
        else:
            e = err = float("nan")
        rel = f"{abs(e - exact) / abs(exact):.2e}" if exact is not None and n else "—"
        last = {k: (float(v[-1]) if len(v) else float("nan")) for k, v in h.items()}
        status = rec.attrs.get("status", "?") + (f" (checkpoint at {rec.checkpoint_step})" if not rec.finished and rec.checkpoint_step is not None else "")
        print(f"| {name} | {status} | {n} | {e:.6f} | {err:.6f} | {rel} | {last.get('v_score', float('nan')):.2e} | "
              f"{last.get('acceptance', float('nan')):.2f} | {last.get('rhat', float('nan')):.3f} | {len(rec.events)} |")
        if first is None and n:
            first = rec
    if exact is not None:
        print(f"\n{'exact (ED)' if kind == 'ed' else 'reference'} E/N = {exact:.8f}")
    if args.measure:
        print()
        for name, rec in data.runs.items():
            if rec.checkpoint_step is None:
                continue
            m = nqs.measure(args.file, rounds=args.measure, name=name)
            ref = exact if exact is not None else m.exact
            rel = f", rel. error {abs(m.energy_per_site - ref) / abs(ref):.2e}" if ref is not None else ""
            print(f"{name}: E/N = {m.energy_per_site:.6f} ± {m.error:.6f} on {m.n_samples} fresh samples at step "
                  f"{m.step}{rel}, V-score {m.v_score:.2e}")
    if args.lanczos:
        print()
        for name, rec in data.runs.items():
            if rec.checkpoint_step is None:
                continue
            try:
                _print_lanczos(args.file, name, args.lanczos, exact)
            except nqs.lanczos.UnsupportedModel as exc:
                print(f"{name}: {exc}")
    if first is not None:
        plot_convergence(first.history, png, exact=exact, title=f"{data.system.get('lattice')}: {first.name}")
        print(f"wrote {png}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .io import NQSFileError

    if args.command in ("run", "show", "bench"):
        # the sampling loops compiled whole: this process runs nqs's computations only (nqs/_xla.py)
        import nqs

        nqs.XLA_TUNED = _xla.tune(default=True)
    if args.command in ("run", "show"):
        # compiled functions kept across runs (nqs/_cache.py); bench leaves its timings uncached
        _cache.enable_compilation_cache()

    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "show":
            return cmd_show(args)
        if args.command == "bench":
            return bench_main(args)
        if args.command == "ads":
            from .ads.cli import main as ads_main

            return ads_main(args)
    except (ValueError, TypeError, FileExistsError, NQSFileError) as exc:
        print(f"nqs: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, RuntimeError) as exc:  # disk full mid-run, divergence: the file stays readable
        print(f"nqs: stopped: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nqs: interrupted; the HDF5 file holds every completed step", file=sys.stderr)
        return 130
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
