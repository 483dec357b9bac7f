"""Seconds per VMC step on a GPU, nqs against NetKet, in one process (run through gpu.sh).

Same problem as benchmarks/vs_netket.py (Heisenberg on the periodic L x L lattice, complex RBM
alpha=1 or the translation-invariant RBMSymm, nearest-neighbour exchange moves, 5 discarded sweeps,
SR shift 0.01, lr 0.01) at the sizes where a GPU matters. Each configuration is timed for both codes
on the same card, nqs also in single precision (complex64 parameters, ``nqs run --float32``); a
code that runs out of memory is reported as such. Rows run in order of importance; once the time
budget (``--budget``, seconds) is spent, the rest are reported as skipped, so that a lease that
ends early still returns a table. The table is printed last (and written to ``--out``).

    python benchmarks/gpu_bench.py              # 10x10 and 16x16 (the GPU configuration)
    python benchmarks/gpu_bench.py --dry-run    # tiny sizes, checks the script on a CPU
"""

from __future__ import annotations

import argparse
import time
import traceback

import nqs  # noqa: F401  (x64 and thread defaults before jax/netket)

import jax  # noqa: E402

from vs_netket import time_netket, time_nqs  # noqa: E402

FULL = [  # (model, alpha, L, samples, chains, chunk for nqs's local energies)
    ("rbm", 1, 10, 1008, 1008, None),
    ("rbm", 1, 10, 1008, 16, None),
    ("rbm", 1, 16, 4096, 1024, 512),
    ("rbm", 1, 10, 16384, 1024, 4096),
    ("rbmsymm", 4, 10, 1008, 1008, None),
    ("rbm", 1, 16, 16384, 1024, 1024),
]
DRY = [("rbm", 1, 4, 64, 16, None), ("rbm", 1, 4, 64, 64, 16), ("rbmsymm", 2, 4, 64, 16, None)]


def attempt(fn):
    try:
        return fn()
    except Exception as exc:  # out of memory on the card is a result, not a crash of the benchmark
        name = type(exc).__name__
        text = str(exc).splitlines()[0][:120] if str(exc) else ""
        print(f"    failed: {name}: {text}", flush=True)
        if "RESOURCE_EXHAUSTED" not in str(exc) and "out of memory" not in str(exc).lower():
            traceback.print_exc()
        return None


def ms(t, missing):
    return f"{t * 1e3:.1f}" if t else missing


def table(rows, kind):
    lines = [f"| ansatz | lattice | samples | chains | NetKet ms/step | nqs ms/step | speed-up | nqs float32 ms/step |   ({kind})",
             "|---|---|---|---|---|---|---|---|"]
    for model, alpha, L, samples, chains, theirs, ours, ours32 in rows:
        name = f"{'RBM' if model == 'rbm' else 'RBMSymm'} alpha={alpha}"
        ratio = f"{theirs / ours:.1f}x" if theirs and ours else "—"
        lines.append(f"| {name} | {L}x{L} | {samples} | {chains} | {ms(theirs, 'failed (out of memory)')} | "
                     f"{ms(ours, 'failed')} | {ratio} | {ms(ours32, '—')} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes, for a CPU check of the script")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per configuration")
    ap.add_argument("--budget", type=float, default=420, help="seconds after which the remaining rows are skipped")
    ap.add_argument("--no-float32", action="store_true", help="skip nqs's single-precision column")
    ap.add_argument("--skip-netket-16", action="store_true", help="do not try NetKet on 16x16")
    ap.add_argument("--netket-driver", default="qgt", choices=["qgt", "vmc_sr"],
                    help="NetKet's VMC with QGTOnTheFly + CG, or its VMC_SR (minSR kernel when samples <= parameters)")
    ap.add_argument("--out", default=None, help="also write the table to this file (after every row)")
    args = ap.parse_args(argv)
    configs = DRY if args.dry_run else FULL
    kind = jax.devices()[0].device_kind
    print(f"# devices: {jax.devices()}; NetKet driver: {args.netket_driver}", flush=True)
    start = time.perf_counter()
    rows = []

    def spent():
        return time.perf_counter() - start > args.budget

    for model, alpha, L, samples, chains, chunk in configs:
        if spent():
            print(f"{model} {L}x{L}, {samples} on {chains}: skipped (budget of {args.budget:.0f} s spent)", flush=True)
            continue
        print(f"{model} alpha={alpha} {L}x{L}, {samples} samples on {chains} chains  [{time.perf_counter() - start:.0f} s]", flush=True)
        common = dict(n_samples=samples, n_chains=chains, model=model, alpha=alpha)
        ours = attempt(lambda: time_nqs(L, args.steps, 2, chunk_size=chunk, **common))
        print(f"    nqs         {ours}", flush=True)
        theirs = None
        if not (L >= 16 and args.skip_netket_16):
            theirs = attempt(lambda: time_netket(L, args.steps, 2, driver=args.netket_driver, **common))
        print(f"    netket      {theirs}", flush=True)
        ours32 = None
        if not args.no_float32 and not spent():
            ours32 = attempt(lambda: time_nqs(L, args.steps, 2, chunk_size=chunk, dtype="complex64", **common))
            print(f"    nqs float32 {ours32}", flush=True)
        rows.append((model, alpha, L, samples, chains, theirs, ours, ours32))
        if args.out:
            with open(args.out, "w") as f:
                f.write(table(rows, kind) + "\n")
    print(f"\n# {time.perf_counter() - start:.0f} s in all")
    print(table(rows, kind))


if __name__ == "__main__":
    main()
