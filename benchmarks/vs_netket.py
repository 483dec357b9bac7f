"""Seconds per VMC step, nqs against NetKet, same problem, same process, same machine.

Settings on both sides (the core issue's benchmark): spin-1/2 Heisenberg on the periodic L x L
square lattice with the Marshall sign rule, complex RBM alpha = 1, 1008 samples on 16 chains,
Metropolis exchange moves between nearest neighbours, 5 discarded sweeps per chain and step,
SR with diagonal shift 0.01 and learning rate 0.01 (plain SGD on the SR direction). NetKet uses its
SR preconditioner with the on-the-fly quantum geometric tensor and CG (``nk.driver.VMC``);
nqs chooses its SR solver automatically (dense S for P <= Ns, minSR kernel otherwise).

Timings are medians over the timed steps after compilation. On 4x4 both also run a full
optimisation (``--energy-steps``, 300 by default) and measure the final energy on 8064 fresh
samples, to show that the speed does not come from doing less.

    python benchmarks/vs_netket.py                     # 4x4, 6x6, 10x10
    python benchmarks/vs_netket.py --sizes 4 --timed-steps 5 --energy-steps 0   # quick
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import nqs  # sets jax_enable_x64 and the BLAS thread default before netket imports jax

import jax  # noqa: E402
import netket as nk  # noqa: E402

N_SAMPLES, N_CHAINS, DIAG_SHIFT, LR, N_DISCARD = 1008, 16, 0.01, 0.01, 5


def netket_driver(L, seed=0, n_samples=N_SAMPLES, n_chains=N_CHAINS, params=None):
    """NetKet's VMC driver for the benchmark problem; ``params`` (nqs RBM parameters) sets the start."""
    H = nqs.Heisenberg(nqs.Square(L, L))
    graph = H.lattice.to_netket()
    hi = H.netket_hilbert()
    op = H.to_netket(hi)
    model = nk.models.RBM(alpha=1, param_dtype=complex)
    sampler = nk.sampler.MetropolisExchange(hi, graph=graph, n_chains=n_chains, d_max=1)
    vs = nk.vqs.MCState(sampler, model, n_samples=n_samples, n_discard_per_chain=N_DISCARD, seed=seed, sampler_seed=seed)
    if params is not None:
        vs.parameters = {"Dense": {"kernel": params["W"], "bias": params["b"]}, "visible_bias": params["a"]}
    sr = nk.optimizer.SR(qgt=nk.optimizer.qgt.QGTOnTheFly, diag_shift=DIAG_SHIFT, holomorphic=True)
    return nk.driver.VMC(op, nk.optimizer.Sgd(learning_rate=LR), variational_state=vs, preconditioner=sr), vs, op


def time_netket(L, steps, warmup=3, n_samples=N_SAMPLES, n_chains=N_CHAINS):
    driver, vs, _ = netket_driver(L, n_samples=n_samples, n_chains=n_chains)
    stamps = []

    def record(step, log_data, drv):
        float(np.real(drv._loss_stats.mean))  # wait for the step to finish
        stamps.append(time.perf_counter())
        return True

    driver.run(warmup + steps, out=None, callback=record, show_progress=False)
    return float(np.median(np.diff(stamps[warmup - 1:])))


def nqs_vmc(L, n_samples=N_SAMPLES, n_chains=N_CHAINS, chunk_size=None):
    H = nqs.Heisenberg(nqs.Square(L, L))
    return nqs.VMC(
        H, nqs.RBM(alpha=1), sampler=nqs.Metropolis(n_chains=n_chains, n_discard=N_DISCARD),
        sr=nqs.SR(diag_shift=DIAG_SHIFT), n_samples=n_samples, learning_rate=LR, chunk_size=chunk_size,
    )


def time_nqs(L, steps, warmup=3, **settings):
    vmc = nqs_vmc(L, **settings)
    state = vmc.init(jax.random.PRNGKey(0))
    step = vmc.make_step()
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        state, info = step(state)
        jax.block_until_ready(info)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def energies_after(L, steps, seed=0):
    """Final energy per site (S.S units) of both codes after ``steps`` steps from the same initial
    parameters, each measured on 8064 fresh samples."""
    vmc = nqs_vmc(L)
    start = vmc.init(jax.random.PRNGKey(seed)).params
    driver, vs, op = netket_driver(L, seed=seed, params=start)
    driver.run(steps, out=None, show_progress=False)
    vs.n_samples = 8 * N_SAMPLES
    e = vs.expect(op)
    N = L * L
    nk_e, nk_err = float(np.real(e.mean)) / 4 / N, float(e.error_of_mean) / 4 / N
    H = nqs.Heisenberg(nqs.Square(L, L))
    r = nqs.ground_state(
        H, nqs.RBM(alpha=1), n_samples=N_SAMPLES, steps=steps, seed=seed, learning_rate=LR,
        sr=nqs.SR(diag_shift=DIAG_SHIFT), sampler=nqs.Metropolis(n_chains=N_CHAINS, n_discard=N_DISCARD),
        eval_rounds=8, progress=False,
    )
    return (nk_e, nk_err), (r.energy_per_site, r.error)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="4,6,10", help="comma-separated L for L x L lattices")
    ap.add_argument("--timed-steps", type=int, default=10)
    ap.add_argument("--netket-steps-large", type=int, default=5, help="timed NetKet steps for L >= 8")
    ap.add_argument("--energy-steps", type=int, default=300, help="full optimisation on 4x4 (0: skip)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"# machine: {platform.machine()}, {platform.processor() or 'cpu'}, jax devices {jax.devices()}")
    print(f"# netket {nk.__version__}, jax {jax.__version__}; RBM alpha=1 complex, {N_SAMPLES} samples, "
          f"{N_CHAINS} chains, SR shift {DIAG_SHIFT}, lr {LR}")
    rows = []
    for L in sizes:
        t_nqs = time_nqs(L, args.timed_steps)
        t_nk = time_netket(L, args.timed_steps if L < 8 else args.netket_steps_large)
        rows.append((L, t_nk, t_nqs))
        print(f"  {L}x{L}: netket {t_nk * 1e3:.1f} ms/step, nqs {t_nqs * 1e3:.1f} ms/step", flush=True)
    print()
    print("| lattice | NetKet ms/step | nqs ms/step | speed-up |")
    print("|---|---|---|---|")
    for L, t_nk, t_nqs in rows:
        print(f"| {L}x{L} | {t_nk * 1e3:.1f} | {t_nqs * 1e3:.1f} | {t_nk / t_nqs:.1f}x |")
    if args.energy_steps > 0:
        (nk_e, nk_err), (q_e, q_err) = energies_after(4, args.energy_steps)
        exact = -0.70178020
        z = abs(nk_e - q_e) / np.hypot(nk_err, q_err)
        print()
        print(f"4x4 after {args.energy_steps} steps, E/N (J, S.S units), exact {exact}:")
        print(f"  NetKet {nk_e:.6f} +- {nk_err:.6f}   rel. error {abs(nk_e - exact) / -exact:.2e}")
        print(f"  nqs    {q_e:.6f} +- {q_err:.6f}   rel. error {abs(q_e - exact) / -exact:.2e}")
        print(f"  difference {abs(nk_e - q_e):.6f} = {z:.1f} combined error bars")


if __name__ == "__main__":
    main()
