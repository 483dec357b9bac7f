"""Metropolis–Hastings sampling of |psi(sigma)|^2 with many chains and look-up-table ratios.

Moves:

- ``"exchange"`` (default for the Heisenberg model): pick a nearest-neighbour bond (i, j) uniformly
  and swap sigma_i and sigma_j. The proposal is symmetric and conserves Sz, so the chains stay in the
  sector they start in (Sz = 0 for even N). A bond whose spins are aligned proposes no change and
  counts as a rejected proposal. This is NetKet's ``MetropolisExchange`` with ``d_max=1``.
- ``"flip"``: flip one uniformly chosen site (does not conserve Sz).

A sweep is ``sweep_size`` proposals per chain (N by default); one sample is kept per chain after each
sweep. Every proposal is accepted with probability min(1, |psi(sigma')/psi(sigma)|^2), the ratio
coming from the model's O(M) fast path (``model.propose``), which also updates the cache; exchange
moves use the per-bond tables instead where ``tables`` carry them (``Heisenberg.tables``:
``model.propose_exchange`` with the bond's index).

Models with extra sampled units (the deep layer of the DBM, ``model.n_aux(N) > 0``) carry them after
sigma in each chain's configuration x = (sigma, aux). Each proposal step then also proposes to flip
one uniformly chosen auxiliary unit, accepted with the model's weight ratio (``model.propose`` returns
half its log, as for |psi|^2). Exchange moves and the Hamiltonian only ever touch the first N entries.

The sampler is a pure function of a ``SamplerState`` (configurations and RNG key), so chains persist
across VMC steps, the whole step jits, and a run resumes bit-exactly from a saved state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _xla
from .hamiltonian import has_exchange_tables

UNROLL = 8  # proposals per loop iteration in the compiled sweep: fewer loop round-trips


def _unroll() -> int:
    """UNROLL, or 1 where XLA compiles the sweep loop whole (nqs/_xla.py): its iterations cost no
    launch, and the unrolled body only lengthens compilation (measured: the 6x6 RBM's first step 11.0
    -> 8.6 s, its step no slower)."""
    return 1 if _xla.hoisting() else UNROLL


class SamplerState(NamedTuple):
    """Chains' configurations, shape (n_chains, N), and the sampler's RNG key."""

    sigma: jax.Array
    key: jax.Array


@dataclass(frozen=True)
class Metropolis:
    """Metropolis sampler settings.

    Args:
        n_chains: number of independent Markov chains run in parallel.
        moves: ``"exchange"`` (Sz-conserving nearest-neighbour swaps) or ``"flip"`` (single spins).
        sweep_size: proposals per chain between kept samples; ``None`` means N (one sweep).
        n_discard: sweeps discarded at the start of each VMC step (after the parameters change).
        n_thermalize: sweeps run once when the chains are created.
    """

    n_chains: int = 16
    moves: str = "exchange"
    sweep_size: int | None = None
    n_discard: int = 5
    n_thermalize: int = 50

    def __post_init__(self):
        if not isinstance(self.n_chains, (int, np.integer)) or self.n_chains < 1:
            raise ValueError(f"Metropolis: n_chains must be a positive integer, got {self.n_chains!r}")
        if self.moves not in ("exchange", "flip"):
            raise ValueError(f"Metropolis: moves must be 'exchange' or 'flip', got {self.moves!r}")
        if self.sweep_size is not None and self.sweep_size < 1:
            raise ValueError(f"Metropolis: sweep_size must be >= 1, got {self.sweep_size}")
        if self.n_discard < 0 or self.n_thermalize < 0:
            raise ValueError("Metropolis: n_discard and n_thermalize must be >= 0")


def n_aux(model, n_sites: int) -> int:
    """Sampled units a model carries beyond the N spins (0 for every ansatz but the DBM)."""
    return int(model.n_aux(n_sites)) if hasattr(model, "n_aux") else 0


def init_state(sampler: Metropolis, hamiltonian, key, dtype=jnp.float64, n_aux: int = 0) -> SamplerState:
    """Random starting configurations: in the Hamiltonian's Sz sector for exchange moves, followed by
    ``n_aux`` random +-1 auxiliary units per chain."""
    N = hamiltonian.n_sites
    key, sub = jax.random.split(key)
    if sampler.moves == "exchange":
        n_up = (N + int(round(2 * hamiltonian.total_sz))) // 2
        base = jnp.where(jnp.arange(N) < n_up, 1.0, -1.0).astype(dtype)
        keys = jax.random.split(sub, sampler.n_chains)
        sigma = jax.vmap(lambda k: jax.random.permutation(k, base))(keys)
    else:
        sigma = jax.random.choice(sub, jnp.array([-1.0, 1.0], dtype), (sampler.n_chains, N))
    if n_aux:
        aux = jax.random.choice(jax.random.fold_in(sub, 1), jnp.array([-1.0, 1.0], dtype), (sampler.n_chains, n_aux))
        sigma = jnp.concatenate([sigma, aux], axis=1)
    return SamplerState(sigma=sigma, key=key)


def _sweeps(sampler, model, tables, bonds, sigma, cache, key, n_sweeps, n_sites):
    """Run n_sweeps sweeps on all chains; returns the new sigma, cache, kept samples and #accepted
    (moves on sigma only; configurations wider than the ``n_sites`` spins carry auxiliary units)."""
    C, width = sigma.shape
    N = n_sites
    A = width - N
    size = sampler.sweep_size or N

    # exchange moves on a model with per-bond tables built for these bonds (Heisenberg.tables)
    exchange_fast = sampler.moves == "exchange" and has_exchange_tables(model, tables)
    if exchange_fast and tables["exchange"]["bonds"].shape != bonds.shape:
        raise ValueError("the exchange tables were built for another lattice's bonds than the sampler's; "
                         "build them with the sampled Hamiltonian: hamiltonian.tables(model, params)")

    def accept_move(sigma, cache, flips, valid, u, bond=None):
        if bond is None:
            log_r, new_cache = jax.vmap(model.propose, in_axes=(None, 0, 0, 0))(tables, sigma, cache, flips)
        else:
            log_r, new_cache = jax.vmap(model.propose_exchange, in_axes=(None, 0, 0, 0))(tables, sigma, cache, bond)
        accept = valid & (jnp.log(u) < 2 * log_r)
        # sign -1 on the flipped sites, by comparison rather than a scatter (one fused kernel per move)
        hit = jnp.any(jnp.arange(width)[None, :, None] == flips[:, None, :], axis=-1)
        flipped = jnp.where(hit, -sigma, sigma)
        sigma = jnp.where(accept[:, None], flipped, sigma)
        cache = jax.tree_util.tree_map(
            lambda new, old: jnp.where(accept.reshape((C,) + (1,) * (new.ndim - 1)), new, old), new_cache, cache
        )
        return sigma, cache, accept

    def propose_all(carry, rnd):
        sigma, cache, n_acc = carry
        idx, u, aux_idx, aux_u = rnd
        if sampler.moves == "exchange":
            flips = bonds[idx]  # (C, 2)
            valid = sigma[jnp.arange(C), flips[:, 0]] != sigma[jnp.arange(C), flips[:, 1]]
        else:
            flips = idx[:, None]  # (C, 1)
            valid = jnp.ones((C,), bool)
        # with per-bond tables, the bond's own rows instead of the flipped sites' weight rows
        sigma, cache, accept = accept_move(sigma, cache, flips, valid, u, bond=idx if exchange_fast else None)
        if A:  # one single-unit move on the auxiliary units (the DBM's deep replicas)
            sigma, cache, _ = accept_move(sigma, cache, aux_idx[:, None], jnp.ones((C,), bool), aux_u)
        return (sigma, cache, n_acc + jnp.sum(accept, dtype=n_acc.dtype)), None

    def draws(key):
        """One sweep's random numbers: proposals and uniforms (and those of the auxiliary units)."""
        k1, k2 = jax.random.split(key)
        high = bonds.shape[0] if sampler.moves == "exchange" else N
        idx = jax.random.randint(k1, (size, C), 0, high)
        u = jax.random.uniform(k2, (size, C), dtype=jnp.real(sigma).dtype)
        if A:
            k3, k4 = jax.random.split(jax.random.fold_in(key, 1))
            aux_idx = jax.random.randint(k3, (size, C), N, N + A)
            aux_u = jax.random.uniform(k4, (size, C), dtype=jnp.real(sigma).dtype)
        else:
            aux_idx = aux_u = jnp.zeros((size, 0))
        return idx.astype(jnp.int32), u, aux_idx.astype(jnp.int32), aux_u

    def one_sweep(carry, rnd):
        carry, _ = jax.lax.scan(propose_all, carry, rnd, unroll=_unroll())
        return carry, carry[0]

    # every sweep's random numbers at once, before the loop (the same numbers as sweep by sweep: one
    # key per sweep): the generator's kernels run once per call instead of once per sweep. They take
    # 1.5x the memory of the kept samples (int32 bond, float64 uniform per move and chain).
    rnd = jax.vmap(draws)(jax.random.split(key, n_sweeps))
    (sigma, cache, n_acc), kept = jax.lax.scan(one_sweep, (sigma, cache, jnp.zeros((), jnp.int32)), rnd)
    return sigma, cache, kept, n_acc


def sample(sampler: Metropolis, model, tables, hamiltonian, state: SamplerState, n_per_chain: int, n_discard: int):
    """Advance the chains and collect ``n_per_chain`` samples from each.

    Returns:
        (new_state, samples of shape (n_per_chain, n_chains, N + n_aux), acceptance rate of the
        kept sweeps' moves on sigma).
    """
    bonds = jnp.asarray(hamiltonian.lattice.bonds)
    N = hamiltonian.n_sites
    key, k_discard, k_sample = jax.random.split(state.key, 3)
    sigma = state.sigma
    cache = jax.vmap(model.cache, in_axes=(None, 0))(tables, sigma)
    if n_discard > 0:
        sigma, cache, _, _ = _sweeps(sampler, model, tables, bonds, sigma, cache, k_discard, n_discard, N)
    sigma, cache, kept, n_acc = _sweeps(sampler, model, tables, bonds, sigma, cache, k_sample, n_per_chain, N)
    size = sampler.sweep_size or N
    acceptance = n_acc / (n_per_chain * size * sigma.shape[0])
    return SamplerState(sigma=sigma, key=key), kept, acceptance
