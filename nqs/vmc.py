"""Variational Monte Carlo: one jitted step, and the driver loop around it.

One step, as in Carleo & Troyer (2017):

1. advance every Markov chain (``sampler.sample``; look-up-table ratios, chains persist),
2. local energies E_loc(sigma) of all samples (``Heisenberg.local_energy``, same fast path),
3. log-derivatives O_k(sigma) (closed form where the ansatz has one),
4. the SR direction delta = (S + D)^{-1} F (``sr.natural_gradient``),
5. the parameter update through an optax transformation (plain SGD, theta <- theta - eta delta,
   by default).

All five are one ``jax.jit``-compiled function of the pytree ``VMCState``; the Python loop in
``ground_state`` only logs, writes HDF5 and shows progress. The energy reported for step p is that
of the parameters before the update of step p (as in NetKet).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from .hamiltonian import Heisenberg
from .models.base import is_complex_params
from .sampler import Metropolis, SamplerState, _sweeps, init_state, sample
from .sr import SR, natural_gradient
from .stats import combine, statistics

HISTORY_COLUMNS = (
    "energy_per_site",
    "error_per_site",
    "variance",
    "v_score",
    "tau",
    "rhat",
    "acceptance",
    "step_time",
)


class VMCState(NamedTuple):
    """Everything a VMC run needs to continue: parameters, optimizer and sampler state, step count."""

    params: Any
    opt_state: Any
    sampler: SamplerState
    step: jax.Array


@dataclass(frozen=True)
class VMC:
    """A VMC problem: Hamiltonian, ansatz, sampler, SR settings, optimizer and sample count.

    Args:
        hamiltonian: the ``Heisenberg`` model.
        model: an ansatz following ``nqs.models.base``.
        sampler: ``Metropolis`` settings.
        sr: ``SR`` settings.
        optimizer: an optax transformation applied to the SR direction (default SGD with
            ``learning_rate``).
        n_samples: samples per step, rounded up to a multiple of ``sampler.n_chains``.
        learning_rate: used when ``optimizer`` is None.
        chunk_size: samples per batch when computing local energies (bounds memory).
    """

    hamiltonian: Heisenberg
    model: Any
    sampler: Metropolis = field(default_factory=Metropolis)
    sr: SR = field(default_factory=SR)
    optimizer: Any = None
    n_samples: int = 1008
    learning_rate: float = 0.01
    chunk_size: int | None = None

    def __post_init__(self):
        if not isinstance(self.hamiltonian, Heisenberg):
            raise TypeError(f"VMC: hamiltonian must be an nqs.Heisenberg, got {type(self.hamiltonian).__name__}")
        if not isinstance(self.n_samples, (int, np.integer)) or isinstance(self.n_samples, bool):
            raise TypeError(f"VMC: n_samples must be an integer, got {self.n_samples!r}")
        if self.n_samples < self.sampler.n_chains:
            raise ValueError(
                f"VMC: n_samples ({self.n_samples}) must be >= n_chains ({self.sampler.n_chains}): "
                "every chain gives at least one sample per step; lower n_chains or raise n_samples"
            )
        if not self.learning_rate > 0:
            raise ValueError(f"VMC: learning_rate must be > 0, got {self.learning_rate}")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise ValueError(f"VMC: chunk_size must be >= 1, got {self.chunk_size}")

    @property
    def n_per_chain(self) -> int:
        return -(-self.n_samples // self.sampler.n_chains)

    @property
    def n_samples_actual(self) -> int:
        return self.n_per_chain * self.sampler.n_chains

    def make_optimizer(self):
        return self.optimizer if self.optimizer is not None else optax.sgd(self.learning_rate)

    def init(self, key) -> VMCState:
        """Initial parameters, optimizer state and thermalised chains."""
        k_params, k_sampler = jax.random.split(key)
        params = self.model.init(k_params, self.hamiltonian.n_sites)
        real_dtype = jnp.real(jax.tree_util.tree_leaves(params)[0]).dtype
        sstate = init_state(self.sampler, self.hamiltonian, k_sampler, real_dtype)
        sstate = self._thermalize(params, sstate)
        opt_state = self.make_optimizer().init(params)
        return VMCState(params=params, opt_state=opt_state, sampler=sstate, step=jnp.zeros((), jnp.int32))

    def _thermalize(self, params, sstate):
        if self.sampler.n_thermalize == 0:
            return sstate

        @jax.jit
        def run(params, sstate):
            tables = self.model.tables(params)
            cache = jax.vmap(self.model.cache, in_axes=(None, 0))(tables, sstate.sigma)
            key, sub = jax.random.split(sstate.key)
            bonds = jnp.asarray(self.hamiltonian.lattice.bonds)
            sigma, _, _, _ = _sweeps(self.sampler, self.model, tables, bonds, sstate.sigma, cache, sub, self.sampler.n_thermalize)
            return SamplerState(sigma=sigma, key=key)

        return run(params, sstate)

    # -- the pieces of one step -------------------------------------------------------------

    def _local_energies(self, tables, sigma):
        """Local energies and caches of a batch of configurations (in chunks if ``chunk_size``)."""
        model, H = self.model, self.hamiltonian

        def one(s):
            c = model.cache(tables, s)
            return H.local_energy(model, tables, s, c), c

        if self.chunk_size is None or self.chunk_size >= sigma.shape[0]:
            return jax.vmap(one)(sigma)
        return jax.lax.map(one, sigma, batch_size=self.chunk_size)

    def _sample_and_measure(self, params, sstate, n_discard):
        tables = self.model.tables(params)
        sstate, kept, acceptance = sample(self.sampler, self.model, tables, self.hamiltonian, sstate, self.n_per_chain, n_discard)
        S, C, N = kept.shape
        sigma = kept.reshape(S * C, N)
        e_loc, caches = self._local_energies(tables, sigma)
        return sstate, e_loc, (tables, sigma, caches), acceptance, (S, C)

    def _info(self, e_loc, shape, acceptance):
        N = self.hamiltonian.n_sites
        st = statistics(e_loc.reshape(shape))
        return {
            "energy_per_site": st.mean / N,
            "error_per_site": st.error / N,
            "variance": st.variance,
            "v_score": N * st.variance / st.mean**2,
            "tau": st.tau,
            "rhat": st.rhat,
            "acceptance": acceptance,
        }

    def make_step(self) -> Callable[[VMCState], tuple[VMCState, dict]]:
        """The jitted VMC step: VMCState -> (VMCState, info of the parameters before the update)."""
        optimizer = self.make_optimizer()

        @jax.jit
        def step(state: VMCState):
            params = state.params
            real = not is_complex_params(params)
            sstate, e_loc, (tables, sigma, caches), acceptance, shape = self._sample_and_measure(
                params, state.sampler, self.sampler.n_discard
            )
            O = self.model.log_derivative_blocks(params, tables, sigma, caches)
            delta = natural_gradient(self.sr, O, e_loc, state.step, real)
            delta_tree = ravel_pytree(params)[1](delta.astype(ravel_pytree(params)[0].dtype))
            updates, opt_state = optimizer.update(delta_tree, state.opt_state, params)
            new_params = optax.apply_updates(params, updates)
            info = self._info(e_loc, shape, acceptance)
            info["finite"] = jnp.all(jnp.isfinite(delta)) & jnp.isfinite(info["energy_per_site"])
            return VMCState(new_params, opt_state, sstate, state.step + 1), info

        return step

    def make_evaluate(self):
        """Jitted measurement at fixed parameters: (params, SamplerState) -> (SamplerState, info)."""

        @jax.jit
        def evaluate(params, sstate):
            sstate, e_loc, _, acceptance, shape = self._sample_and_measure(params, sstate, self.sampler.n_discard)
            return sstate, self._info(e_loc, shape, acceptance)

        return evaluate


@dataclass
class Result:
    """Outcome of ``ground_state``: final energy per site (S.S units, J = 1) and the run's history."""

    energy_per_site: float
    error: float
    variance: float
    v_score: float
    history: dict
    params: Any
    state: VMCState
    n_params: int
    n_samples: int
    wall_time: float
    exact: float | None = None

    @property
    def relative_error(self) -> float | None:
        """|E - E_exact| / |E_exact| when an exact energy was given, else None."""
        if self.exact is None:
            return None
        return abs(self.energy_per_site - self.exact) / abs(self.exact)


