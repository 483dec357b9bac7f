"""Exact diagonalisation baseline."""

import numpy as np
import pytest

import nqs
from conftest import EXACT_4x4, dense_heisenberg, sz0_basis


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
