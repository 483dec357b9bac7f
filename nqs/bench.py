"""`nqs bench`: every ansatz against exact diagonalisation, DMRG and published energies, on one lattice.

The benchmark of Carleo & Troyer, Science 355, 602 (2017) (their Fig. 3) compares the variational
energy of each network with the exact one; VarBench (Wu et al., Science 386, 296 (2024)) adds
tensor-network baselines and the V-score N Var(E) / E^2, which ranks ansätze by accuracy without an
exact answer. ``run_bench`` does both on one lattice:

- the reference: ED (NetKet operator in the Sz = 0 sector, Lanczos; ``nqs.exact``) when the lattice
  has at most ``max_ed_sites`` sites, else the package's table of exact and QMC energies
  (``nqs.reference_energy``, each with its citation), else the lowest variational energy at hand
  (this run's and the published ones), which is then named as such;
- each ansatz of ``MODELS`` trained by VMC + SR (``nqs.ground_state``) with settings known to work
  for it;
- finite DMRG (``nqs.mps``) at each bond dimension chi, with its truncation error.

Energies are per site in units of J with S = sigma/2 (NetKet and Carleo & Troyer report 4x).
Results go to one HDF5 file (the layout of ``nqs.io``, several runs and baselines in one file) and
one PNG beside it; an existing file is never overwritten without ``force``, and all input is
checked before anything is computed.

HDF5 layout added to that of ``nqs.io`` (schema_version 1):

    /                      attrs: ... as nqs.io, plus kind = "bench", status ("running" | "finished")
    /runs/<model>/         one VMC run per ansatz, as nqs.io (history flushed every step, events),
                           plus attrs label, relative_error; status "diverged" (and message) for
                           an ansatz whose training failed, which the table then shows as such
    /baselines/ed          attrs: energy_per_site, wall_time, sector_dim (when ED ran)
    /baselines/reference   attrs: energy_per_site, error, kind, source (when the table has the lattice)
    /baselines/dmrg        attrs (arrays, one entry per chi): chi, energy_per_site,
                           truncation_error, wall_time; plus ordering = "snake"
    /bench                 attrs: reference_energy_per_site, reference_kind, reference_label,
                           reference_source
    /bench/rows/           the printed table, one dataset per column (see ``ROW_COLUMNS``)
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np

from .exact import MAX_ED_SITES, ground_state_energy
from .hamiltonian import Heisenberg
from .io import check_output
from .lattice import Square, parse_lattice
from .models import DBM, FFNN, RBM, DeepFFNN, FFNNSymm, RBMSymm
from .references import reference_energy, variational_results

DEFAULT_CHI = (64, 128, 256)


@dataclass(frozen=True)
class Ansatz:
    """A family the benchmark trains: how to build it on a lattice, and SR settings that work for it.

    Args:
        label: the name printed in the table, with its size parameter (e.g. "RBM α=1").
        make: lattice -> model (an object following ``nqs.models.base``).
        learning_rate: the SR step size eta.
        diag_shift: the constant SR diagonal shift.
        n_chains: Markov chains.
    """

    label: str
    make: Callable[[Square], Any]
    learning_rate: float = 0.05
    diag_shift: float = 1e-3
    n_chains: int = 16


# The benchmark's ansätze, in table order; a new family is one line here.
MODELS: dict[str, Ansatz] = {
    # 4x4: plateaus near rel. error 3.5e-3 whatever the settings (README, "Results")
    "rbm": Ansatz("RBM α=1", lambda lattice: RBM(alpha=1), learning_rate=0.05, diag_shift=1e-3),
    # 4x4: rel. error 1e-3 after 300 steps of 1024 samples
    "rbmsymm": Ansatz("RBMSymm α=2", lambda lattice: RBMSymm(lattice, alpha=2), learning_rate=0.05, diag_shift=1e-3),
    # Carleo-Nomura-Imada DBM, 4 deep units on 4x4 sampled with two replicas: rel. error about 2e-3
    # after 300 steps; a larger deep layer or learning rate makes the replica estimators noisy (README)
    "dbm": Ansatz("DBM α=2, α_d=1/8", lambda lattice: DBM(alpha_hidden=2, alpha_deep=0.125), learning_rate=0.03,
                  diag_shift=1e-2),
    # Saito's shallow form: 4x4 rel. error 3e-2 to 9e-2 (sigmoid or log cosh, alpha 1-2)
    "ffnn": Ansatz("FFNN α=1", lambda lattice: FFNN(alpha=1), learning_rate=0.05, diag_shift=1e-3),
    # the same form summed over the translations, 8 log-cosh filters: 4x4 rel. error 2.4e-3 after 300 steps
    "ffnnsymm": Ansatz("FFNNSymm α=8", lambda lattice: FFNNSymm(lattice, alpha=8, activation="logcosh"),
                       learning_rate=0.02, diag_shift=1e-3),
    # one hidden layer of N log-cosh units, complex: 4x4 rel. error about 1e-3 (generic path, slower)
    "deepffnn": Ansatz("DeepFFNN (1,)", lambda lattice: DeepFFNN(widths=(1,)), learning_rate=0.05, diag_shift=1e-3),
}

REFERENCE_MODES = ("auto", "ed", "table")

ROW_COLUMNS = (
    "name", "method", "kind", "size", "n_params", "chi", "energy_per_site", "error", "relative_error",
    "v_score", "truncation_error", "wall_time",
)


@dataclass
class BenchRow:
    """One line of the table. Energies per site in units of J, S = sigma/2; None where not applicable.

    ``kind`` is "ed", "table" (a tabulated reference), "vmc" or "dmrg"; ``size`` is the number of
    parameters (VMC), the bond dimension chi (DMRG) or the Sz-sector dimension (ED).
    """

    name: str
    method: str
    kind: str
    size: str
    energy_per_site: float
    error: float | None = None
    relative_error: float | None = None
    v_score: float | None = None
    wall_time: float | None = None
    n_params: int | None = None
    chi: int | None = None
    truncation_error: float | None = None


@dataclass
class Reference:
    """The energy every row is compared with: ``kind`` is "ed", "table", "variational" or "none"."""

    energy_per_site: float | None
    kind: str
    label: str
    source: str = ""
    error: float = 0.0


@dataclass
class Bench:
    """What ``run_bench`` returns: the rows of the table (iterating over it gives them) and the reference."""

    rows: list[BenchRow]
    reference: Reference
    lattice: Square
    path: str | None = None
    png: str | None = None
    notes: list[str] = field(default_factory=list)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]

    def table(self) -> str:
        return format_table(self)


# -- input --------------------------------------------------------------------------------------


def parse_models(models) -> list[str]:
    """``"rbm,rbmsymm"``, ``"all"``, ``"none"`` or a list of names -> list of known names."""
    if models is None:
        return list(MODELS)
    if isinstance(models, str):
        text = models.strip().lower()
        if text == "all":
            return list(MODELS)
        if text in ("none", ""):
            return []
        models = [m.strip() for m in text.split(",")]
    names = []
    for name in models:
        key = str(name).strip().lower()
        if key not in MODELS:
            raise ValueError(
                f"unknown model {name!r}; known models: {', '.join(MODELS)} (or 'all', or 'none' for baselines only)"
            )
        if key not in names:
            names.append(key)
    return names


def parse_chi(chi) -> list[int]:
    """``"64,128,256"``, ``"none"``, an int or a list -> sorted list of bond dimensions ([] for none)."""
    if chi is None:
        return []
    if isinstance(chi, str):
        text = chi.strip().lower()
        if text in ("none", ""):
            return []
        parts = [p.strip() for p in text.split(",")]
        if not all(p.isdigit() for p in parts):
            raise ValueError(f"bond dimensions {chi!r} do not parse: write them as 64,128,256, or none to skip DMRG")
        chi = [int(p) for p in parts]
    elif isinstance(chi, (int, np.integer)) and not isinstance(chi, bool):
        chi = [chi]
    values = []
    for c in chi:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1:
            raise ValueError(f"bond dimensions must be positive integers, got {c!r}; or none to skip DMRG")
        values.append(int(c))
    return sorted(set(values))


def png_path(out) -> str:
    return os.path.splitext(os.fspath(out))[0] + ".png"


def check_outputs(out, force: bool):
    """Refuse an output that exists (the HDF5 file or the PNG beside it) unless ``force``."""
    check_output(png_path(check_output(out, force)), force)


def _sector_dim(n_sites: int) -> int:
    return math.comb(n_sites, n_sites // 2)


# -- the benchmark ------------------------------------------------------------------------------


def run_bench(
    lattice="4x4",
    models="all",
    chi_list=DEFAULT_CHI,
    steps: int = 300,
    samples: int = 1024,
    seed: int = 0,
    out=None,
    force: bool = False,
    progress: bool = True,
    *,
    reference: str = "auto",
    max_ed_sites: int = MAX_ED_SITES,
    pbc: bool = True,
    marshall_sign: bool = True,
    command_line: str | None = None,
) -> Bench:
    """Benchmark ansätze against the reference energy and DMRG on one lattice.

    Args:
        lattice: a ``Square`` or a string like ``"4x4"`` (periodic unless ``pbc=False``).
        models: names from ``MODELS`` as a list or ``"rbm,rbmsymm"``; ``"all"`` or ``"none"``.
        chi_list: DMRG bond dimensions (list, ``"64,128"``), or None / ``"none"`` to skip DMRG.
        steps, samples, seed: VMC optimisation steps, samples per step, seed (same for every ansatz).
        out: HDF5 file to write (a PNG beside it); None writes nothing.
        force: overwrite ``out`` and its PNG if they exist.
        progress: a progress bar over the methods (on stderr).
        reference: "auto" (ED up to ``max_ed_sites``, else the table, else the best variational
            energy), "ed" (ED or an error) or "table" (the table or an error).
        max_ed_sites: the largest lattice diagonalised exactly.
        pbc, marshall_sign: used when ``lattice`` is a string; marshall_sign also for the VMC.
        command_line: stored in the file (default: ``sys.argv``).

    Returns:
        A ``Bench``: ``rows`` (reference, one per ansatz, one per chi) and the ``reference`` used.
    """
    # every check before any computation: a bad argument costs nothing and overwrites nothing
    if isinstance(lattice, str):
        lattice = parse_lattice(lattice, pbc=pbc)
    if not isinstance(lattice, Square):
        raise TypeError(f"lattice must be an nqs.Square or a string like '4x4', got {type(lattice).__name__}")
    H = Heisenberg(lattice, marshall_sign=marshall_sign)
    names = parse_models(models)
    chis = parse_chi(chi_list)
    for label, value in (("steps", steps), ("samples", samples)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")
    if reference not in REFERENCE_MODES:
        raise ValueError(f"reference must be one of {', '.join(REFERENCE_MODES)}, got {reference!r}")
    use_ed = reference == "ed" or (reference == "auto" and lattice.n_sites <= max_ed_sites)
    if use_ed and lattice.n_sites > max_ed_sites:
        ground_state_energy(H, max_sites=max_ed_sites)  # refuses at once, with nqs.exact's message
    table_entry = reference_energy(lattice)
    if reference == "table" and table_entry is None:
        from .references import table

        known = ", ".join(k.removeprefix("square_").removesuffix("_pbc") for k in table() if k.endswith("_pbc"))
        raise ValueError(
            f"the reference table has no entry for {lattice.name}; it has {known} (periodic); "
            "use --reference auto or ed"
        )
    if chis:
        from .mps import require_tenpy

        require_tenpy()
    if out is not None:
        check_outputs(out, force)
    ansatze = {name: MODELS[name] for name in names}
    built = {name: spec.make(lattice) for name, spec in ansatze.items()}

    config = {
        "lattice": {"Lx": lattice.Lx, "Ly": lattice.Ly, "pbc": lattice.pbc}, "J": H.J, "marshall_sign": H.marshall_sign,
        "models": {
            name: {"label": spec.label, "model": _describe(built[name]), "learning_rate": spec.learning_rate,
                   "diag_shift": spec.diag_shift, "n_chains": spec.n_chains}
            for name, spec in ansatze.items()
        },
        "chi_list": chis, "steps": int(steps), "samples": int(samples), "seed": int(seed),
        "reference": reference, "max_ed_sites": int(max_ed_sites),
        "dmrg": {"ordering": "snake", "conserve": "Sz", "mixer": True, "engine": "TwoSiteDMRGEngine"},
    }
    writer = _BenchFile(out, config, H, command_line) if out is not None else None
    rows: list[BenchRow] = []
    histories: dict[str, dict] = {}
    bar = _progress(int(use_ed) + len(names) + len(chis), progress)
    try:
        ref = Reference(None, "none", "none")
        if use_ed:
            _describe_bar(bar, f"ED {lattice.name}")
            t0 = time.perf_counter()
            e_ed = ground_state_energy(H, max_sites=max_ed_sites)
            dim = _sector_dim(lattice.n_sites)
            sector = f"Sz={H.total_sz:g}"
            rows.append(BenchRow("ed", f"ED (Lanczos, {sector})", "ed", f"{dim} states", e_ed, 0.0,
                                 wall_time=time.perf_counter() - t0))
            ref = Reference(e_ed, "ed", "exact diagonalisation",
                            f"this run: NetKet operator in the {sector} sector, Lanczos (scipy)")
            if writer:
                writer.baseline("ed", energy_per_site=e_ed, wall_time=rows[-1].wall_time, sector_dim=dim)
            _advance(bar)
        if table_entry is not None:
            if writer:
                writer.baseline("reference", energy_per_site=table_entry.energy_per_site, error=table_entry.error,
                                kind=table_entry.kind, source=table_entry.source)
            if not use_ed:
                ref = Reference(table_entry.energy_per_site, "table", table_entry.kind, table_entry.source,
                                table_entry.error)
                rows.append(BenchRow("reference", f"{table_entry.kind} (table)", "table", "—",
                                     table_entry.energy_per_site, table_entry.error))
        for name, spec in ansatze.items():
            _describe_bar(bar, spec.label)
            row, history = _run_vmc(H, name, spec, built[name], steps, samples, seed, ref, writer, bar)
            rows.append(row)
            if history is not None:
                histories[spec.label] = history
            _advance(bar)
        if chis:
            rows.extend(_run_dmrg(H, chis, writer, bar))
        ref = _finalise_reference(ref, rows, lattice)
        for row in rows:
            if ref.energy_per_site is not None and row.kind in ("vmc", "dmrg") and np.isfinite(row.energy_per_site):
                row.relative_error = abs(row.energy_per_site - ref.energy_per_site) / abs(ref.energy_per_site)
        if writer:
            writer.finish(rows, ref)
    finally:
        if bar is not None:
            bar.close()
        if writer:
            writer.close()
    result = Bench(rows=rows, reference=ref, lattice=lattice, path=None if out is None else os.fspath(out))
    if table_entry is not None and use_ed:
        result.notes.append(f"tabulated: {table_entry.energy_per_site:.8f} ({table_entry.kind}), {table_entry.source}")
    if out is not None:
        result.png = plot_bench(result, histories, png_path(out))
    return result


def _run_vmc(H, name, spec, model, steps, samples, seed, ref, writer, bar):
    from .sr import SR
    from .vmc import DivergenceError, ground_state

    if writer:
        writer.start_run(name, spec, model, samples, steps, seed, ref.energy_per_site)

    def on_step(p, info):
        if writer:
            writer.append(name, info)
        if bar is not None:
            bar.set_postfix_str(f"step {p + 1}/{steps} E/N={info['energy_per_site']:.5f}", refresh=False)

    try:
        result = ground_state(
            H, model, n_samples=int(samples), steps=int(steps), seed=int(seed), n_chains=spec.n_chains,
            learning_rate=spec.learning_rate, sr=SR(diag_shift=spec.diag_shift), progress=False, callback=on_step,
            exact=ref.energy_per_site,
        )
    except DivergenceError as exc:
        # one ansatz that fails to train is a result of the benchmark, not a reason to lose the others
        if writer:
            writer.fail_run(name, str(exc))
        row = BenchRow(name, f"{spec.label} (diverged)", "vmc", "—", float("nan"), wall_time=None)
        return row, None
    if writer:
        writer.finish_run(name, result)
    row = BenchRow(name, spec.label, "vmc", f"{result.n_params} params", result.energy_per_site, result.error,
                   v_score=result.v_score, wall_time=result.wall_time, n_params=result.n_params)
    return row, result.history


def _run_dmrg(H, chis, writer, bar):
    from .mps import dmrg_ground_state

    done = []
    _describe_bar(bar, f"DMRG χ={chis[0]}")

    def on_chi(row):
        done.append(row)
        if writer:
            writer.baseline(
                "dmrg", chi=np.array([r.chi for r in done]),
                energy_per_site=np.array([r.energy_per_site for r in done]),
                truncation_error=np.array([r.truncation_error for r in done]),
                wall_time=np.array([r.wall_time for r in done]), ordering="snake", conserve="Sz",
            )
        _advance(bar)
        if len(done) < len(chis):
            _describe_bar(bar, f"DMRG χ={chis[len(done)]}")

    rows = dmrg_ground_state(H, chis, callback=on_chi)
    return [
        BenchRow(f"dmrg_chi{r.chi}", f"DMRG (trunc. {r.truncation_error:.1e})", "dmrg", f"χ={r.chi}",
                 r.energy_per_site, wall_time=r.wall_time, chi=r.chi, truncation_error=r.truncation_error)
        for r in rows
    ]


def _finalise_reference(ref: Reference, rows, lattice) -> Reference:
    """With neither ED nor a table entry, the lowest variational energy (ours or published) stands in."""
    if ref.energy_per_site is not None:
        return ref
    candidates = [
        (r.energy_per_site, f"DMRG χ={r.chi} (this run)" if r.kind == "dmrg" else f"{r.method}, {r.size} (this run)", "")
        for r in rows if r.kind in ("vmc", "dmrg") and np.isfinite(r.energy_per_site)
    ]
    candidates += [(v["energy_per_site"], v["method"], v["source"]) for v in variational_results(lattice)]
    if not candidates:
        return Reference(None, "none", f"no exact, QMC or variational energy for {lattice.name}")
    energy, label, source = min(candidates, key=lambda c: c[0])
    return Reference(energy, "variational", f"best variational energy: {label}", source)


# -- output -------------------------------------------------------------------------------------


def _fmt(value, spec):
    return "—" if value is None or (isinstance(value, float) and not np.isfinite(value)) else format(value, spec)


def format_table(bench: Bench) -> str:
    """The table as markdown, unit in the header, the reference and its citation under it."""
    lat = bench.lattice
    lines = [
        f"{lat.name} Heisenberg antiferromagnet: energy per site E/N in units of J (H = J Σ S_i·S_j, S = σ/2)",
        "",
        "| method | size (params or χ) | E/N | ± | rel. error vs reference | V-score | wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in bench.rows:
        rel = "reference" if r.kind in ("ed", "table") else _fmt(r.relative_error, ".1e")
        err = "—" if r.kind == "dmrg" else ("0" if r.error == 0 else _fmt(r.error, ".1e"))
        wall = "—" if r.wall_time is None else f"{r.wall_time:.1f} s"
        lines.append(
            f"| {r.method} | {r.size} | {_fmt(r.energy_per_site, '.8f')} | {err} | {rel} | {_fmt(r.v_score, '.1e')} | {wall} |"
        )
    ref = bench.reference
    lines.append("")
    if ref.kind == "ed":
        lines.append(f"reference: {ref.energy_per_site:.8f}, {ref.label} ({ref.source})")
    elif ref.kind == "table":
        lines.append(f"reference: {ref.energy_per_site:.8f}, {ref.label}: {ref.source}")
    elif ref.kind == "variational":
        lines.append(
            f"no exact or QMC reference for {lat.name} (more than the ED limit, not in the table); "
            f"relative errors are against the {ref.label}, {ref.energy_per_site:.8f}"
            + (f" ({ref.source})" if ref.source else "")
        )
    else:
        lines.append(f"reference: none ({ref.label})")
    lines.extend(bench.notes)
    if any(r.kind == "dmrg" for r in bench.rows):
        lines.append("DMRG: TeNPy finite two-site DMRG, snake order, Sz conserved, mixer; wall time includes smaller χ")
    return "\n".join(lines)


def plot_bench(bench: Bench, histories: dict, path) -> str:
    """Energy per site against VMC step for each ansatz, the reference (solid) and each DMRG chi
    (dashed); below, the relative error on a log scale. Written to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref = bench.reference.energy_per_site
    dmrg = [r for r in bench.rows if r.kind == "dmrg"]
    n_panels = 2 if ref is not None else 1
    fig, axes = plt.subplots(n_panels, 1, figsize=(7.0, 2.8 + 2.4 * n_panels), sharex=True, squeeze=False)
    ax = axes[0, 0]
    tails = []
    for label, h in histories.items():
        e, err = np.asarray(h["energy_per_site"]), np.asarray(h["error_per_site"])
        steps = np.arange(len(e))
        ax.plot(steps, e, lw=1, label=label)
        ax.fill_between(steps, e - err, e + err, alpha=0.25, lw=0)
        tails.append(e[len(e) // 10:] if len(e) > 10 else e)
    colours = plt.cm.viridis(np.linspace(0.15, 0.85, max(len(dmrg), 1)))
    for r, c in zip(dmrg, colours):
        ax.axhline(r.energy_per_site, color=c, ls="--", lw=1, label=f"DMRG χ={r.chi} {r.energy_per_site:.5f}")
    if ref is not None:
        ax.axhline(ref, color="k", lw=1, label=f"reference {ref:.6f} ({bench.reference.kind})")
        finite = np.concatenate(tails + [np.array([r.energy_per_site for r in dmrg] + [ref])])
        finite = finite[np.isfinite(finite)]
        top = min(np.max(finite), ref + 0.1 * abs(ref))  # keep the first steps from flattening the rest
        ax.set_ylim(ref - 0.005 * abs(ref), top + 0.005 * abs(ref))
    ax.set_ylabel("E / N  [J, S·S units]")
    ax.set_title(f"{bench.lattice.name} Heisenberg: ansätze vs reference and DMRG")
    ax.legend(loc="upper right", fontsize=7)
    if ref is not None:
        ax2 = axes[1, 0]
        floor = 1e-9  # DMRG at an exact chi sits at rounding level; drawing it there hides the rest
        for label, h in histories.items():
            e = np.asarray(h["energy_per_site"])
            ax2.semilogy(np.arange(len(e)), np.maximum(np.abs(e - ref) / abs(ref), floor), lw=1, label=label)
        for r, c in zip(dmrg, colours):
            rel = abs(r.energy_per_site - ref) / abs(ref)
            if rel > floor:
                ax2.axhline(rel, color=c, ls="--", lw=1)
        ax2.set_ylabel("|E − E_ref| / |E_ref|")
        ax2.grid(True, which="both", alpha=0.3)
    axes[-1, 0].set_xlabel("VMC step")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return os.fspath(path)


class _BenchFile:
    """The benchmark's HDF5 file: nqs.io's layout with several runs and baselines, flushed as it goes."""

    def __init__(self, path, config, hamiltonian, command_line):
        import h5py

        from .io import ENERGY_UNIT, SCHEMA_VERSION, write_system

        self.energy_unit = ENERGY_UNIT
        self.file = h5py.File(os.fspath(path), "w", locking=False)  # readable while running, as nqs.io
        f = self.file
        v = _versions()
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["nqs_version"] = v["nqs"] or "unknown"
        f.attrs["versions"] = _json(v)
        f.attrs["command_line"] = command_line if command_line is not None else " ".join(sys.argv)
        f.attrs["created"] = datetime.now(timezone.utc).isoformat()
        f.attrs["energy_unit"] = ENERGY_UNIT
        f.attrs["config"] = _json(config)
        f.attrs["kind"] = "bench"
        f.attrs["status"] = "running"
        write_system(f, hamiltonian)
        f.flush()

    def start_run(self, name, spec, model, samples, steps, seed, exact):
        from .vmc import HISTORY_COLUMNS

        run = self.file.create_group(f"runs/{name}")
        config = {
            "model": _describe(model), "label": spec.label, "sr": {"diag_shift": spec.diag_shift},
            "learning_rate": spec.learning_rate, "n_chains": spec.n_chains, "n_samples": int(samples),
            "steps": int(steps), "seed": int(seed), "optimizer": "sgd",
        }
        run.attrs.update({"config": _json(config), "label": spec.label, "seed": int(seed), "status": "running",
                          "energy_unit": self.energy_unit})
        if exact is not None:
            run.attrs["exact_energy_per_site"] = exact
        hist = run.create_group("history")
        for c in HISTORY_COLUMNS:
            hist.create_dataset(c, shape=(0,), maxshape=(None,), dtype="f8", chunks=(256,))
        self.file.flush()

    def fail_run(self, name, message):
        run = self.file[f"runs/{name}"]
        run.attrs["status"] = "diverged"
        run.attrs["message"] = message
        self.file.flush()

    def append(self, name, info):
        hist = self.file[f"runs/{name}/history"]
        for c in hist:
            n = hist[c].shape[0] + 1
            hist[c].resize((n,))
            hist[c][n - 1] = info[c]
        self.file.flush()

    def finish_run(self, name, result):
        import h5py

        from .io import _write_tree

        run = self.file[f"runs/{name}"]
        # the driver drops the rows of steps it reverted after a divergence; its history is the record
        hist = run["history"]
        for c in hist:
            values = np.asarray(result.history[c], dtype=np.float64)
            hist[c].resize((len(values),))
            hist[c][...] = values
        if result.events:
            run.create_dataset("events", data=np.array([_json(e) for e in result.events], dtype=object),
                               maxshape=(None,), dtype=h5py.string_dtype())
        _write_tree(run.create_group("params"), result.params)
        for k in ("energy_per_site", "error", "variance", "v_score", "wall_time"):
            run.attrs[k] = float(getattr(result, k))
        run.attrs["n_params"] = int(result.n_params)
        run.attrs["n_samples"] = int(result.n_samples)
        if result.relative_error is not None:
            run.attrs["relative_error"] = float(result.relative_error)
        run.attrs["status"] = "finished"
        self.file.flush()

    def baseline(self, name, **attrs):
        g = self.file.require_group(f"baselines/{name}")
        for k, v in attrs.items():
            if k in g.attrs:
                del g.attrs[k]  # the DMRG arrays grow by one entry per chi
            g.attrs[k] = v
        g.attrs["energy_unit"] = self.energy_unit
        self.file.flush()

    def finish(self, rows, ref: Reference):
        import h5py

        g = self.file.require_group("bench")
        g.attrs.update({"reference_kind": ref.kind, "reference_label": ref.label, "reference_source": ref.source,
                        "energy_unit": self.energy_unit})
        if ref.energy_per_site is not None:
            g.attrs["reference_energy_per_site"] = ref.energy_per_site
        for r in rows:
            if r.kind == "vmc" and r.relative_error is not None:
                self.file[f"runs/{r.name}"].attrs["relative_error"] = r.relative_error
        table = g.require_group("rows")
        strings = h5py.string_dtype()
        for c in ROW_COLUMNS:
            values = [getattr(r, c) for r in rows]
            if c in ("name", "method", "kind", "size"):
                data = np.array(values, dtype=object)
                table.create_dataset(c, data=data, dtype=strings)
            elif c in ("n_params", "chi"):
                table.create_dataset(c, data=np.array([-1 if v is None else v for v in values], dtype=np.int64))
            else:
                table.create_dataset(c, data=np.array([np.nan if v is None else v for v in values], dtype=np.float64))
        self.file.attrs["status"] = "finished"
        self.file.flush()

    def close(self):
        if self.file is not None:
            self.file.close()
            self.file = None


def read_rows(path) -> list[dict]:
    """The table of a bench file, one dict per row (None where a column does not apply)."""
    import h5py

    from .io import NQSFileError, load

    load(path)  # the same checks (exists, HDF5, nqs, schema) and errors as every nqs file
    with h5py.File(os.fspath(path), "r") as f:
        if "bench/rows" not in f:
            raise NQSFileError(f"{path} has no benchmark table (not written by nqs bench, or the run did not finish)")
        table = f["bench/rows"]
        columns = {}
        for c in ROW_COLUMNS:
            ds = table[c]
            columns[c] = list(ds.asstr()[()]) if h5py.check_string_dtype(ds.dtype) else ds[()].tolist()
    n = len(columns["name"])
    out = []
    for i in range(n):
        row = {}
        for c in ROW_COLUMNS:
            v = columns[c][i]
            if (c in ("n_params", "chi") and v == -1) or (isinstance(v, float) and np.isnan(v)):
                v = None
            row[c] = v
        out.append(row)
    return out


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    from .io import versions

    v = versions()
    try:
        v["physics-tenpy"] = version("physics-tenpy")
    except PackageNotFoundError:
        v["physics-tenpy"] = None
    return v


def _json(obj) -> str:
    return json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o), sort_keys=True)