def ground_state(
    hamiltonian: Heisenberg,
    model,
    n_samples: int = 1008,
    steps: int = 300,
    seed: int = 0,
    *,
    n_chains: int = 16,
    learning_rate: float = 0.01,
    sr: SR | None = None,
    sampler: Metropolis | None = None,
    optimizer=None,
    chunk_size: int | None = None,
    eval_rounds: int = 4,
    out: str | None = None,
    force: bool = False,
    name: str = "main",
    progress: bool = True,
    callback: Callable[[int, dict], None] | None = None,
    exact: float | None = None,
    command_line: str | None = None,
) -> Result:
    """Find the ground state of ``hamiltonian`` with the ansatz ``model`` by VMC + SR.

    Args:
        hamiltonian: a ``Heisenberg`` model.
        model: an ansatz, e.g. ``nqs.RBM(alpha=1)``.
        n_samples: Monte Carlo samples per step (rounded up to a multiple of ``n_chains``).
        steps: optimisation steps (> 0).
        seed: seeds the parameters and the chains.
        n_chains: Markov chains run in parallel (ignored when ``sampler`` is given).
        learning_rate: SR step size eta (ignored when ``optimizer`` is given).
        sr: ``SR`` settings (default: automatic solver, constant diagonal shift 0.01).
        sampler: ``Metropolis`` settings (default: exchange moves, ``n_chains`` chains).
        optimizer: an optax transformation applied to the SR direction (default SGD).
        chunk_size: bound on samples per batch in the local-energy evaluation (memory).
        eval_rounds: after training, the final energy is measured on ``eval_rounds * n_samples``
            fresh samples at the final parameters (0: use the last step's estimate).
        out: HDF5 file to write (history appended every step); refused if it exists unless ``force``.
        name: the run's group name in the file (``runs/<name>``).
        progress: show a tqdm progress bar.
        callback: called as ``callback(step, info)`` after every step with plain floats.
        exact: exact energy per site, stored and used for the relative error.

    Returns:
        A ``Result``; ``energy_per_site`` and ``error`` are per site in units of J (S = sigma/2).
    """
    from .io import RunWriter

    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool):
        raise TypeError(f"steps must be an integer, got {steps!r}")
    if steps <= 0:
        raise ValueError(f"steps must be > 0, got {steps}")
    if eval_rounds < 0:
        raise ValueError(f"eval_rounds must be >= 0, got {eval_rounds}")
    sampler = sampler if sampler is not None else Metropolis(n_chains=n_chains)
    vmc = VMC(
        hamiltonian, model, sampler=sampler, sr=sr if sr is not None else SR(), optimizer=optimizer,
        n_samples=n_samples, learning_rate=learning_rate, chunk_size=chunk_size,
    )
    config = {
        "lattice": {"Lx": hamiltonian.lattice.Lx, "Ly": hamiltonian.lattice.Ly, "pbc": hamiltonian.lattice.pbc},
        "J": hamiltonian.J, "marshall_sign": hamiltonian.marshall_sign,
        "model": _describe(model), "sampler": _describe(sampler), "sr": _describe(vmc.sr),
        "optimizer": "sgd" if optimizer is None else repr(optimizer),
        "n_samples": vmc.n_samples_actual, "steps": int(steps), "seed": int(seed), "learning_rate": learning_rate,
        "chunk_size": chunk_size, "eval_rounds": eval_rounds,
    }
    writer = RunWriter(out, force=force, config=config, hamiltonian=hamiltonian, name=name, command_line=command_line) if out else None
    try:
        t_start = time.perf_counter()
        state = vmc.init(jax.random.PRNGKey(seed))
        n_params = int(ravel_pytree(state.params)[0].size)
        if writer:
            writer.start(n_params=n_params, exact=exact)
        step_fn = vmc.make_step()
        history = {c: [] for c in HISTORY_COLUMNS}
        bar = _progress(steps, progress)
        last_good = state
        for p in range(int(steps)):
            t0 = time.perf_counter()
            new_state, info = step_fn(state)
            info = {k: float(v) for k, v in jax.device_get(info).items()}
            info["step_time"] = time.perf_counter() - t0
            if not info.pop("finite"):
                raise FloatingPointError(
                    f"VMC step {p} produced a non-finite energy or SR update; the last finite parameters are kept. "
                    "Lower the learning rate or raise the SR diagonal shift"
                )
            last_good = state
            state = new_state
            for c in HISTORY_COLUMNS:
                history[c].append(info[c])
            if writer:
                writer.append(info)
            if callback is not None:
                callback(p, info)
            if bar is not None:
                bar.set_postfix_str(f"E/N={info['energy_per_site']:.6f}±{info['error_per_site']:.1e}")
                bar.update(1)
        if bar is not None:
            bar.close()
        history = {c: np.asarray(v) for c, v in history.items()}
        if eval_rounds > 0:
            evaluate = vmc.make_evaluate()
            sstate, means, errors, variances = state.sampler, [], [], []
            for _ in range(eval_rounds):
                sstate, info = evaluate(state.params, sstate)
                means.append(float(info["energy_per_site"]))
                errors.append(float(info["error_per_site"]))
                variances.append(float(info["variance"]))
            state = state._replace(sampler=sstate)
            energy, error = combine(means, errors)
            variance = float(np.mean(variances))
        else:
            energy, error, variance = history["energy_per_site"][-1], history["error_per_site"][-1], history["variance"][-1]
        if not np.all(np.isfinite(ravel_pytree(state.params)[0])):
            state = last_good
        N = hamiltonian.n_sites
        result = Result(
            energy_per_site=float(energy), error=float(error), variance=variance,
            v_score=float(N * variance / (energy * N) ** 2), history=history, params=jax.device_get(state.params),
            state=state, n_params=n_params, n_samples=vmc.n_samples_actual,
            wall_time=time.perf_counter() - t_start, exact=exact,
        )
        if writer:
            writer.finish(result)
        return result
    finally:
        if writer:
            writer.close()


def _describe(obj) -> dict:
    """A JSON-able description of a settings dataclass (lattices by name)."""
    from dataclasses import fields, is_dataclass

    if not is_dataclass(obj):
        return {"type": type(obj).__name__}
    out = {"type": type(obj).__name__}
    for f in fields(obj):
        if not f.init:
            continue
        v = getattr(obj, f.name)
        out[f.name] = v.name if hasattr(v, "n_sites") and hasattr(v, "bonds") else v
    return out


def _progress(total, enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="VMC", unit="step", dynamic_ncols=True)
