"""Exact diagonalisation baseline."""

import numpy as np
import pytest

import nqs
import nqs.exact
from conftest import EXACT_4x4, dense_heisenberg, heisenberg_matrix, sz0_basis


def test_ed_4x4_matches_sandvik():
    H = nqs.Heisenberg(nqs.Square(4, 4))
    assert nqs.ground_state_energy(H) == pytest.approx(EXACT_4x4, abs=1e-7)


def test_ed_is_independent_of_the_marshall_rotation():
    lat = nqs.Square(4, 2)
    e1 = nqs.ground_state_energy(nqs.Heisenberg(lat, marshall_sign=True))
    e2 = nqs.ground_state_energy(nqs.Heisenberg(lat, marshall_sign=False))
    assert e1 == pytest.approx(e2, abs=1e-12)


def test_ed_equals_dense_matrix_built_from_bonds():
    """H = sum_<ij> S_i.S_j written out in the Sz=0 basis; its lowest eigenvalue equals NetKet's ED."""
    lat = nqs.Square(4, 2)
    Hm = dense_heisenberg(lat, sz0_basis(lat.n_sites), marshall=False)
    exact = np.linalg.eigvalsh(Hm)[0] / lat.n_sites
    assert nqs.ground_state_energy(nqs.Heisenberg(lat)) == pytest.approx(exact, abs=1e-10)


def test_ed_refuses_large_lattices_and_points_to_the_table():
    H = nqs.Heisenberg(nqs.Square(2, 13, pbc=False))
    with pytest.raises(ValueError, match="reference table"):
        nqs.ground_state_energy(H)


def test_reference_table_has_sources():
    ref = nqs.reference_energy(nqs.Square(10, 10))
    assert ref.energy_per_site == pytest.approx(-0.671549)
    assert "Sandvik" in ref.source
    assert nqs.reference_energy(nqs.Square(5, 4)) is None


@pytest.mark.parametrize("lattice, marshall", [(nqs.Square(4, 2), True), (nqs.Square(3, 3, pbc=False), False)],
                         ids=["4x2-marshall", "3x3-open-odd"])
def test_sector_matrix_is_the_hamiltonian_written_bond_by_bond(lattice, marshall):
    """NetKet's matrix elements assembled on the sector's bit-code basis (nqs.exact.sector_matrix)
    equal H written out bond by bond on the same basis, entry by entry (NetKet's units are 4x ours);
    the basis is the whole sector (Sz = 0, or 1/2 for the odd lattice), once each, in code order."""
    from math import comb

    H = nqs.Heisenberg(lattice, marshall_sign=marshall)
    N = H.n_sites
    n_up = int(round(N / 2 + H.total_sz))
    codes, spins = nqs.exact.sector_basis(N, n_up)
    assert len(codes) == comb(N, n_up) and np.all(np.diff(codes) > 0) and np.all((spins > 0).sum(1) == n_up)
    assert np.array_equal(codes, (spins > 0) @ (1 << np.arange(N)))
    A = nqs.exact.sector_matrix(H).toarray() / 4
    np.testing.assert_allclose(A, heisenberg_matrix(lattice, spins, marshall).toarray(), atol=1e-14)
