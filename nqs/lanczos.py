"""One Lanczos step on a trained state, and the zero-variance extrapolation of the energy.

The best state of the Krylov space {psi, H psi},

    phi = [1 + alpha (H - E_psi)] psi,

is lower in energy than psi for the alpha that minimises <phi|H|phi> / <phi|phi>, and it is still a
variational state (its energy is an upper bound on the ground state's). Its energy and variance
follow from four moments of H on psi, all measured on samples of |psi|^2 (Sorella, PRB 64, 024512
(2001); Becca & Sorella, *Quantum Monte Carlo Approaches for Correlated Systems*, CUP 2017):

    e(s) = (H psi)(s) / psi(s)                          the local energy,
    g(s) = (H^2 psi)(s) / psi(s) = sum_s' H_ss' [psi(s') / psi(s)] e(s'),

so that, with E = <e> and everything centred on it,

    sigma^2 = <|e - E|^2>,   mu_3 = <(e - E)^* w>,   mu_4 = <|w|^2>,   w = g - 2 E e + E^2,

are <psi|(H - E)^k|psi> for k = 2, 3, 4. In the orthonormal basis {psi, (H - E) psi / sigma} the
operator H - E is [[0, sigma], [sigma, mu_3 / sigma^2]]; its lowest eigenvalue lambda gives the Lanczos
energy E + lambda, and (H - E)^2 = [[sigma^2, mu_3 / sigma], [mu_3 / sigma, mu_4 / sigma^2]] gives
phi's variance. The energies of psi and phi against their variances extrapolate linearly to zero
variance, an estimate of the exact energy (not a variational bound).

g(s) needs the local energy of every configuration H connects to s: one local energy per
anti-aligned bond (about 2N), each through the ansatz's fast path. At 10x10 that is a few hundred
times a step's local energies, two minutes on two cores for 4000 samples: a measurement made once,
at the end of a run. The errors are jackknife errors over blocks of each chain (as in
``nqs.statistics``), which carry the autocorrelation and the nonlinearity of the estimators.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import _xla
from .sampler import sample
from .stats import MIN_BLOCKS
from .vmc import VMC, _relative_error, check_rounds, stored_state

# configurations whose local energies one compiled call computes (the neighbours of a chunk of
# samples); the local-energy pass chunks them further to stay in cache
NEIGHBOURS_PER_CALL = 4096


@dataclass
class LanczosStep:
    """The energies (per site, S.S units) of psi and of phi = [1 + alpha (H - E_psi)] psi, their
    variances (of the total energy), and the zero-variance extrapolation, measured on ``n_samples``
    samples of psi."""

    energy_per_site: float
    error: float
    variance: float
    lanczos_energy_per_site: float
    lanczos_error: float
    lanczos_variance: float
    extrapolated_energy_per_site: float
    extrapolated_error: float
    alpha: float
    n_samples: int
    step: int | None = None
    exact: float | None = None

    @property
    def relative_error(self) -> float | None:
        """psi's |E - E_exact| / |E_exact| when the exact energy is known, else None."""
        return _relative_error(self.energy_per_site, self.exact)

    @property
    def lanczos_relative_error(self) -> float | None:
        """The same for the Lanczos-step state phi."""
        return _relative_error(self.lanczos_energy_per_site, self.exact)

    @property
    def extrapolated_relative_error(self) -> float | None:
        """The same for the zero-variance extrapolation."""
        return _relative_error(self.extrapolated_energy_per_site, self.exact)


def lanczos_step(path, rounds: int = 4, *, name: str = "main", seed: int = 1, progress: bool = True) -> LanczosStep:
    """One Lanczos step on the state in the last checkpoint of ``runs/<name>`` of an nqs file.

    Samples ``rounds`` x the run's samples per step from the checkpointed chains (as
    ``nqs.measure`` does; ``seed`` folded into their key) and returns a ``LanczosStep``. The
    amplitudes are evaluated in the run's precision, the moments summed in double. Nothing is
    written to the file. Costs about (number of anti-aligned bonds) x a step's local energies per
    round: 2.2 minutes for 4032 samples of the 10x10 RBMSymm over the space group (4 filters, 138
    neighbours per sample) on two cores.
    """
    check_rounds(rounds, "lanczos_step")
    vmc, params, sstate, step, exact = stored_state(path, name=name, seed=seed)
    check_model(vmc.model, vmc.hamiltonian.n_sites)
    compiled = _compiled(vmc)
    tables = compiled.tables(params)
    kept = []
    for _ in range(rounds):
        sstate, k = compiled.draw(tables, sstate)
        kept.append(np.asarray(k))
    kept = np.concatenate(kept)  # (rounds * S, C, N + aux), each chain's samples in order
    S, C = kept.shape[:2]
    N = vmc.hamiltonian.n_sites
    e, g, shift = local_moments(vmc, tables, kept[:, :, :N].reshape(S * C, N), progress=progress)
    out = lanczos_estimates(e.reshape(S, C), g.reshape(S, C), shift, N)
    return LanczosStep(**out, n_samples=S * C, step=step, exact=exact)


