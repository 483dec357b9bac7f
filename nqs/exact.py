"""Exact diagonalisation baseline: NetKet builds the operator, scipy's Lanczos finds its ground state.

The Hamiltonian is restricted to the Sz sector the sampler explores (Sz = 0 for even N), which for
N = 24 leaves 2.7 million states, the largest that fits a 2-core, 24 GB machine in reasonable time.
Larger lattices are refused; their ground-state energies are in the package's reference table
(``nqs.reference_energy``), taken from exact and QMC literature.
"""

from __future__ import annotations

import numpy as np

from . import _cache
from .hamiltonian import NETKET_UNIT, Heisenberg

MAX_ED_SITES = 24


def ground_state_energy(hamiltonian: Heisenberg, max_sites: int = MAX_ED_SITES, cache=None) -> float:
    """Exact ground-state energy PER SITE, in units of J with S = sigma/2 (NetKet's value / 4 / N).

    Args:
        cache: a directory that keeps the energies computed (one small JSON file per Hamiltonian,
            ``nqs/_cache.py``); the ``nqs`` command passes its cache. None (default): none.

    Raises:
        ValueError: for more than ``max_sites`` sites.
    """
    N = hamiltonian.n_sites
    if N > max_sites:
        raise ValueError(
            f"exact diagonalisation of {N} sites is refused: the Sz sector has "
            f"{_sector_dim(N):.3g} states, beyond what fits here (limit {max_sites} sites); "
            "use the reference table instead (nqs.reference_energy(lattice), e.g. QMC for 8x8 and 10x10)"
        )
    if cache is not None:
        cached = _cache.read_ed(cache, hamiltonian)
        if cached is not None:
            return cached
    import netket as nk

    op = hamiltonian.to_netket()
    energies = nk.exact.lanczos_ed(op, k=1, compute_eigenvectors=False)
    energy = float(np.min(energies)) / NETKET_UNIT / N
    if cache is not None:
        _cache.write_ed(cache, hamiltonian, energy, lattice=hamiltonian.lattice.name, method="netket.exact.lanczos_ed",
                        netket=nk.__version__)
    return energy


def _sector_dim(N: int) -> float:
    from math import comb

    return float(comb(N, N // 2))
