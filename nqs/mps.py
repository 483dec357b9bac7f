"""DMRG baseline: finite matrix-product-state ground states of the same Heisenberg model, with TeNPy.

The density-matrix renormalisation group (White, PRL 69, 2863 (1992)), in its MPS form
(Schollwöck, Ann. Phys. 326, 96 (2011)), minimises <psi|H|psi> over matrix product states of bond
dimension chi. On a two-dimensional lattice the MPS runs along a one-dimensional path through the
sites; we use the snake path (up one column, down the next) along the shorter side, so that an MPS
bond cuts about min(Lx, Ly) lattice bonds on an open cylinder and twice that on a torus. The cost
grows like chi^3 and the entanglement across a cut like its length, so DMRG is exact on small
lattices (chi = 2^(N/2) holds any state) and only variational on large ones (Stoudenmire & White,
Annu. Rev. Condens. Matter Phys. 3, 111 (2012)).

The Hamiltonian is built bond by bond from ``hamiltonian.lattice.bonds`` (the nqs bond list, each
bond once, periodic wraps included) mapped through the snake order onto a chain of N sites, as a
TeNPy ``CouplingMPOModel`` with long-range couplings:

    H = J sum_<ij> [ Sz_i Sz_j + (S+_i S-_j + S-_i S+_j) / 2 ],

spin operators S (not Pauli matrices), so energies come out directly per site in nqs's units.
The Marshall sign rule is not applied here: it is a unitary rotation of one sublattice, which nqs
only allows on bipartite lattices, so the spectrum and the ground-state energy are the same.

Sz is conserved (``SpinHalfSite(conserve="Sz")``) and the start is the Néel product state, so DMRG
stays in the sector of the VMC sampler and of ED (Sz = 0 for even N). Bond dimensions are taken in
increasing order, each warm-started from the previous one, with the density-matrix mixer of White,
PRB 72, 180403 (2005) switched on at the start of each (it lets two-site DMRG leave the product state
and the previous chi's local minimum) and off before the energy is read. The energy reported is <psi|H|psi> of the final MPS,
a variational upper bound; the truncation error is the largest discarded weight of its last sweep.

TeNPy is optional: ``pip install physics-tenpy`` (or ``pip install "nqs[dmrg]"``).
"""

from __future__ import annotations

import time
from typing import Callable, NamedTuple

import numpy as np

from .hamiltonian import Heisenberg


class DMRGRow(NamedTuple):
    """One bond dimension's result; energy per site in units of J with S = sigma/2.

    ``wall_time`` counts from the start of ``dmrg_ground_state``, the smaller chi that warm-started
    this one included: it is what this chi costs from scratch.
    """

    chi: int
    energy_per_site: float
    truncation_error: float
    wall_time: float


def require_tenpy():
    """Import TeNPy, or say how to install it."""
    try:
        import tenpy  # noqa: F401
    except ImportError:
        raise ImportError(
            "DMRG needs TeNPy, which is not installed: pip install physics-tenpy "
            '(or pip install "nqs[dmrg]"); or skip DMRG (nqs bench --chi none)'
        ) from None
    return tenpy


def snake_order(lattice) -> np.ndarray:
    """Lattice sites in MPS order: ``order[p]`` is the nqs site at chain position p.

    Columns of the shorter side, alternately up and down, so neighbours along the path are
    neighbours on the lattice and an MPS cut crosses as few bonds as it can.
    """
    Lx, Ly = lattice.Lx, lattice.Ly
    order = []
    if Ly <= Lx:
        for x in range(Lx):
            ys = range(Ly) if x % 2 == 0 else range(Ly - 1, -1, -1)
            order.extend(lattice.index(x, y) for y in ys)
    else:
        for y in range(Ly):
            xs = range(Lx) if y % 2 == 0 else range(Lx - 1, -1, -1)
            order.extend(lattice.index(x, y) for x in xs)
    return np.asarray(order, dtype=np.int64)


def chain_bonds(lattice) -> list[tuple[int, int]]:
    """The lattice's bonds as pairs (p, q), p < q, of positions along the snake path."""
    position = np.empty(lattice.n_sites, dtype=np.int64)
    position[snake_order(lattice)] = np.arange(lattice.n_sites)
    return sorted(tuple(sorted((int(position[i]), int(position[j])))) for i, j in lattice.bonds)


def _tenpy_model(hamiltonian: Heisenberg):
    """The Heisenberg Hamiltonian as a TeNPy MPO model on a chain in snake order."""
    from tenpy.models.lattice import Chain
    from tenpy.models.model import CouplingMPOModel
    from tenpy.networks.site import SpinHalfSite

    class SnakeHeisenberg(CouplingMPOModel):
        """J sum over the given chain bonds of S_p . S_q, couplings of any range."""

        def init_terms(self, params):
            J = params.get("J", 1.0)
            for p, q in params.get("bonds", []):
                self.add_coupling_term(J, p, q, "Sz", "Sz")
                self.add_coupling_term(0.5 * J, p, q, "Sp", "Sm", plus_hc=True)

    N = hamiltonian.n_sites
    chain = Chain(N, SpinHalfSite(conserve="Sz"), bc="open", bc_MPS="finite")
    return SnakeHeisenberg({"lattice": chain, "J": float(hamiltonian.J), "bonds": chain_bonds(hamiltonian.lattice)})


