"""The DMRG baseline: TeNPy on the same lattice and bonds gives the exact energy, in S.S units."""

import sys

import pytest

import nqs
from nqs.mps import chain_bonds, dmrg_ground_state, snake_order


def test_a_four_site_ring_has_energy_minus_two_J():
    # the open 2x2 lattice is a ring of four S = 1/2 with E0 = -2 J: TeNPy's S operators, not
    # Pauli matrices (which would give -8 J)
    rows = dmrg_ground_state(nqs.Heisenberg(nqs.Square(2, 2, pbc=False)), [4])
    assert rows[0].energy_per_site == pytest.approx(-0.5, abs=1e-12)


def test_two_sites_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="at least 3 sites"):
        dmrg_ground_state(nqs.Heisenberg(nqs.Square(2, 1)), [2])


def test_dmrg_at_an_exact_bond_dimension_equals_ed_on_the_2x4_torus():
    # chi = 2^(8/2) = 16 holds any state of 8 sites. ED uses NetKet's Marshall-rotated operator,
    # DMRG the plain S.S: the same spectrum, so the same energy
    H = nqs.Heisenberg(nqs.Square(2, 4, pbc=True))
    (row,) = dmrg_ground_state(H, [16])
    assert row.chi == 16 and row.truncation_error < 1e-12
    assert row.energy_per_site == pytest.approx(nqs.ground_state_energy(H), abs=1e-8)


# ED energies per site from nqs.ground_state_energy (NetKet, Lanczos); fixed here because building
# each NetKet operator costs seconds, more than the DMRG
@pytest.mark.parametrize(
    "lattice, marshall_sign, chi, exact",
    [
        (nqs.Square(3, 4, pbc=False), True, 64, -0.5576400161262459),  # 2^(12/2) = 64
        (nqs.Square(3, 4, pbc=True), False, 64, -0.6140181411778383),  # odd periodic length: frustrated
        (nqs.Square(3, 3, pbc=False), True, 16, -0.5277030287280964),  # odd N: the Sz = 1/2 sector, as ED's
    ],
    ids=["3x4_obc", "3x4_pbc", "3x3_obc"],
)
def test_dmrg_at_an_exact_bond_dimension_equals_ed(lattice, marshall_sign, chi, exact):
    (row,) = dmrg_ground_state(nqs.Heisenberg(lattice, marshall_sign=marshall_sign), [chi])
    assert row.truncation_error < 1e-12
    assert row.energy_per_site == pytest.approx(exact, abs=1e-8)


def test_energies_are_variational_and_fall_with_chi():
    H = nqs.Heisenberg(nqs.Square(2, 4, pbc=False))
    rows = dmrg_ground_state(H, [8, 2, 4])  # run smallest first: 2, 4, 8
    assert [r.chi for r in rows] == [2, 4, 8]
    energies = [r.energy_per_site for r in rows]
    exact = -0.5366333070821342  # ED, nqs.ground_state_energy
    assert all(e > exact for e in energies)
    assert energies[0] > energies[1] > energies[2]
    assert rows[0].truncation_error > 1e-4
    assert all(b.wall_time >= a.wall_time for a, b in zip(rows, rows[1:]))


@pytest.mark.parametrize("Lx, Ly", [(4, 4), (3, 4), (4, 2), (6, 3)])
def test_the_snake_visits_every_site_once_stepping_to_neighbours(Lx, Ly):
    lat = nqs.Square(Lx, Ly, pbc=False)
    order = snake_order(lat)
    assert sorted(order) == list(range(lat.n_sites))
    bonds = {tuple(b) for b in lat.bonds}
    assert all(tuple(sorted((int(a), int(b)))) in bonds for a, b in zip(order, order[1:]))
    chain = chain_bonds(lat)
    assert len(chain) == lat.n_bonds and all(p < q for p, q in chain)
    assert sum(q - p == 1 for p, q in chain) == lat.n_sites - 1


def test_the_snake_runs_along_the_shorter_side():
    # on 6x3 an MPS cut should cross 3 lattice bonds, not 6: the longest chain bond spans a column pair
    chain = chain_bonds(nqs.Square(6, 3, pbc=False))
    assert max(q - p for p, q in chain) <= 2 * 3 - 1


@pytest.mark.parametrize("chi", [[], [0], [16, -4], [2.5], [True]])
def test_bad_bond_dimensions_are_refused(chi):
    with pytest.raises(ValueError, match="bond dimension"):
        dmrg_ground_state(nqs.Heisenberg(nqs.Square(2, 2)), chi)


def test_without_tenpy_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "tenpy", None)  # makes `import tenpy` raise ImportError
    with pytest.raises(ImportError, match="pip install physics-tenpy"):
        dmrg_ground_state(nqs.Heisenberg(nqs.Square(2, 2)), [4])
