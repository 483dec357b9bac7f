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

import functools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from . import _xla
from .hamiltonian import Heisenberg, has_exchange_tables
from .models.base import is_complex_params
from .sampler import Metropolis, SamplerState, _sweeps, init_state, n_aux, sample
from .sr import SR, natural_gradient
from .stats import combine, statistics, v_score

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


def shard_chains(sigma):
    """Spread the chains over all JAX devices (one mesh axis); a no-op on one device.

    Everything downstream follows from this placement: XLA partitions the sampler, the local
    energies and the log-derivatives by chain and inserts the all-reduces of the SR sums over
    samples. Random numbers are drawn partitionably (``jax_threefry_partitionable``), so the same
    seed gives the same run on 1 and on many devices, up to the order of floating-point sums.
    Multi-host: call ``jax.distributed.initialize()`` first on every process (see the README).
    """
    devices = jax.devices()
    if len(devices) == 1 or sigma.shape[0] % len(devices):
        return sigma
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.array(devices), ("chains",))
    return jax.device_put(sigma, NamedSharding(mesh, PartitionSpec("chains")))


CACHE_FACTORS = 2**19  # ratio factors per local-energy batch on a CPU (VMC._cache_batch)


class VMCState(NamedTuple):
    """Everything a VMC run needs to continue: parameters, optimizer state, the last SR direction
    (``direction``: SPRING's memory, flat; None unless ``SR(momentum > 0)``), sampler state and
    step count."""

    params: Any
    opt_state: Any
    direction: Any
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
        chunk_size: samples per batch when computing local energies (bounds memory); None picks
            a cache-sized batch on a CPU and one batch on an accelerator.
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
        if hasattr(self.model, "check_hamiltonian"):
            self.model.check_hamiltonian(self.hamiltonian)
        if (getattr(self.model, "n_replicas", 1) > 1 and self.sr.replica_metric == "cross"
                and self.sr.solver not in ("auto", "dense")):
            raise ValueError(
                f"VMC: SR(replica_metric='cross') estimates S from two replicas of {type(self.model).__name__} "
                f"(O_1^T O_2, not of the form X^H X), which only the dense solver handles; got solver="
                f"{self.sr.solver!r}: use 'dense' or 'auto', or replica_metric='joint'"
            )

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
        sstate = init_state(self.sampler, self.hamiltonian, k_sampler, real_dtype, n_aux(self.model, self.hamiltonian.n_sites))
        sstate = sstate._replace(sigma=shard_chains(sstate.sigma))
        sstate = self._thermalize(params, sstate)
        opt_state = self.make_optimizer().init(params)
        direction = jnp.zeros_like(ravel_pytree(params)[0]) if self.sr.momentum > 0 else None
        return VMCState(params=params, opt_state=opt_state, direction=direction, sampler=sstate,
                        step=jnp.zeros((), jnp.int32))

    def _thermalize(self, params, sstate):
        if self.sampler.n_thermalize == 0:
            return sstate

        @_xla.jit(self.model)
        def run(params, sstate):
            tables = self.hamiltonian.tables(self.model, params)
            cache = jax.vmap(self.model.cache, in_axes=(None, 0))(tables, sstate.sigma)
            key, sub = jax.random.split(sstate.key)
            bonds = jnp.asarray(self.hamiltonian.lattice.bonds)
            sigma, _, _, _ = _sweeps(self.sampler, self.model, tables, bonds, sstate.sigma, cache, sub,
                                     self.sampler.n_thermalize, self.hamiltonian.n_sites)
            return SamplerState(sigma=sigma, key=key)

        return run(params, sstate)

    # -- the pieces of one step -------------------------------------------------------------

    def _local_energies(self, tables, sigma):
        """Local energies and caches of a batch of configurations (in chunks if ``chunk_size``)."""
        model, H = self.model, self.hamiltonian

        def one(s):
            c = model.cache(tables, s)
            return H.local_energy(model, tables, s, c), c

        batch = self.chunk_size or self._cache_batch(tables, sigma)
        if batch >= sigma.shape[0]:
            return jax.vmap(one)(sigma)
        return jax.lax.map(one, sigma, batch_size=batch)

    def _cache_batch(self, tables, sigma):
        """Samples per local-energy batch when ``chunk_size`` is None: all of them, except on a CPU,
        where the batch is sized so that its ratio factors (one per bond and per entry of a
        sample's cache: the RBM's hidden units) stay near 2^19 numbers (8 MB in complex128) and
        in cache. Unbatched, the 10x10 RBM's 1008 x 200 x 100 factors (320 MB) are written to
        memory and read back, and the pass takes 3x longer; the numbers do not change. The exchange
        ratios of the RBMs and of Saito's FFNN form no such factors (``rbm._bond_products``,
        ``ffnn._bond_sums``); they size their own batch (``exchange_batch``)."""
        if jax.default_backend() != "cpu":
            return sigma.shape[0]
        if has_exchange_tables(self.model, tables) and hasattr(self.model, "exchange_batch"):
            return self.model.exchange_batch(tables, sigma.shape[0])  # no per-factor array at all
        cache = jax.eval_shape(self.model.cache, tables, sigma[0])
        size = sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(cache))
        per_sample = self.hamiltonian.lattice.n_bonds * max(1, size)
        return max(1, CACHE_FACTORS // per_sample)

    def _sample_and_measure(self, params, sstate, n_discard):
        tables = self.hamiltonian.tables(self.model, params)
        sstate, kept, acceptance = sample(self.sampler, self.model, tables, self.hamiltonian, sstate, self.n_per_chain, n_discard)
        S, C, N = kept.shape
        sigma = kept.reshape(S * C, N)
        e_loc, caches = self._local_energies(tables, sigma)
        return sstate, e_loc, (tables, sigma, caches), acceptance, (S, C)

    def _info(self, e_loc, shape, acceptance):
        N = self.hamiltonian.n_sites
        if e_loc.ndim == 2:  # one estimate per replica (DBM): their mean is the sample's estimate
            e_loc = jnp.mean(e_loc, axis=1)
        st = statistics(e_loc.reshape(shape))
        return {
            "energy_per_site": st.mean / N,
            "error_per_site": st.error / N,
            "variance": st.variance,
            "v_score": v_score(st.mean, st.variance, N),
            "tau": st.tau,
            "rhat": st.rhat,
            "acceptance": acceptance,
        }

    @functools.cached_property
    def _program(self):
        """The compiled function behind both ``make_step`` and ``make_evaluate``:
        ``(state, diag_shift, lr_scale, measure_only) -> (state, info)``.

        With ``measure_only`` (a traced boolean) it samples and measures as a step does and returns
        the state with only its chains advanced: the log-derivatives, the SR solve and the update sit
        in the untaken branch of a ``lax.cond``. One program instead of two: the run's final
        measurement (``ground_state``'s ``eval_rounds``, ``nqs.measure``) reuses the step's
        compilation, which on a 2-core CPU is most of the measurement's cost (the 4x4 RBM's
        separately compiled measurement took 19.5 s to compile; a call of this one 0.08 s).
        Cached per VMC, so every step and evaluate function of one VMC shares it.
        """
        optimizer = self.make_optimizer()

        @_xla.jit(self.model)
        def program(state: VMCState, diag_shift, lr_scale, measure_only):
            params = state.params
            real = not is_complex_params(params)
            sstate, e_loc, (tables, sigma, caches), acceptance, shape = self._sample_and_measure(
                params, state.sampler, self.sampler.n_discard
            )
            info = self._info(e_loc, shape, acceptance)

            def update(_):
                O = self.model.log_derivative_blocks(params, tables, sigma, caches)
                delta = natural_gradient(self.sr, O, e_loc, state.step, real, diag_shift=diag_shift,
                                         previous=state.direction)
                flat, unravel = ravel_pytree(params)
                delta_tree = unravel(delta.astype(flat.dtype))
                updates, opt_state = optimizer.update(delta_tree, state.opt_state, params)
                updates = jax.tree_util.tree_map(lambda u: (u * lr_scale).astype(u.dtype), updates)
                new_params = optax.apply_updates(params, updates)
                finite = jnp.all(jnp.isfinite(delta)) & jnp.all(jnp.isfinite(ravel_pytree(new_params)[0]))
                direction = None if state.direction is None else delta.astype(state.direction.dtype)
                return new_params, opt_state, direction, finite

            def keep(_):
                return params, state.opt_state, state.direction, jnp.ones((), bool)

            new_params, opt_state, direction, finite = jax.lax.cond(measure_only, keep, update, None)
            info["finite"] = finite & self.hamiltonian.plausible_energy(info["energy_per_site"])
            step = state.step + jnp.where(measure_only, 0, 1).astype(state.step.dtype)
            return VMCState(new_params, opt_state, direction, sstate, step), info

        return program

    def make_step(self) -> Callable[..., tuple[VMCState, dict]]:
        """The jitted VMC step: ``step(state, diag_shift=None, lr_scale=1.0) -> (state, info)``.

        ``info`` describes the parameters before the update. ``diag_shift`` (default: the SR
        setting) and ``lr_scale`` (a factor on the optimizer's update) are traced arguments, so
        the driver can make the step more cautious after a divergence without recompiling.
        """
        program = self._program
        scalars = {}

        def step(state: VMCState, diag_shift=None, lr_scale=1.0):
            shift = self.sr.diag_shift if diag_shift is None else diag_shift
            return program(state, *_program_scalars(scalars, state.params, shift, lr_scale, False))

        return step

    def make_evaluate(self):
        """Measurement at fixed parameters: (params, SamplerState) -> (SamplerState, info), the step's
        own compiled function with the update skipped (``_program``)."""
        program = self._program
        optimizer = self.make_optimizer()
        scalars = {}

        def evaluate(params, sstate):
            direction = jnp.zeros_like(ravel_pytree(params)[0]) if self.sr.momentum > 0 else None
            state = VMCState(params, optimizer.init(params), direction, sstate, jnp.zeros((), jnp.int32))
            new, info = program(state, *_program_scalars(scalars, params, self.sr.diag_shift, 1.0, True))
            info = dict(info)
            info.pop("finite")
            return new.sampler, info

        return evaluate


def _program_scalars(cache, params, diag_shift, lr_scale, measure_only):
    """The scalar arguments of ``VMC._program`` as device arrays, made once per value in ``cache``
    (no eager array operations per step: ~1 ms of a 10 ms 4x4 step), the shift and learning-rate
    factor in the parameters' own precision (a float64 scalar would promote a float32 run)."""
    real = np.finfo(jax.tree_util.tree_leaves(params)[0].dtype).dtype
    key = (float(diag_shift), float(lr_scale), real, bool(measure_only))
    if key not in cache:
        cache[key] = (jnp.asarray(diag_shift, real), jnp.asarray(lr_scale, real), jnp.asarray(bool(measure_only)))
    return cache[key]


@dataclass
class Result:
    """Outcome of ``ground_state``: final energy per site (S.S units, J = 1) and the run's history.

    ``wall_time`` (s) runs from the start of the optimisation to the end of the final evaluation; for
    a resumed run it adds the recorded step times of the steps before the checkpoint.
    """

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
    events: list = field(default_factory=list)

    @property
    def relative_error(self) -> float | None:
        """|E - E_exact| / |E_exact| when an exact energy was given, else None."""
        return _relative_error(self.energy_per_site, self.exact)


class DivergenceError(RuntimeError):
    """The optimisation kept producing non-finite numbers after every recovery attempt."""


@dataclass
class Recovery:
    """How cautious the driver currently is: SR shift, learning-rate factor, failures so far."""

    diag_shift: float
    lr_scale: float = 1.0
    failures: int = 0

    def tighten(self):
        """After a failed step: ten times the diagonal shift, half the learning rate."""
        self.diag_shift = max(self.diag_shift, 1e-6) * 10.0
        self.lr_scale *= 0.5
        self.failures += 1


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
    checkpoint_every: int = 10,
    max_failures: int = 5,
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
        checkpoint_every: steps between checkpoints in ``out`` (``nqs.resume`` continues from the last).
        max_failures: non-finite steps tolerated (each one reverts to the last good parameters with a
            larger SR shift and a smaller learning rate) before the run stops with ``DivergenceError``.

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
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
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
        "chunk_size": chunk_size, "eval_rounds": eval_rounds, "checkpoint_every": checkpoint_every,
        "max_failures": max_failures,
    }
    writer = RunWriter(out, force=force, config=config, hamiltonian=hamiltonian, name=name, command_line=command_line) if out else None
    try:
        state = vmc.init(jax.random.PRNGKey(seed))
        if writer:
            writer.start(n_params=int(ravel_pytree(state.params)[0].size), exact=exact)
        return _optimize(
            vmc, state, int(steps), writer=writer, progress=progress, callback=callback, eval_rounds=eval_rounds,
            exact=exact, checkpoint_every=checkpoint_every, max_failures=max_failures,
            recovery=Recovery(diag_shift=vmc.sr.diag_shift),
        )
    finally:
        if writer:
            writer.close()