def _neel_state(model, lattice):
    """The Néel product state along the snake path (Sz = 0 for even N, 1/2 for odd N)."""
    from tenpy.networks.mps import MPS

    sublattice = lattice.sublattice[snake_order(lattice)]
    spins = ["up" if s > 0 else "down" for s in sublattice]
    return MPS.from_product_state(model.lat.mps_sites(), spins, bc="finite", unit_cell_width=lattice.n_sites)


def _check_chi_list(chi_list) -> list[int]:
    if isinstance(chi_list, (int, np.integer)) and not isinstance(chi_list, bool):
        chi_list = [chi_list]
    chis = list(chi_list)
    if not chis:
        raise ValueError("dmrg_ground_state: chi_list is empty; give at least one bond dimension, e.g. [64, 128]")
    for chi in chis:
        if isinstance(chi, bool) or not isinstance(chi, (int, np.integer)) or chi < 1:
            raise ValueError(f"dmrg_ground_state: bond dimensions must be positive integers, got {chi!r}")
    return sorted({int(c) for c in chis})


def dmrg_ground_state(
    hamiltonian: Heisenberg,
    chi_list,
    *,
    max_sweeps: int = 20,
    min_sweeps: int = 4,
    mixer_sweeps: int = 2,
    energy_tol: float = 1e-9,
    callback: Callable[[DMRGRow], None] | None = None,
) -> list[DMRGRow]:
    """Finite two-site DMRG of ``hamiltonian`` at each bond dimension of ``chi_list``, smallest first.

    Args:
        hamiltonian: an ``nqs.Heisenberg``; same lattice, boundary conditions and J.
        chi_list: bond dimensions (sorted, duplicates dropped); each run starts from the previous MPS.
        max_sweeps, min_sweeps: bounds on the sweeps spent at one chi.
        mixer_sweeps: sweeps at the start of each chi with the density-matrix mixer on.
        energy_tol: a chi is converged when one sweep changes the energy by less than this, per site.
        callback: called with each ``DMRGRow`` as soon as it is done (progress bars, partial output).

    Returns:
        One ``DMRGRow(chi, energy_per_site, truncation_error, wall_time)`` per chi, in S.S units.
    """
    if not isinstance(hamiltonian, Heisenberg):
        raise TypeError(f"dmrg_ground_state: hamiltonian must be an nqs.Heisenberg, got {type(hamiltonian).__name__}")
    chis = _check_chi_list(chi_list)
    if hamiltonian.n_sites < 3:
        raise ValueError(
            f"dmrg_ground_state: two-site DMRG needs at least 3 sites, got {hamiltonian.n_sites}; "
            "use exact diagonalisation (nqs.ground_state_energy) for so small a lattice"
        )
    if not 1 <= min_sweeps <= max_sweeps:
        raise ValueError(f"dmrg_ground_state: need 1 <= min_sweeps <= max_sweeps, got {min_sweeps} and {max_sweeps}")
    if not energy_tol > 0:
        raise ValueError(f"dmrg_ground_state: energy_tol must be > 0, got {energy_tol}")
    require_tenpy()
    from tenpy.algorithms.dmrg import TwoSiteDMRGEngine

    t_start = time.perf_counter()
    N = hamiltonian.n_sites
    model = _tenpy_model(hamiltonian)
    psi = _neel_state(model, hamiltonian.lattice)
    rows = []
    for chi in chis:
        options = {
            "trunc_params": {"chi_max": chi, "svd_min": 1e-12},
            "mixer": mixer_sweeps > 0,
            "mixer_params": {"amplitude": 1e-5, "decay": 2.0, "disable_after": mixer_sweeps},
            # the mixer must be off before convergence is declared, else the MPS is left non-canonical
            "min_sweeps": max(min_sweeps, mixer_sweeps + 2),
            "max_sweeps": max(max_sweeps, mixer_sweeps + 2),
            # TeNPy's test is on the change of the TOTAL energy per sweep
            "max_E_err": energy_tol * N,
            "max_S_err": 1e-4,
            # a truncated chi is a result to report, not an error; TeNPy raises above 1e-4 by default
            "max_trunc_err": 1.0,
            # TeNPy canonicalises a slightly non-canonical final state anyway; this only silences its warning
            "norm_tol": 1.0,
        }
        engine = TwoSiteDMRGEngine(psi, model, options)
        engine.run()
        psi = engine.psi
        energy = float(np.real(model.H_MPO.expectation_value(psi))) / N
        row = DMRGRow(chi, energy, float(engine.sweep_stats["max_trunc_err"][-1]), time.perf_counter() - t_start)
        rows.append(row)
        if callback is not None:
            callback(row)
    return rows
