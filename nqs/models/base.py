"""The one protocol every ansatz follows, and the generic (full re-evaluation) fast path.

An ansatz is a small frozen dataclass (hashable, so it can be a static argument of ``jax.jit``)
with pure functions over a parameter pytree. All functions act on ONE configuration
``sigma`` of shape (N,); the engine ``vmap``s them over chains and samples.

- ``init(key, n_sites) -> params``
- ``log_psi(params, sigma) -> complex``: log of the amplitude, phase included.
- ``tables(params) -> tables``: per-step precomputation shared by every chain and sample
  (parameters, exponentials of weights, symmetrised weights ...). Computed once per VMC step.
- ``cache(tables, sigma) -> cache``: per-configuration state that makes ratios cheap
  (the RBM's look-up table theta = b + W^T sigma).
- ``propose(tables, sigma, cache, flips) -> (log_abs_ratio, new_cache)``: log |psi(sigma')/psi(sigma)|
  (real: all the Metropolis test needs) and the updated cache, where sigma' flips the K sites
  ``flips`` (shape (K,)).
- ``log_ratio(tables, sigma, cache, flips) -> (B,)``: log psi(sigma')/psi(sigma), phase included,
  for B flip sets (shape (B, K)).
- ``log_derivatives(params, tables, sigma, cache) -> (P,)``: O_k = d log psi / d theta_k, flattened
  in the order of ``jax.flatten_util.ravel_pytree(params)``.
- ``log_derivative_blocks(params, tables, sigmas, caches)``: the same for a batch, as column blocks
  that SR can use without forming O (the RBM's O_W = sigma t^T is an outer product).

Optional, for speed: ``ratio(tables, sigma, cache, flips) -> (B,)``, the ratios themselves; the
Hamiltonian uses it instead of exponentiating ``log_ratio`` (the RBM's table products need no log).
And for exchange moves: ``exchange_tables(tables, bonds) -> tables`` adds per-bond tables under the
key ``"exchange"`` (``Heisenberg.tables`` calls it), after which the sampler proposes the exchange of
bond b with ``propose_exchange(tables, sigma, cache, b)`` (as ``propose``, for anti-aligned spins)
and the local energy takes ``exchange_ratios(tables, sigma, cache) -> (B,)`` for all bonds at once.

Optional, for ansätze that sample hidden units along with sigma (the DBM's deep layer):

- ``n_aux(n_sites) -> int``: auxiliary +-1 units appended to each chain's configuration,
  x = (sigma, aux); the sampler gives them single-unit Metropolis moves, the Hamiltonian never
  touches them. ``propose`` then returns half the log of the sampling-weight ratio.
- ``n_replicas``: R > 1 conditionally independent estimates per sample; ``log_ratio`` returns
  (B, R), the local energy (R,), and the log-derivative blocks carry a replica axis (Ns, R, ...),
  which ``sr.natural_gradient`` pairs across replicas.
- ``check_hamiltonian(hamiltonian)``: raise ``ValueError`` for a Hamiltonian the ansatz cannot
  represent (called when a ``VMC`` is built).

``GenericModel`` implements the last four from ``log_psi`` alone by full re-evaluation and
automatic differentiation: the fallback for ansätze without look-up tables, and the way NetKet
does every ratio.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree


def flip(sigma, flips):
    """sigma with the sites in ``flips`` (shape (K,)) reversed."""
    return sigma.at[flips].multiply(-1)


def is_complex_params(params) -> bool:
    return any(jnp.iscomplexobj(leaf) for leaf in jax.tree_util.tree_leaves(params))


class GenericModel:
    """Fast-path interface by full re-evaluation (cache = log psi); subclasses give ``log_psi``."""

    #: XLA CPU options for the engine's compiled functions of this ansatz (``nqs._xla.compiler_options``):
    #: XLA's elemental emitters for the fused loops compile the VMC step in 20-30% less time than its
    #: MLIR fusion emitters and run the small RBM and FFNN steps faster; an ansatz whose step is
    #: faster with the fusion emitters (the DeepFFNN's vectorised log cosh) sets ``{}``.
    xla_cpu_options = {"xla_cpu_use_fusion_emitters": False}

    def tables(self, params):
        return params

    def cache(self, tables, sigma):
        return self.log_psi(tables, sigma)

    def move(self, tables, sigma, cache, flips):
        """(log psi(sigma')/psi(sigma) with its phase, new cache): what a subclass with a cheaper
        update overrides; ``propose`` and ``log_ratio`` are built on it."""
        new = self.log_psi(tables, flip(sigma, flips))
        return new - cache, new

    def propose(self, tables, sigma, cache, flips):
        log_r, new_cache = self.move(tables, sigma, cache, flips)
        return jnp.real(log_r), new_cache

    def log_ratio(self, tables, sigma, cache, flips):
        return jax.vmap(lambda f: self.move(tables, sigma, cache, f)[0])(flips)

    def log_derivatives(self, params, tables, sigma, cache):
        if is_complex_params(params):
            grads = jax.grad(self.log_psi, holomorphic=True)(params, sigma)
        else:
            # real parameters, possibly complex log psi: differentiate real and imaginary parts
            re = jax.grad(lambda p: jnp.real(self.log_psi(p, sigma)))(params)
            im = jax.grad(lambda p: jnp.imag(self.log_psi(p, sigma)))(params)
            grads = jax.tree_util.tree_map(lambda r, i: r + 1j * i, re, im)
        return ravel_pytree(grads)[0]

    def log_derivative_blocks(self, params, tables, sigmas, caches):
        """O for a batch (Ns, N) of configurations as column blocks (see ``sr.natural_gradient``)."""
        O = jax.vmap(self.log_derivatives, in_axes=(None, None, 0, 0))(params, tables, sigmas, caches)
        return [("dense", O)]

    def n_params(self, n_sites: int) -> int:
        params = self.init(jax.random.PRNGKey(0), n_sites)
        return int(ravel_pytree(params)[0].size)
