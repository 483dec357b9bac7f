"""The square lattice: sites, nearest-neighbour bonds, sublattices and translations.

Sites are numbered row-major, ``i = x * Ly + y`` with ``0 <= x < Lx``, ``0 <= y < Ly``.
Bonds are listed once each, also on a periodic length-2 direction, where the
"left" and "right" neighbours of a site coincide: a simple graph, as in NetKet's
``Hypercube`` and in the exact-diagonalisation literature (Sandvik 1997).

The translation table ``translations[t, i]`` gives the site that ``i`` is moved to by
the ``t``-th lattice translation (``t = tx * Ly + ty``); translation-invariant ansätze
(``RBMSymm``, Carleo & Troyer 2017, App. E) use it to tie their filters. ``space_group`` adds
the point group (the eight rotations and reflections of D4 on a square Lx = Ly, the four of
D2 otherwise): every permutation of the sites that maps bonds to bonds. With the Marshall sign
rule the rotated Hamiltonian has no sublattice label left, so its positive ground state is
invariant under all of them (Perron–Frobenius), and an ansatz may be symmetrised over the group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Square:
    """An ``Lx`` x ``Ly`` square lattice, periodic (``pbc=True``) or open.

    Args:
        Lx, Ly: the two side lengths, each >= 1, with at least two sites in all.
        pbc: periodic boundary conditions in both directions.
    """

    Lx: int
    Ly: int
    pbc: bool = True
    bonds: np.ndarray = field(init=False, repr=False, compare=False)
    translations: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        for name in ("Lx", "Ly"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"Square: {name} must be an integer, got {value!r}")
            if value < 1:
                raise ValueError(f"Square: {name} must be >= 1, got {value}")
        if self.Lx * self.Ly < 2:
            raise ValueError(
                f"Square: a {self.Lx}x{self.Ly} lattice has a single site and no bonds; "
                "use at least two sites (e.g. Square(2, 1))"
            )
        object.__setattr__(self, "bonds", self._make_bonds())
        object.__setattr__(self, "translations", self._make_translations())

    @property
    def n_sites(self) -> int:
        return self.Lx * self.Ly

    @property
    def n_bonds(self) -> int:
        return len(self.bonds)

    @property
    def name(self) -> str:
        return f"{self.Lx}x{self.Ly}_{'pbc' if self.pbc else 'obc'}"

    def index(self, x: int, y: int) -> int:
        return (x % self.Lx) * self.Ly + (y % self.Ly)

    @property
    def coords(self) -> np.ndarray:
        """Site coordinates, shape (N, 2)."""
        x, y = np.divmod(np.arange(self.n_sites), self.Ly)
        return np.stack([x, y], axis=1)

    @property
    def sublattice(self) -> np.ndarray:
        """(-1)^(x+y) for every site: +1 on sublattice A, -1 on B."""
        c = self.coords
        return np.where((c[:, 0] + c[:, 1]) % 2 == 0, 1, -1).astype(np.int8)

    @property
    def is_bipartite(self) -> bool:
        """True unless a periodic direction has odd length (> 1), which frustrates the Néel order."""
        if not self.pbc:
            return True
        return all(L % 2 == 0 or L == 1 for L in (self.Lx, self.Ly))

    def _make_bonds(self) -> np.ndarray:
        bonds = set()
        for x in range(self.Lx):
            for y in range(self.Ly):
                i = self.index(x, y)
                for dx, dy, L, pos in ((1, 0, self.Lx, x), (0, 1, self.Ly, y)):
                    if L == 1:
                        continue
                    if not self.pbc and pos + 1 >= L:
                        continue
                    j = self.index(x + dx, y + dy)
                    bonds.add((min(i, j), max(i, j)))
        return np.array(sorted(bonds), dtype=np.int32).reshape(-1, 2)

    def _make_translations(self) -> np.ndarray:
        """translations[t, i]: image of site i under translation t (only the identity if open)."""
        c = self.coords
        if not self.pbc:
            return np.arange(self.n_sites, dtype=np.int32)[None, :]
        table = np.empty((self.n_sites, self.n_sites), dtype=np.int32)
        for tx in range(self.Lx):
            for ty in range(self.Ly):
                t = tx * self.Ly + ty
                table[t] = ((c[:, 0] + tx) % self.Lx) * self.Ly + (c[:, 1] + ty) % self.Ly
        return table

    @cached_property
    def point_group(self) -> np.ndarray:
        """point_group[p, i]: image of site i under the p-th rotation or reflection (identity first).

        About the origin on a periodic lattice, about the centre on an open one; D4 (8 elements)
        when Lx = Ly, D2 (4: the identity, the two mirrors and the inversion) otherwise.
        """
        c = self.coords
        x, y = c[:, 0], c[:, 1]

        def mirror(u, L):
            return (-u) % L if self.pbc else L - 1 - u

        ops = [(x, y), (mirror(x, self.Lx), y), (x, mirror(y, self.Ly)), (mirror(x, self.Lx), mirror(y, self.Ly))]
        if self.Lx == self.Ly:  # the diagonal mirrors and the quarter turns
            ops += [(y, x), (mirror(y, self.Ly), x), (y, mirror(x, self.Lx)), (mirror(y, self.Ly), mirror(x, self.Lx))]
        table = np.stack([u * self.Ly + v for u, v in ops]).astype(np.int32)
        return _unique_rows(table)

    @cached_property
    def space_group(self) -> np.ndarray:
        """space_group[g, i]: image of site i under translation t after point operation p, every
        distinct pair (t, p) once, the identity first (Lx Ly x 8 elements on a periodic L x L)."""
        T, P = self.translations, self.point_group
        return _unique_rows(T[:, P].transpose(1, 0, 2).reshape(-1, self.n_sites))

    SYMMETRIES = ("translations", "space_group")

    def symmetry_group(self, name: str) -> np.ndarray:
        """The permutation table (|G|, N) a symmetric ansatz ties its filters over: ``"translations"``
        or ``"space_group"`` (``ValueError`` for any other name)."""
        if name == "translations":
            return self.translations
        if name == "space_group":
            return self.space_group
        raise ValueError(f"symmetries must be one of {', '.join(self.SYMMETRIES)}, got {name!r}")

    def to_netket(self):
        """The same lattice as a ``netket.graph.Graph`` with identical site numbering and bonds."""
        import netket as nk

        return nk.graph.Graph(edges=[tuple(map(int, b)) for b in self.bonds], n_nodes=self.n_sites)


def _unique_rows(table: np.ndarray) -> np.ndarray:
    """The distinct rows of a permutation table in their first-seen order (small lattices repeat)."""
    _, first = np.unique(table, axis=0, return_index=True)
    return np.ascontiguousarray(table[np.sort(first)])


def parse_lattice(text: str, pbc: bool = True) -> Square:
    """Parse ``"4x4"`` (or ``"6X6"``) into a ``Square``; a clear ``ValueError`` otherwise."""
    parts = str(text).lower().replace(" ", "").split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"lattice {text!r} does not parse: write it as LxxLy, e.g. 4x4 or 6x6")
    return Square(int(parts[0]), int(parts[1]), pbc=pbc)