def _optimize(vmc: VMC, state: VMCState, steps: int, *, writer, progress, callback, eval_rounds, exact,
              checkpoint_every, max_failures, recovery: Recovery, history=None, events=None) -> Result:
    """The driver loop: run ``state`` up to step ``steps``, log, checkpoint, recover from divergence."""
    n_params = int(ravel_pytree(state.params)[0].size)
    step_fn = vmc.make_step()
    history = {c: list(history.get(c, [])) if history else [] for c in HISTORY_COLUMNS}
    # a resumed run's wall time includes the steps before its checkpoint (their recorded step times)
    t_start = time.perf_counter() - float(np.sum(history["step_time"]))
    events = list(events or [])
    start = int(state.step)
    bar = _progress(steps, progress, initial=start)
    previous = None  # the state one step back, whose energy was finite
    try:
        while int(state.step) < steps:
            p = int(state.step)
            t0 = time.perf_counter()
            new_state, info = step_fn(state, recovery.diag_shift, recovery.lr_scale)
            info = {k: float(v) for k, v in jax.device_get(info).items()}
            info["step_time"] = time.perf_counter() - t0
            if not info.pop("finite") or _frozen(info):
                state, previous = _recover(vmc, state, previous, p, info, recovery, max_failures, history, events, writer)
                continue
            previous, state = state, new_state
            for c in HISTORY_COLUMNS:
                history[c].append(info[c])
            if writer:
                writer.append(info)
                if int(state.step) % checkpoint_every == 0:
                    writer.checkpoint(state, recovery)
            if callback is not None:
                callback(p, info)
            if bar is not None:
                bar.set_postfix_str(f"E/N={info['energy_per_site']:.6f}±{info['error_per_site']:.1e}")
                bar.update(int(state.step) - bar.n)  # a recovery that stepped back redoes a counted step
    except KeyboardInterrupt:
        if writer:
            writer.checkpoint(state, recovery)
        raise
    except OSError as exc:  # RunWriteError: disk full, file too large
        raise OSError(
            f"writing {writer.path if writer else 'the output'} failed at step {int(state.step)} ({exc}); "
            "every step written before is readable, and `nqs run --resume` continues from the last checkpoint"
        ) from None
    finally:
        if bar is not None:
            bar.close()
    history = {c: np.asarray(v) for c, v in history.items()}
    if writer:
        writer.checkpoint(state, recovery)
    if eval_rounds > 0:
        energy, error, variance = _estimate(vmc, state.params, state.sampler, eval_rounds)
    else:
        energy, error, variance = history["energy_per_site"][-1], history["error_per_site"][-1], history["variance"][-1]
    N = vmc.hamiltonian.n_sites
    result = Result(
        energy_per_site=float(energy), error=float(error), variance=variance,
        v_score=float(v_score(energy * N, variance, N)), history=history, params=jax.device_get(state.params),
        state=state, n_params=n_params, n_samples=vmc.n_samples_actual,
        wall_time=time.perf_counter() - t_start, exact=exact, events=events,
    )
    if writer:
        writer.finish(result)
    return result