def _describe(model) -> dict:
    from .vmc import _describe as describe

    return describe(model)


def _progress(total, enabled):
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="bench", unit="method", dynamic_ncols=True)


def _describe_bar(bar, text):
    if bar is not None:
        bar.set_description_str(text)
        bar.set_postfix_str("")


def _advance(bar):
    if bar is not None:
        bar.update(1)


# -- command line -------------------------------------------------------------------------------


def add_parser(subparsers):
    """Register ``nqs bench`` on the ``nqs`` command's subparsers; returns the new parser."""
    from .cli import _positive_int

    p = subparsers.add_parser(
        "bench", help="compare every ansatz with exact diagonalisation, DMRG and published energies",
        description="Benchmark the ansätze against ED (or the reference table) and DMRG on one lattice; "
                    "prints a table and writes an HDF5 file and a PNG.",
    )
    p.add_argument("--lattice", default="4x4", help="Lx x Ly, e.g. 4x4 (default), 6x6")
    p.add_argument("--open", action="store_true", help="open instead of periodic boundaries")
    p.add_argument("--no-marshall", action="store_true", help="do not apply the Marshall sign rule in the VMC")
    p.add_argument("--models", default="all",
                   help=f"comma-separated ansätze ({', '.join(MODELS)}), all (default) or none")
    p.add_argument("--chi", default=",".join(map(str, DEFAULT_CHI)),
                   help="DMRG bond dimensions, e.g. 64,128,256 (default), or none to skip DMRG")
    p.add_argument("--steps", type=_positive_int, default=300, help="VMC steps per ansatz (default 300)")
    p.add_argument("--samples", type=_positive_int, default=1024, help="samples per step (default 1024)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reference", choices=REFERENCE_MODES, default="auto",
                   help=f"auto (ED up to {MAX_ED_SITES} sites, else the table), ed, or table")
    p.add_argument("--out", default="bench.h5", help="HDF5 output (default bench.h5); the PNG goes beside it")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(args) -> int:
    """Run ``nqs bench`` from parsed arguments: print the table, write the HDF5 file and PNG."""
    chis = parse_chi(args.chi)
    if chis:
        from .mps import require_tenpy

        try:
            require_tenpy()
        except ImportError as exc:
            raise ValueError(str(exc)) from None
    bench = run_bench(
        args.lattice, args.models, chis, steps=args.steps, samples=args.samples, seed=args.seed, out=args.out,
        force=args.force, progress=not args.no_progress, reference=args.reference, pbc=not args.open,
        marshall_sign=not args.no_marshall, command_line="nqs " + " ".join(sys.argv[1:]),
    )
    print(bench.table())
    print(f"wrote {bench.path} and {bench.png}")
    return 0
