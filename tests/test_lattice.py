"""The square lattice: bonds, sublattices and translations."""

import numpy as np
import pytest

import nqs


@pytest.mark.parametrize(
    "Lx, Ly, pbc, n_bonds",
    [(4, 4, True, 32), (4, 2, True, 12), (2, 2, True, 4), (3, 3, False, 12), (6, 6, True, 72), (2, 1, True, 1)],
)
def test_bond_count_without_duplicates(Lx, Ly, pbc, n_bonds):
    lat = nqs.Square(Lx, Ly, pbc=pbc)
    assert lat.n_bonds == n_bonds
    assert len({tuple(b) for b in lat.bonds}) == n_bonds
    assert np.all(lat.bonds[:, 0] < lat.bonds[:, 1])


def test_bonds_connect_opposite_sublattices_on_bipartite_lattices():
    for lat in (nqs.Square(4, 4), nqs.Square(4, 2), nqs.Square(3, 3, pbc=False)):
        s = lat.sublattice
        assert np.all(s[lat.bonds[:, 0]] != s[lat.bonds[:, 1]])
    assert not nqs.Square(3, 3, pbc=True).is_bipartite


def test_translations_are_permutations_preserving_bonds():
    lat = nqs.Square(4, 2)
    bonds = {tuple(b) for b in lat.bonds}
    for perm in lat.translations:
        assert sorted(perm) == list(range(lat.n_sites))
        moved = {tuple(sorted((perm[i], perm[j]))) for i, j in lat.bonds}
        assert moved == bonds
    assert np.array_equal(lat.translations[0], np.arange(lat.n_sites))


def test_same_bonds_as_netket_hypercube():
    import netket as nk

    lat = nqs.Square(4, 4)
    g = nk.graph.Square(4, pbc=True)
    assert {tuple(sorted(e)) for e in g.edges()} == {tuple(b) for b in lat.bonds}


@pytest.mark.parametrize("args", [(1, 1), (0, 4)])
def test_bad_lattices_are_refused(args):
    with pytest.raises(ValueError):
        nqs.Square(*args)


def test_lattice_strings():
    assert nqs.parse_lattice("6x4").n_sites == 24
    with pytest.raises(ValueError, match="does not parse"):
        nqs.parse_lattice("4by4")