def _estimate(vmc, params, sstate, rounds):
    """Energy per site, its error and the local-energy variance at fixed parameters, pooled over
    ``rounds`` independent rounds of the run's sample count (chains continued from ``sstate``)."""
    evaluate = vmc.make_evaluate()
    means, errors, variances = [], [], []
    for _ in range(rounds):
        sstate, info = evaluate(params, sstate)
        means.append(float(info["energy_per_site"]))
        errors.append(float(info["error_per_site"]))
        variances.append(float(info["variance"]))
    energy, error = combine(means, errors)
    return energy, error, float(np.mean(variances))


def _relative_error(energy, exact) -> float | None:
    return None if exact is None else abs(energy - exact) / abs(exact)


def _frozen(info) -> bool:
    """No proposal on any chain was accepted in the step: the state has collapsed onto the
    configurations the chains sit in (weights grown too fast), and its estimates are of those alone."""
    return info["acceptance"] == 0.0


def _recover(vmc, state, previous, p, info, recovery, max_failures, history, events, writer):
    """A non-finite energy, SR solution or update, or frozen chains, at step p: go back to the last
    good parameters, be more cautious, record the event; give up after ``max_failures``."""
    recovery.tighten()
    energy_bad = not bool(vmc.hamiltonian.plausible_energy(info["energy_per_site"]))
    frozen = _frozen(info)
    # a bad energy or frozen chains indict the current parameters (the last update made them): step back once
    if (energy_bad or frozen) and previous is not None:
        state = previous
        previous = None
        for c in HISTORY_COLUMNS:
            history[c].pop()
        if writer:
            writer.truncate(len(history["energy_per_site"]))
    # fresh samples for the retry, and no momentum: the directions that led here are forgotten
    key = jax.random.fold_in(state.sampler.key, 1_000_003 * recovery.failures)
    state = state._replace(sampler=state.sampler._replace(key=key))
    if state.direction is not None:
        state = state._replace(direction=jnp.zeros_like(state.direction))
    event = {
        "step": p,
        "kind": "non-finite or unphysical energy" if energy_bad else
                "frozen chains (no proposal accepted)" if frozen else "non-finite SR update",
        "restart_step": int(state.step), "diag_shift": recovery.diag_shift, "lr_scale": recovery.lr_scale,
        "failures": recovery.failures,
    }
    events.append(event)
    if writer:
        writer.event(event)
    if recovery.failures > max_failures:
        if writer:
            writer.checkpoint(state, recovery)
        raise DivergenceError(
            f"the optimisation diverged {recovery.failures} times (last at step {p}: {event['kind']}); "
            f"stopped with the last finite parameters. Lower the learning rate or raise the SR diagonal shift "
            f"(now {recovery.diag_shift:g})"
        )
    return state, previous