class _Compiled:
    """The step's compiled functions for one problem (Hamiltonian, ansatz, sampler, samples per
    chain, chunk size): built once and kept (``_compiled``), so that a second Lanczos step on the
    same problem, a loop over checkpoints or seeds, compiles nothing."""

    def __init__(self, hamiltonian, model, sampler, n_per_chain, chunk_size):
        vmc = VMC(hamiltonian, model, sampler=sampler, n_samples=n_per_chain * sampler.n_chains, chunk_size=chunk_size)
        bonds = jnp.asarray(np.asarray(hamiltonian.lattice.bonds))
        jit = _xla.jit(model)  # the ansatz's XLA options, as the VMC step's (nqs/_xla.py)
        self.tables = jit(functools.partial(hamiltonian.tables, model))

        @jit
        def draw(tables, sstate):
            return sample(sampler, model, tables, hamiltonian, sstate, n_per_chain, sampler.n_discard)[:2]

        # the tables are arguments, not constants folded into the compiled code (the 10x10 RBMSymm's
        # exchange tables hold a million numbers)
        @jit
        def on_samples(tables, sigma):  # local energies and log psi(s^b)/psi(s) for every bond b (read where anti-aligned)
            e, caches = vmc._local_energies(tables, sigma)
            return e, jax.vmap(model.log_ratio, in_axes=(None, 0, 0, None))(tables, sigma, caches, bonds)

        @jit
        def on_neighbours(tables, sigma):
            return vmc._local_energies(tables, sigma)[0]

        self.draw, self.on_samples, self.on_neighbours = draw, on_samples, on_neighbours


@functools.lru_cache(maxsize=8)
def _compiled_for(hamiltonian, model, sampler, n_per_chain, chunk_size):
    return _Compiled(hamiltonian, model, sampler, n_per_chain, chunk_size)


def _compiled(vmc) -> _Compiled:
    """``_Compiled`` for ``vmc``'s problem, cached on its (hashable, frozen) parts; the optimizer,
    rebuilt with every file read, plays no part."""
    key = (vmc.hamiltonian, vmc.model, vmc.sampler, vmc.n_per_chain, vmc.chunk_size)
    try:
        return _compiled_for(*key)
    except TypeError:  # an ansatz with an unhashable field: compile for this call only
        return _Compiled(*key)


class UnsupportedModel(ValueError):
    """An ansatz whose amplitudes the Lanczos step cannot evaluate (the DBM with a deep layer)."""


def check_model(model, n_sites):
    """Raise ``UnsupportedModel`` for an ansatz whose amplitudes the step cannot evaluate."""
    if getattr(model, "n_replicas", 1) > 1 or (hasattr(model, "n_aux") and model.n_aux(n_sites) > 0):
        raise UnsupportedModel(
            f"lanczos_step: {type(model).__name__} samples hidden units along with the spins, so its "
            "amplitudes psi(s) are not at hand for the second moment of H; use an RBM, RBMSymm or a "
            "feedforward network"
        )


