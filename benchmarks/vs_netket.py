"""Seconds per VMC step, nqs against NetKet, same problem, one run, same machine.

Settings on both sides (the core issue's benchmark): spin-1/2 Heisenberg on the periodic L x L
square lattice with the Marshall sign rule, complex RBM alpha = 1, 1008 samples on 16 chains,
Metropolis exchange moves between nearest neighbours, 5 discarded sweeps per chain and step,
SR with diagonal shift 0.01 and learning rate 0.01 (plain SGD on the SR direction). NetKet uses its
SR preconditioner with the on-the-fly quantum geometric tensor and CG (``nk.driver.VMC``), or with
``--netket-driver vmc_sr`` its ``nk.driver.VMC_SR`` (the minSR kernel and a Cholesky solve when
samples <= parameters, which NetKet's own warning recommends for 6x6 and 10x10);
nqs chooses its SR solver automatically (``SR.choose``: dense S on 4x4, the minSR kernel on 6x6 and
10x10, both exact solves).

nqs is timed as ``nqs run`` runs it, with its XLA setting for the sampling loops (``nqs/_xla.py``:
each sweep compiled as one loop rather than kernel launches per move). The setting is process-wide
and slows NetKet (measured: its 6x6 step 492 -> 803 ms), so
nqs's timings come from a child process that has it and NetKet's from this one, which has not, one
after the other; ``--xla-tuning off`` times both here without it.

Timings are medians over the timed steps after compilation. On 4x4 both also run a full
optimisation (``--energy-steps``, 300 by default) and measure the final energy on 8064 fresh
samples, to show that the speed does not come from doing less.

Other ansätze (``--model``): ``rbmsymm`` (translation-invariant RBM, ``--alpha`` filters; NetKet's
``nk.models.RBMSymm`` over the lattice's translation group), ``ffnn`` (Saito's network with alpha =
``--alpha``, which NetKet runs through ``nqs.as_flax``: the same network and parameters, NetKet's own
sampler and SR) and ``deepffnn`` (the deep network with widths (2, 1) and log cosh units; NetKet's
side is the same network written with flax's Dense layers and NetKet's ``log_cosh``). The DBM has no
NetKet counterpart (NetKet cannot sample its deep units).

    python benchmarks/vs_netket.py                     # RBM alpha=1 on 4x4, 6x6, 10x10
    python benchmarks/vs_netket.py --sizes 4 --timed-steps 5 --energy-steps 0   # quick
    python benchmarks/vs_netket.py --model rbmsymm --alpha 4 --sizes 10 --energy-steps 0
    python benchmarks/vs_netket.py --model ffnn --alpha 1 --sizes 4,6 --energy-steps 0
    python benchmarks/vs_netket.py --parts             # and where nqs's step goes (sampling, E_loc, SR)
    python benchmarks/vs_netket.py --netket-driver vmc_sr --energy-steps 0   # against NetKet's minSR driver
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

import nqs  # sets jax_enable_x64 and the BLAS thread default before netket imports jax

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import netket as nk  # noqa: E402

N_SAMPLES, N_CHAINS, DIAG_SHIFT, LR, N_DISCARD = 1008, 16, 0.01, 0.01, 5


def nqs_model(name, L, alpha, dtype="complex128"):
    """The nqs ansatz of the benchmark (complex parameters throughout; ``dtype="complex64"`` for
    single precision)."""
    if name == "rbm":
        return nqs.RBM(alpha=alpha, dtype=dtype)
    if name == "rbmsymm":
        return nqs.RBMSymm(nqs.Square(L, L), alpha=int(alpha), dtype=dtype)
    if name == "ffnn":
        return nqs.FFNN(alpha=alpha, dtype=dtype)
    if name == "deepffnn":
        return nqs.DeepFFNN(widths=(2, 1), dtype=dtype)
    raise ValueError(f"unknown model {name!r}")


class NetKetDeepFFNN(nn.Module):
    """The DeepFFNN as a NetKet user writes it: flax Dense layers of widths (2N, N) with NetKet's
    ``nk.nn.activation.log_cosh`` between them and the last layer's units summed (nqs's ``DeepFFNN(widths=(2,
    1))``, the same function of its parameters; only NetKet's own activation differs)."""

    widths: tuple

    @nn.compact
    def __call__(self, x):
        n = x.shape[-1]
        for w in self.widths:
            x = nk.nn.activation.log_cosh(nn.Dense(int(round(w * n)), param_dtype=complex)(x))
        return jnp.sum(x, axis=-1)


def netket_model(name, L, alpha):
    """NetKet's own RBM / RBMSymm / deep network, or the nqs network itself through ``nqs.as_flax``
    (Saito's FFNN, whose sum of sigmoid units NetKet has no model for)."""
    if name == "deepffnn":
        return NetKetDeepFFNN(widths=nqs_model(name, L, alpha).widths)
    if name == "rbm":
        return nk.models.RBM(alpha=alpha, param_dtype=complex)
    if name == "rbmsymm":
        # the lattice's translations as site permutations (the set is closed under inversion, so
        # NetKet's and nqs's conventions for a permutation give the same group)
        translations = nk.utils.HashableArray(np.asarray(nqs.Square(L, L).translations))
        return nk.models.RBMSymm(symmetries=translations, alpha=int(alpha), param_dtype=complex)
    return nqs.as_flax(nqs_model(name, L, alpha), n_sites=L * L)