def resume(path, steps: int | None = None, *, progress: bool = True, callback=None, name: str = "main",
           optimizer=None) -> Result:
    """Continue the run ``runs/<name>`` of an nqs HDF5 file from its last checkpoint.

    The history after the checkpoint is dropped and recomputed, so a run cut at any step and resumed
    gives, on the same machine, the same parameters and energies as the uninterrupted run.

    Args:
        path: the file written by ``ground_state(..., out=path)`` or ``nqs run``.
        steps: total number of steps to reach (default: the run's own ``steps``).
        optimizer: the optax transformation, when the run used a custom one (it cannot be stored).
    """
    from .io import RunWriter, read_checkpoint

    ckpt = read_checkpoint(path, name)
    config = ckpt["config"]
    if config.get("optimizer", "sgd") != "sgd" and optimizer is None:
        raise ValueError(f"{path}: the run used a custom optimizer ({config['optimizer']}); pass it as optimizer=")
    vmc, exact = _vmc_from_config(config, optimizer, ckpt.get("exact"))
    state = _checkpointed_state(path, vmc, ckpt["leaves"])
    total = int(config["steps"] if steps is None else steps)
    if total < int(state.step):
        raise ValueError(f"steps={total} is before the checkpoint (step {int(state.step)})")
    writer = RunWriter.reopen(path, name=name, n_rows=int(state.step), steps=total)
    try:
        return _optimize(
            vmc, state, total, writer=writer, progress=progress, callback=callback,
            eval_rounds=config.get("eval_rounds", 4), exact=exact, checkpoint_every=config.get("checkpoint_every", 10),
            max_failures=config.get("max_failures", 5), recovery=Recovery(**ckpt["recovery"]),
            history={c: v[: int(state.step)] for c, v in ckpt["history"].items()}, events=ckpt["events"],
        )
    finally:
        writer.close()


