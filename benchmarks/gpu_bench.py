"""Seconds per VMC step on a GPU, nqs against NetKet, in one process (run through gpu.sh).

Same problem as benchmarks/vs_netket.py (Heisenberg on the periodic L x L lattice, complex RBM
alpha=1, nearest-neighbour exchange moves, 5 discarded sweeps, SR shift 0.01, lr 0.01) at the sizes
where a GPU matters. Each configuration is timed for both codes on the same card; a code that runs
out of memory is reported as such. The table is printed last.

    python benchmarks/gpu_bench.py              # 10x10 and 16x16 (the GPU configuration)
    python benchmarks/gpu_bench.py --dry-run    # tiny sizes, checks the script on a CPU
"""

from __future__ import annotations

import argparse
import traceback

import nqs  # noqa: F401  (x64 and thread defaults before jax/netket)

import jax  # noqa: E402

from vs_netket import time_netket, time_nqs  # noqa: E402

FULL = [  # (L, samples, chains, chunk for nqs local energies)
    (10, 1008, 1008, None),
    (10, 1008, 16, None),
    (10, 16384, 1024, 4096),
    (16, 4096, 1024, 512),
]
DRY = [(4, 64, 16, None), (4, 64, 64, 16)]


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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes, for a CPU check of the script")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per configuration")
    ap.add_argument("--skip-netket-16", action="store_true", help="do not try NetKet on 16x16")
    args = ap.parse_args(argv)
    configs = DRY if args.dry_run else FULL
    print(f"# devices: {jax.devices()}", flush=True)
    rows = []
    for L, samples, chains, chunk in configs:
        print(f"{L}x{L}, {samples} samples on {chains} chains", flush=True)
        ours = attempt(lambda: time_nqs(L, args.steps, 2, n_samples=samples, n_chains=chains, chunk_size=chunk))
        print(f"    nqs    {ours}", flush=True)
        theirs = None
        if not (L >= 16 and args.skip_netket_16):
            theirs = attempt(lambda: time_netket(L, args.steps, 2, n_samples=samples, n_chains=chains))
        print(f"    netket {theirs}", flush=True)
        rows.append((L, samples, chains, theirs, ours))
    print()
    print(f"| lattice | samples | chains | NetKet ms/step | nqs ms/step | speed-up |   ({jax.devices()[0].device_kind})")
    print("|---|---|---|---|---|---|")
    for L, samples, chains, theirs, ours in rows:
        t_nk = f"{theirs * 1e3:.1f}" if theirs else "failed (out of memory)"
        t_q = f"{ours * 1e3:.1f}" if ours else "failed"
        ratio = f"{theirs / ours:.1f}x" if theirs and ours else "—"
        print(f"| {L}x{L} | {samples} | {chains} | {t_nk} | {t_q} | {ratio} |")


if __name__ == "__main__":
    main()