def netket_driver(L, seed=0, n_samples=N_SAMPLES, n_chains=N_CHAINS, params=None, model="rbm", alpha=1, driver="qgt"):
    """NetKet's VMC driver for the benchmark problem; ``params`` (nqs RBM parameters) sets the start.
    ``driver``: "qgt" (``nk.driver.VMC`` with the SR preconditioner, QGTOnTheFly + CG) or "vmc_sr"
    (``nk.driver.VMC_SR``, which NetKet recommends when samples <= parameters: it picks the minSR
    kernel there, with a Cholesky solve)."""
    H = nqs.Heisenberg(nqs.Square(L, L))
    graph = H.lattice.to_netket()
    hi = H.netket_hilbert()
    op = H.to_netket(hi)
    net = netket_model(model, L, alpha)
    sampler = nk.sampler.MetropolisExchange(hi, graph=graph, n_chains=n_chains, d_max=1)
    vs = nk.vqs.MCState(sampler, net, n_samples=n_samples, n_discard_per_chain=N_DISCARD, seed=seed, sampler_seed=seed)
    if params is not None:
        vs.parameters = {"Dense": {"kernel": params["W"], "bias": params["b"]}, "visible_bias": params["a"]}
    if driver == "vmc_sr":
        return nk.driver.VMC_SR(op, nk.optimizer.Sgd(learning_rate=LR), diag_shift=DIAG_SHIFT, variational_state=vs), vs, op
    sr = nk.optimizer.SR(qgt=nk.optimizer.qgt.QGTOnTheFly, diag_shift=DIAG_SHIFT, holomorphic=True)
    return nk.driver.VMC(op, nk.optimizer.Sgd(learning_rate=LR), variational_state=vs, preconditioner=sr), vs, op


def time_netket(L, steps, warmup=3, n_samples=N_SAMPLES, n_chains=N_CHAINS, model="rbm", alpha=1, driver="qgt"):
    driver, vs, _ = netket_driver(L, n_samples=n_samples, n_chains=n_chains, model=model, alpha=alpha, driver=driver)
    stamps = []

    def record(step, log_data, drv):
        float(np.real(drv._loss_stats.mean))  # wait for the step to finish
        stamps.append(time.perf_counter())
        return True

    driver.run(warmup + steps, out=None, callback=record, show_progress=False)
    return float(np.median(np.diff(stamps[warmup - 1:])))


