"""Peak resident memory of one VMC step on the 10x10 Heisenberg model with 16384 samples.

Each configuration runs in a fresh Python process (peak RSS from ``getrusage``, which includes the
imports and the compiled code): nqs with its default batches (``chunk_size=None``: sized to the CPU's
cache, 26 samples here), with the local energies in one batch (``chunk_size=16384``) and in chunks,
and NetKet with its own ``chunk_size``. Complex RBM alpha = 1 (10200 parameters),
256 chains, 3 steps. nqs's SR never forms the 16384 x 10200 matrix O (matrix-free CG on the RBM's
outer-product blocks); without chunks the batched local energies hold one ratio per bond, hidden
unit and sample (16384 x 200 x 100 complex numbers, 5 GB), which ``chunk_size`` bounds. The energies
printed for the first step are the same for every chunk size: chunking changes memory, not results.

    python benchmarks/memory.py                               # all configurations (a few minutes)
    python benchmarks/memory.py --configs nqs:1024,nqs:256
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

DEFAULT = "nqs:auto,nqs:16384,nqs:4096,nqs:1024,nqs:256,netket:1024"


def child(code, chunk, L, samples, chains, steps):
    import resource

    import numpy as np

    import nqs
    import jax

    chunk = None if chunk in ("auto", "none") else int(chunk)
    H = nqs.Heisenberg(nqs.Square(L, L))
    energies, times = [], []
    if code == "nqs":
        vmc = nqs.VMC(H, nqs.RBM(alpha=1), sampler=nqs.Metropolis(n_chains=chains), sr=nqs.SR(diag_shift=0.01),
                      n_samples=samples, learning_rate=0.01, chunk_size=chunk)
        state = vmc.init(jax.random.PRNGKey(0))
        step = vmc.make_step()
        for _ in range(steps):
            t0 = time.perf_counter()
            state, info = step(state)
            energies.append(float(info["energy_per_site"]))
            times.append(time.perf_counter() - t0)
    else:
        import netket as nk

        graph, hi = H.lattice.to_netket(), H.netket_hilbert()
        sampler = nk.sampler.MetropolisExchange(hi, graph=graph, n_chains=chains, d_max=1)
        vs = nk.vqs.MCState(sampler, nk.models.RBM(alpha=1, param_dtype=complex), n_samples=samples,
                            n_discard_per_chain=5, seed=0, chunk_size=chunk)
        sr = nk.optimizer.SR(qgt=nk.optimizer.qgt.QGTOnTheFly, diag_shift=0.01, holomorphic=True)
        driver = nk.driver.VMC(H.to_netket(hi), nk.optimizer.Sgd(0.01), variational_state=vs, preconditioner=sr)
        stamps = [time.perf_counter()]

        def record(i, log, drv):
            energies.append(float(np.real(drv._loss_stats.mean)) / nqs.NETKET_UNIT / H.n_sites)
            stamps.append(time.perf_counter())
            return True

        driver.run(steps, out=None, callback=record, show_progress=False)
        times = list(np.diff(stamps))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"code": code, "chunk": chunk, "peak_mib": peak_mib, "energies": energies,
                      "last_step_s": times[-1]}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=DEFAULT, help="code:chunk,... with chunk a number or auto (nqs's default)")
    ap.add_argument("--L", type=int, default=10)
    ap.add_argument("--samples", type=int, default=16384)
    ap.add_argument("--chains", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        code, chunk = args.child.split(":")
        return child(code, chunk, args.L, args.samples, args.chains, args.steps)
    print(f"# {platform.machine()} {platform.processor() or 'cpu'}; {args.L}x{args.L}, complex RBM alpha=1, "
          f"{args.samples} samples on {args.chains} chains, {args.steps} steps per process")
    rows = []
    for config in args.configs.split(","):
        cmd = [sys.executable, __file__, "--child", config, "--L", str(args.L), "--samples", str(args.samples),
               "--chains", str(args.chains), "--steps", str(args.steps)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
            print(f"  {config}: failed (exit {proc.returncode}): {tail}", flush=True)
            rows.append((config, None))
            continue
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append((config, out))
        print(f"  {config}: peak {out['peak_mib']:.0f} MiB, last step {out['last_step_s']:.2f} s, "
              f"E/N {out['energies']}", flush=True)
    print()
    print("| code | chunk_size | peak RSS (MiB) | s/step | E/N of step 1 |")
    print("|---|---|---|---|---|")
    for config, out in rows:
        code, chunk = config.split(":")
        if out is None:
            print(f"| {code} | {chunk} | failed | | |")
        else:
            print(f"| {code} | {chunk} | {out['peak_mib']:.0f} | {out['last_step_s']:.2f} | {out['energies'][0]:.6f} |")


if __name__ == "__main__":
    sys.exit(main())