def local_moments(vmc, tables, sigma, *, shift: float | None = None, progress: bool = False):
    """e(s) = (H psi)(s)/psi(s) and g(s) = ((H - shift)^2 psi)(s)/psi(s) for configurations
    ``sigma`` (n, N): ``(e, g, shift)``, e and g complex128 of shape (n,), the shift by default the
    mean of e (any shift gives the same Lanczos step; near the mean, g is small). ``tables`` from
    ``vmc.hamiltonian.tables(vmc.model, params)``; the amplitudes are evaluated in the parameters'
    precision, the sums in double, centred on ``shift`` (a float32 local energy of -67 is good to
    1e-5, its deviation from the mean of order 1)."""
    check_model(vmc.model, vmc.hamiltonian.n_sites)
    H = vmc.hamiltonian
    bonds = np.asarray(H.lattice.bonds)
    B = bonds.shape[0]
    sigma = np.asarray(sigma)
    n = sigma.shape[0]

    compiled = _compiled(vmc)

    def batched(fn, x, size, bar=None):
        outs = []
        for start in range(0, x.shape[0], size):
            part = x[start:start + size]
            pad = size - part.shape[0]
            if pad:  # one compiled shape: the last batch is padded with copies of its first row
                part = np.concatenate([part, np.repeat(part[:1], pad, axis=0)])
            out = jax.tree_util.tree_map(np.asarray, fn(tables, jnp.asarray(part)))
            outs.append(jax.tree_util.tree_map(lambda a: a[: size - pad], out))
            if bar is not None:
                bar.update(size - pad)
        return [np.concatenate(parts) for parts in zip(*outs)] if isinstance(outs[0], tuple) else np.concatenate(outs)

    k = min(n, max(1, NEIGHBOURS_PER_CALL // B))
    e, log_r = batched(compiled.on_samples, sigma, k)
    # the configurations H connects to each sample: one per anti-aligned bond, built here and
    # evaluated in batches of one compiled shape (aligned bonds, about half of them, cost nothing)
    which, bond = np.nonzero(sigma[:, bonds[:, 0]] != sigma[:, bonds[:, 1]])
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(which), desc="Lanczos step", unit="config", unit_scale=True, dynamic_ncols=True)
    e_nb = np.empty(len(which), np.complex128)
    size = max(1, min(len(which), NEIGHBOURS_PER_CALL))
    for start in range(0, len(which), size):
        w, b = which[start:start + size], bond[start:start + size]
        nb = sigma[w].copy()
        r = np.arange(len(w))
        nb[r, bonds[b, 0]] *= -1
        nb[r, bonds[b, 1]] *= -1
        e_nb[start:start + len(w)] = batched(compiled.on_neighbours, nb, size, bar)
    if bar is not None:
        bar.close()
    e = e.astype(np.complex128)
    shift = float(np.mean(e.real)) if shift is None else float(shift)
    exchange = np.zeros(n, np.complex128)
    ratio = np.exp(log_r[which, bond].astype(np.complex128))  # psi(s')/psi(s), the anti-aligned bonds only
    np.add.at(exchange, which, ratio * (e_nb - shift))
    diag = 0.25 * np.sum(sigma[:, bonds[:, 0]] * sigma[:, bonds[:, 1]], axis=1)
    g = (H.J * diag - shift) * (e - shift) + 0.5 * H.J * H.exchange_sign * exchange
    return e, g, shift


def _moments(e, g, shift):
    """Per-sample moments (..., 5) of H - shift, from e and g = ((H - shift)^2 psi)/psi:
    e', |e'|^2, Re e'^* g, Re g, |g|^2 with e' = e - shift."""
    e = e - shift
    return np.stack([e.real, np.abs(e) ** 2, (np.conj(e) * g).real, g.real, np.abs(g) ** 2], axis=-1)


def _from_means(q, shift):
    """(E_psi, var_psi, E_phi, var_phi, E_extrapolated, alpha), totals, from mean moments q (5,)."""
    E = q[0]
    var = q[1] - E**2
    mu3 = q[2] - 2 * E * q[1] - E * q[3] + 2 * E**3
    mu4 = q[4] + 4 * E**2 * q[1] + E**4 - 4 * E * q[2] + 2 * E**2 * q[3] - 4 * E**3 * q[0]
    if not var > 1e-12 * max(1.0, abs(E + shift)) ** 2:  # psi an eigenstate (to round-off): H psi adds nothing
        E_psi = E + shift
        return np.array([E_psi, var, E_psi, var, E_psi, 0.0])
    sd = np.sqrt(var)
    m = mu3 / var
    lam = m / 2 - np.sqrt(m**2 / 4 + var)
    c = np.array([sd, lam]) / np.hypot(sd, lam)  # the lowest eigenvector of [[0, sd], [sd, m]]
    M2 = np.array([[var, mu3 / sd], [mu3 / sd, mu4 / var]])
    var_phi = c @ M2 @ c - lam**2
    extrapolated = E + lam - var_phi * (-lam) / (var - var_phi)
    alpha = c[1] / (c[0] * sd)
    return np.array([E + shift, var, E + lam + shift, var_phi, extrapolated + shift, alpha])


def lanczos_estimates(e, g, shift: float, n_sites: int, weights=None) -> dict:
    """The Lanczos step's numbers from ``local_moments``' e, g and shift on samples of shape (S, C)
    (S per chain, C chains), with jackknife errors over blocks of each chain; or, with ``weights``
    (normalised |psi|^2 of an enumerated basis, e and g of shape (n,)), the exact values (errors 0)."""
    e = np.asarray(e, np.complex128)
    g = np.asarray(g, np.complex128)
    if weights is not None:
        w = np.asarray(weights, float)
        full = _from_means(np.tensordot(w, _moments(e, g, shift), axes=1), shift)
        errors = np.zeros_like(full)
    else:
        S, C = e.shape
        q = _moments(e, g, shift)  # (S, C, 5)
        per_chain = int(min(S, max(1, -(-MIN_BLOCKS // C))))
        b = S // per_chain
        blocks = q[: b * per_chain].reshape(per_chain, b, C, 5).mean(axis=1).reshape(-1, 5)
        n = blocks.shape[0]
        full = _from_means(blocks.mean(axis=0), shift)
        if n < 2:
            raise ValueError(f"lanczos_step: {S * C} samples make fewer than two blocks; take more rounds")
        leave_one_out = (blocks.sum(axis=0)[None] - blocks) / (n - 1)
        jack = np.array([_from_means(row, shift) for row in leave_one_out])
        errors = np.sqrt((n - 1) / n * np.sum((jack - jack.mean(axis=0)) ** 2, axis=0))
    N = n_sites
    return {
        "energy_per_site": float(full[0] / N), "error": float(errors[0] / N), "variance": float(full[1]),
        "lanczos_energy_per_site": float(full[2] / N), "lanczos_error": float(errors[2] / N),
        "lanczos_variance": float(full[3]),
        "extrapolated_energy_per_site": float(full[4] / N), "extrapolated_error": float(errors[4] / N),
        "alpha": float(full[5]),
    }
