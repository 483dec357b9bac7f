"""Exact diagonalisation baseline: NetKet builds the operator, scipy's Lanczos finds its ground state.

The sparse matrix is assembled from NetKet's own matrix elements (``get_conn_padded``, one compiled
call per batch of configurations) on the sector's basis enumerated here as bit codes; each connected
configuration is found in it by binary search. NetKet's ``to_sparse`` computes the same matrix through
hundreds of separately compiled array operations (its basis enumeration among them): 2.5-5 s per
lattice on a 2-core CPU (26 s for the 4x5 open lattice), against 0.3-1 s (4.4 s) this way.

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

    energy = float(_lowest_eigenvalue(sector_matrix(hamiltonian))) / NETKET_UNIT / N
    if cache is not None:
        _cache.write_ed(cache, hamiltonian, energy, lattice=hamiltonian.lattice.name,
                        method="netket get_conn_padded + scipy eigsh", netket=nk.__version__)
    return energy


CONN_BATCH = 8192  # configurations per call of the operator's get_conn_padded (N = 24: ~80 MB of connections)


def sector_basis(n_sites: int, n_up: int):
    """The configurations with ``n_up`` spins up: their bit codes (site i up <-> bit i), increasing,
    and the spins (+-1, NetKet's spin-1/2 values), shape (C(n_sites, n_up), n_sites)."""
    if not 0 <= n_up <= n_sites <= 30:
        raise ValueError(f"sector_basis: need 0 <= n_up <= n_sites <= 30, got n_up={n_up}, n_sites={n_sites}")
    codes = np.arange(1 << n_sites, dtype=np.int32)
    ones = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(axis=1, dtype=np.uint8)
    count = ones[codes.view(np.uint8)].reshape(-1, 4).sum(axis=1, dtype=np.uint8)  # set bits, byte by byte
    codes = codes[count == n_up].astype(np.int64)
    spins = np.where((codes[:, None] >> np.arange(n_sites)) & 1, 1.0, -1.0)
    return codes, spins


def sector_matrix(hamiltonian: Heisenberg):
    """The Hamiltonian on its Sz sector as a scipy CSR matrix, in NetKet's units (4x ours), rows and
    columns in the order of ``sector_basis``."""
    import jax
    import jax.numpy as jnp
    from scipy import sparse

    N = hamiltonian.n_sites
    n_up = int(round(N / 2 + hamiltonian.total_sz))
    codes, spins = sector_basis(N, n_up)
    op = hamiltonian.to_netket()
    conn_padded = jax.jit(op.get_conn_padded)
    dim = len(codes)
    batch = min(dim, CONN_BATCH)
    weights = np.int64(1) << np.arange(N, dtype=np.int64)
    rows, cols, vals = [], [], []
    for start in range(0, dim, batch):
        block = spins[start:start + batch]
        n = len(block)
        if n < batch:  # one compiled shape: the last batch padded with copies of its first row
            block = np.concatenate([block, np.repeat(block[:1], batch - n, axis=0)])
        conn, mels = jax.device_get(conn_padded(jnp.asarray(block)))
        conn, mels = conn[:n], mels[:n]
        row, slot = np.nonzero(mels)
        target = (conn[row, slot] > 0) @ weights
        col = np.searchsorted(codes, target)
        if np.any(col >= dim) or np.any(codes[np.minimum(col, dim - 1)] != target):
            raise RuntimeError("the operator leaves the Sz sector: it does not conserve the magnetisation")
        rows.append(row + start)
        cols.append(col)
        vals.append(mels[row, slot])
    rows, cols, vals = (np.concatenate(x) for x in (rows, cols, vals))
    return sparse.csr_matrix((vals, (rows, cols)), shape=(dim, dim))


def _lowest_eigenvalue(A):
    """The lowest eigenvalue of a sparse Hermitian matrix: scipy's Lanczos (ARPACK) from a fixed
    random start; dense up to 256 rows (cheap there, and ARPACK needs more rows than vectors)."""
    from scipy.sparse.linalg import eigsh

    if A.shape[0] <= 256:
        return np.linalg.eigvalsh(A.toarray())[0]
    v0 = np.random.default_rng(0).standard_normal(A.shape[0])
    return eigsh(A, k=1, which="SA", v0=v0, return_eigenvectors=False)[0]


def _sector_dim(N: int) -> float:
    from math import comb

    return float(comb(N, N // 2))