@dataclass
class Measurement:
    """The energy of a stored state, measured on fresh samples (``measure``); per site, S.S units."""

    energy_per_site: float
    error: float
    variance: float
    v_score: float
    n_samples: int
    step: int
    exact: float | None = None

    @property
    def relative_error(self) -> float | None:
        """|E - E_exact| / |E_exact| when the file knows an exact energy, else None."""
        return _relative_error(self.energy_per_site, self.exact)


def measure(path, rounds: int = 16, *, name: str = "main", seed: int = 1) -> Measurement:
    """Measure the energy of the parameters in the last checkpoint of ``runs/<name>`` on
    ``rounds`` x the run's samples per step: a finished run's final state, or a running one's latest.

    The run's own final estimate uses ``eval_rounds`` (4) rounds; more rounds shrink its error bar
    as 1/sqrt(rounds). The chains continue from the checkpointed ones (thermalised at those
    parameters), each round after the sampler's discarded sweeps; ``seed`` is folded into their key,
    so different seeds give independent measurements. Nothing is written to the file.
    """
    check_rounds(rounds, "measure")
    vmc, params, sstate, step, exact = stored_state(path, name=name, seed=seed)
    energy, error, variance = _estimate(vmc, params, sstate, rounds)
    N = vmc.hamiltonian.n_sites
    return Measurement(energy_per_site=energy, error=error, variance=variance,
                       v_score=float(v_score(energy * N, variance, N)),
                       n_samples=rounds * vmc.n_samples_actual, step=step, exact=exact)


