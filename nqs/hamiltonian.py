"""The spin-1/2 Heisenberg antiferromagnet, H = J sum_<ij> S_i . S_j, in S = sigma/2 units.

The local energy of a configuration sigma,

    E_loc(sigma) = sum_<ij> [ J/4 sigma_i sigma_j
                              + s J/2 [sigma_i != sigma_j] psi(sigma^{ij}) / psi(sigma) ],

needs one amplitude ratio per anti-aligned bond (sigma^{ij} exchanges the two spins); the ratios
come from the ansatz's fast path (``model.ratio`` where the ansatz has it, else the exponential of
``model.log_ratio``), all bonds at once. With the Marshall sign
rule (sublattice rotation, Marshall 1955) the exchange term carries s = -1 and the ground state of a
bipartite lattice becomes positive; without it s = +1.

NetKet's ``nk.operator.Heisenberg`` is written with Pauli matrices, 4x this H:
``to_netket`` returns that operator and ``NETKET_UNIT = 4`` is the conversion factor.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from .lattice import Square

NETKET_UNIT = 4.0  # NetKet's Heisenberg (Pauli matrices) = 4 x ours (S = sigma/2)


@dataclass(frozen=True)
class Heisenberg:
    """Nearest-neighbour Heisenberg model on a lattice, energies in units of J with S = sigma/2.

    Args:
        lattice: a ``Square`` lattice.
        J: the exchange coupling (J > 0 antiferromagnetic).
        marshall_sign: rotate the B sublattice so that the exchange term is negative (on by default);
            refused on a lattice that is not bipartite (odd periodic length).
    """

    lattice: Square
    J: float = 1.0
    marshall_sign: bool = True

    def __post_init__(self):
        if not isinstance(self.lattice, Square):
            raise TypeError(f"Heisenberg: lattice must be an nqs.Square, got {type(self.lattice).__name__}")
        if not np.isfinite(self.J):
            raise ValueError(f"Heisenberg: J must be finite, got {self.J}")
        if self.marshall_sign and not self.lattice.is_bipartite:
            raise ValueError(
                f"Heisenberg: the Marshall sign rule needs a bipartite lattice, but {self.lattice.Lx}x"
                f"{self.lattice.Ly} with periodic boundaries has an odd periodic length; use even lengths, "
                "open boundaries (pbc=False), or marshall_sign=False"
            )

    @property
    def n_sites(self) -> int:
        return self.lattice.n_sites

    @property
    def total_sz(self) -> float:
        """The Sz sector sampled by exchange moves: 0 for even N, 1/2 for odd N."""
        return 0.0 if self.n_sites % 2 == 0 else 0.5

    @property
    def energy_bounds_per_site(self) -> tuple[float, float]:
        """Bounds on any energy per site: each bond's J S_i.S_j lies between -3J/4 and J/4."""
        ends = sorted((-0.75 * self.J, 0.25 * self.J))
        n = self.lattice.n_bonds / self.n_sites
        return ends[0] * n, ends[1] * n

    def plausible_energy(self, energy_per_site):
        """Whether an energy estimate is finite and within 10% of the spectrum's bounds; one far
        outside is as broken as a NaN (overflowing amplitudes). Works on floats and jax arrays."""
        lo, hi = self.energy_bounds_per_site
        e = jnp.asarray(energy_per_site)
        return jnp.isfinite(e) & (e >= lo - 0.1 * abs(lo)) & (e <= hi + 0.1 * abs(hi))

    @property
    def exchange_sign(self) -> float:
        return -1.0 if self.marshall_sign else 1.0

    def tables(self, model, params):
        """The model's per-step tables, with its per-bond exchange tables for this lattice's bonds
        where it has them (``model.exchange_tables``: the RBMs, and Saito's FFNNs of sigmoid or tanh
        units), which ``local_energy`` and the
        sampler's exchange moves then use."""
        tables = model.tables(params)
        if hasattr(model, "exchange_tables"):
            tables = model.exchange_tables(tables, self.lattice.bonds)
        return tables

    def local_energy(self, model, tables, sigma, cache):
        """E_loc(sigma) for one configuration (total, not per site), from the model's fast ratios.

        A model with R replicas (the DBM) returns ratios of shape (bonds, R) and gets R estimates.
        ``tables`` from ``self.tables`` (or the model's own ``tables``, without the exchange tables).
        """
        bonds = jnp.asarray(self.lattice.bonds)
        si = sigma[bonds[:, 0]]
        sj = sigma[bonds[:, 1]]
        if has_exchange_tables(model, tables):  # one multiply-add per bond and hidden unit
            ratio = model.exchange_ratios(tables, sigma, cache)
        elif hasattr(model, "ratio"):  # the ratios themselves, without a log and an exp per bond
            ratio = model.ratio(tables, sigma, cache, bonds)
        else:
            log_r = model.log_ratio(tables, sigma, cache, bonds)
            ratio = jnp.exp(jnp.where(_per_bond(si != sj, log_r), log_r, 0.0))
        ratio = jnp.where(_per_bond(si != sj, ratio), ratio, 0.0)
        diag = 0.25 * jnp.sum(si * sj)
        return self.J * (diag + 0.5 * self.exchange_sign * jnp.sum(ratio, axis=0))

    def to_netket(self, hilbert=None):
        """The same Hamiltonian as a NetKet operator, in NetKet's (Pauli) units: 4x ours.

        Args:
            hilbert: a NetKet Hilbert space; by default spin-1/2 in this model's Sz sector.
        """
        import netket as nk

        if hilbert is None:
            hilbert = self.netket_hilbert()
        return nk.operator.Heisenberg(
            hilbert, self.lattice.to_netket(), J=float(self.J), sign_rule=bool(self.marshall_sign)
        )

    def netket_hilbert(self):
        """Spin-1/2 Hilbert space of NetKet restricted to this model's Sz sector."""
        import netket as nk

        return nk.hilbert.Spin(s=0.5, N=self.n_sites, total_sz=self.total_sz)


def has_exchange_tables(model, tables) -> bool:
    """Whether ``tables`` carry per-bond exchange tables (``Heisenberg.tables``) of a model that
    uses them (a generic model's tables are its parameters, which may name a leaf "exchange")."""
    return hasattr(model, "exchange_ratios") and isinstance(tables, dict) and "exchange" in tables


def _per_bond(mask, values):
    """The bond mask (B,) shaped to broadcast against per-bond values (B,) or (B, R)."""
    return mask.reshape((-1,) + (1,) * (values.ndim - 1))