def nqs_vmc(L, n_samples=N_SAMPLES, n_chains=N_CHAINS, chunk_size=None, model="rbm", alpha=1, dtype="complex128"):
    H = nqs.Heisenberg(nqs.Square(L, L))
    return nqs.VMC(
        H, nqs_model(model, L, alpha, dtype), sampler=nqs.Metropolis(n_chains=n_chains, n_discard=N_DISCARD),
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


def nqs_parts(L, steps=20, warmup=20, **settings):
    """Where nqs's step goes: median ms of compiled functions that stop after sampling, after the
    local energies, and after the SR solve, and of the whole step (after ``warmup`` steps, so that
    S has the conditioning of a run in progress rather than of the random start)."""
    vmc = nqs_vmc(L, **settings)
    state = vmc.init(jax.random.PRNGKey(0))
    step = vmc.make_step()
    for _ in range(warmup):
        state, _ = step(state)
    real = not nqs.vmc.is_complex_params(state.params)
    jit = nqs._xla.jit(vmc.model)  # compiled as the step is, with the ansatz's XLA options

    @jit
    def sampled(params, sstate):
        tables = vmc.hamiltonian.tables(vmc.model, params)
        return nqs.sampler.sample(vmc.sampler, vmc.model, tables, vmc.hamiltonian, sstate, vmc.n_per_chain,
                                  vmc.sampler.n_discard)

    @jit
    def measured(params, sstate):
        return vmc._sample_and_measure(params, sstate, vmc.sampler.n_discard)[:2]

    @jit
    def solved(params, sstate):
        _, e_loc, (tables, sigma, caches), _, _ = vmc._sample_and_measure(params, sstate, vmc.sampler.n_discard)
        O = vmc.model.log_derivative_blocks(params, tables, sigma, caches)
        return nqs.sr.natural_gradient(vmc.sr, O, e_loc, state.step, real)

    def median_ms(f, *args):
        jax.block_until_ready(f(*args))
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            jax.block_until_ready(f(*args))
            times.append(time.perf_counter() - t0)
        return 1e3 * float(np.median(times))

    cum = [median_ms(f, state.params, state.sampler) for f in (sampled, measured, solved)]
    total = median_ms(lambda s: step(s)[1], state)
    return {"sampling": cum[0], "local energies": cum[1] - cum[0], "SR": cum[2] - cum[1], "step": total}


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


def nqs_in_child(argv):
    """nqs's timings from a child process with nqs's XLA setting on (``NQS_XLA_TUNING=1``): the
    setting is process-wide, and NetKet, timed in this process, runs as its users run it."""
    env = dict(os.environ, NQS_XLA_TUNING="1")
    done = subprocess.run([sys.executable, os.path.abspath(__file__), *argv, "--child"], env=env,
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["xla_tuned"]:
        print("# note: the child process could not apply nqs's XLA setting (XLA_FLAGS sets "
              "xla_backend_extra_options already?)")
    return result["timings"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="4,6,10", help="comma-separated L for L x L lattices")
    ap.add_argument("--model", default="rbm", choices=["rbm", "rbmsymm", "ffnn", "deepffnn"])
    ap.add_argument("--alpha", type=float, default=1, help="hidden-unit density (filters for rbmsymm)")
    ap.add_argument("--timed-steps", type=int, default=10)
    ap.add_argument("--netket-steps-large", type=int, default=5, help="timed NetKet steps for L >= 8")
    ap.add_argument("--energy-steps", type=int, default=300, help="full optimisation on 4x4, RBM only (0: skip)")
    ap.add_argument("--parts", action="store_true", help="also time nqs's sampling, local energies and SR apart")
    ap.add_argument("--netket-driver", default="qgt", choices=["qgt", "vmc_sr"],
                    help="NetKet's SR: VMC with QGTOnTheFly + CG (default), or VMC_SR (its minSR kernel when "
                         "samples <= parameters, which NetKet recommends there)")
    ap.add_argument("--xla-tuning", default="on", choices=["on", "off"],
                    help="nqs's XLA setting for its sampling loops (nqs/_xla.py), on as `nqs run` has it: nqs is "
                         "then timed in a child process that has it, NetKet in this one without it")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # the child: nqs's timings as JSON
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    alpha = int(args.alpha) if args.alpha == int(args.alpha) else args.alpha
    if args.child:
        out = {}
        for L in sizes:
            settings = dict(model=args.model, alpha=alpha)
            out[L] = {"step": time_nqs(L, args.timed_steps, **settings),
                      "parts": nqs_parts(L, **settings) if args.parts else None}
        print(json.dumps({"xla_tuned": nqs.XLA_TUNED, "timings": out}))
        return
    nqs_timings = None
    if args.xla_tuning == "on":
        nqs_timings = nqs_in_child(argv if argv is not None else sys.argv[1:])
    print(f"# machine: {platform.machine()}, {platform.processor() or 'cpu'}, jax devices {jax.devices()}")
    print(f"# netket {nk.__version__} ({'VMC_SR' if args.netket_driver == 'vmc_sr' else 'VMC + QGTOnTheFly'}), "
          f"jax {jax.__version__}; {args.model} alpha={alpha} complex, {N_SAMPLES} "
          f"samples, {N_CHAINS} chains, SR shift {DIAG_SHIFT}, lr {LR}")
    if nqs.XLA_TUNED:
        print("# warning: NQS_XLA_TUNING=1 in this process: NetKet is measured with nqs's XLA setting too")
    print(f"# nqs's XLA setting for its sampling loops: {'on (nqs timed in a child process)' if nqs_timings else 'off'}")
    rows = []
    for L in sizes:
        settings = dict(model=args.model, alpha=alpha)
        n_params = nqs_model(args.model, L, alpha).n_params(L * L)
        t_nqs = nqs_timings[str(L)]["step"] if nqs_timings else time_nqs(L, args.timed_steps, **settings)
        t_nk = time_netket(L, args.timed_steps if L < 8 else args.netket_steps_large, driver=args.netket_driver,
                           **settings)
        rows.append((L, n_params, t_nk, t_nqs))
        print(f"  {L}x{L}: netket {t_nk * 1e3:.1f} ms/step, nqs {t_nqs * 1e3:.1f} ms/step", flush=True)
    print()
    print("| ansatz | lattice | parameters | NetKet ms/step | nqs ms/step | speed-up |")
    print("|---|---|---|---|---|---|")
    for L, n_params, t_nk, t_nqs in rows:
        print(f"| {args.model} α={alpha} | {L}x{L} | {n_params} | {t_nk * 1e3:.1f} | {t_nqs * 1e3:.1f} | "
              f"{t_nk / t_nqs:.1f}x |")
    if args.parts:
        print()
        print("nqs, median ms: | lattice | sampling | local energies | SR | whole step |")
        print("|---|---|---|---|---|")
        for L in sizes:
            p = nqs_timings[str(L)]["parts"] if nqs_timings else nqs_parts(L, model=args.model, alpha=alpha)
            print(f"| {L}x{L} | {p['sampling']:.1f} | {p['local energies']:.1f} | {p['SR']:.1f} | {p['step']:.1f} |",
                  flush=True)
    if args.energy_steps > 0 and args.model == "rbm":
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