def check_rounds(rounds, who: str):
    """Refuse a round count that is not a positive integer (``measure``, ``lanczos_step``)."""
    if not isinstance(rounds, (int, np.integer)) or isinstance(rounds, bool) or rounds < 1:
        raise ValueError(f"{who}: rounds must be a positive integer, got {rounds!r}")


def stored_state(path, *, name: str = "main", seed: int = 1):
    """The problem, parameters and chains of the last checkpoint of ``runs/<name>``:
    ``(vmc, params, sampler_state, step, exact)``, the sampler's key folded with ``seed``."""
    from .io import read_checkpoint

    ckpt = read_checkpoint(path, name)
    vmc, exact = _vmc_from_config(ckpt["config"], None, ckpt.get("exact"))
    # the optimizer is not needed here, and a run with a custom one (a learning-rate schedule, Adam)
    # stored its state, which the default SGD rebuilt here does not have: only the parameters, the
    # chains and the step are read
    state = _checkpointed_state(path, vmc, ckpt["leaves"], optimizer_state=False)
    sstate = SamplerState(sigma=shard_chains(state.sampler.sigma), key=jax.random.fold_in(state.sampler.key, seed))
    return vmc, state.params, sstate, int(state.step), exact


def _checkpointed_state(path, vmc, stored, optimizer_state: bool = True) -> VMCState:
    """The checkpoint's leaves ``stored`` in the tree of ``vmc``'s VMCState, whose shapes and dtypes
    are traced (``jax.eval_shape``) without running the initialisation and its thermalisation.

    With ``optimizer_state=False`` (measuring a stored state) the optimizer's state and SR's
    direction are not read: the stored ones may belong to another optimizer than ``vmc``'s. The
    leaves are stored in VMCState's field order, so the parameters are the first leaves and the
    sampler's and the step the last; in the returned state the optimizer's leaves and the direction
    are zeros of ``vmc``'s shapes (a measurement does not read them)."""
    shapes = jax.eval_shape(vmc.init, jax.random.PRNGKey(0))
    leaves, treedef = jax.tree_util.tree_flatten(shapes)
    if not optimizer_state:
        n_params = len(jax.tree_util.tree_leaves(shapes.params))
        n_tail = len(jax.tree_util.tree_leaves((shapes.sampler, shapes.step)))
        middle = leaves[n_params:len(leaves) - n_tail]  # the optimizer's state and the direction, as vmc would start them
        if len(stored) >= n_params + n_tail:
            stored = list(stored[:n_params]) + [np.zeros(b.shape, b.dtype) for b in middle] + list(stored[len(stored) - n_tail:])
    if len(stored) != len(leaves) or any(np.shape(a) != b.shape for a, b in zip(stored, leaves)):
        raise ValueError(f"{path}: the checkpoint does not match the run's configuration (another nqs version?)")
    return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(a, dtype=b.dtype) for a, b in zip(stored, leaves)])


def _vmc_from_config(config: dict, optimizer, exact):
    """Rebuild the VMC problem a file describes (the inverse of the config ``ground_state`` writes)."""
    from .lattice import Square
    from .models import model_from_config

    lat = Square(config["lattice"]["Lx"], config["lattice"]["Ly"], pbc=config["lattice"]["pbc"])
    H = Heisenberg(lat, J=config["J"], marshall_sign=config["marshall_sign"])
    model = model_from_config(config["model"], lat)
    sampler = Metropolis(**{k: v for k, v in config["sampler"].items() if k != "type"})
    sr = SR(**{k: v for k, v in config["sr"].items() if k != "type"})
    vmc = VMC(H, model, sampler=sampler, sr=sr, optimizer=optimizer, n_samples=config["n_samples"],
              learning_rate=config["learning_rate"], chunk_size=config.get("chunk_size"))
    return vmc, exact


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


def _progress(total, enabled, initial=0):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="VMC", unit="step", dynamic_ncols=True)
