"""HDF5 results: one file per run, written as the run goes, read back as plain NumPy objects.

Layout (``schema_version`` 1; energies per site in units of J with S = sigma/2):

    /                      attrs: schema_version, nqs_version, versions (JSON), command_line,
                           created, energy_unit, config (JSON of the last run written)
    /system                attrs: lattice, Lx, Ly, pbc, J, marshall_sign, n_sites; datasets bonds,
                           sublattice
    /runs/<name>/          attrs: config (JSON), seed, n_params, n_samples, status
                           ("running" | "finished"), final energy_per_site, error, variance,
                           v_score, wall_time, exact_energy_per_site (when known)
    /runs/<name>/history/  one extendible dataset per column (energy_per_site, error_per_site,
                           variance, v_score, tau, rhat, acceptance, step_time), one row per
                           step, flushed every step
    /runs/<name>/params/   the final parameters, one dataset per leaf of the pytree
    /runs/<name>/checkpoint/slot0, slot1
                           attrs: step, diag_shift, lr_scale, failures, complete; datasets
                           leaf_000 ... : every leaf of the VMCState pytree (parameters, optimizer
                           state, chains' configurations, RNG key, step), written every
                           ``checkpoint_every`` steps into the older slot, in place
    /runs/<name>/events    JSON lines: divergences and what the driver did about them
    /baselines/ed          attrs: energy_per_site (when an exact energy is known, N <= MAX_ED_SITES)
    /baselines/reference   the same for a larger lattice (the reference energy the run compared with)

A run that is killed leaves every completed step readable; ``status`` stays "running". The full
description is in docs/hdf5.md.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone

import h5py
import numpy as np

from .exact import MAX_ED_SITES

SCHEMA_VERSION = 1
ENERGY_UNIT = "J per site, H = J sum_<ij> S_i.S_j with S = sigma/2 (NetKet's Heisenberg reports 4x)"


class NQSFileError(ValueError):
    """A file that is not a readable nqs result (missing, truncated, foreign or another schema)."""


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in ("nqs", "jax", "jaxlib", "optax", "numpy", "scipy", "h5py", "netket"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    out["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "")  # with nqs's own setting where it applies (nqs/_xla.py)
    return out


def _json(obj) -> str:
    return json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o), sort_keys=True)


def check_output(path, force: bool) -> str:
    """Refuse to overwrite an existing file without ``force``; the directory must exist and be writable."""
    path = os.fspath(path)
    if os.path.exists(path) and not force:
        raise FileExistsError(f"{path} already exists; pass --force to overwrite it or --out for another file")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"cannot write {path}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise ValueError(f"cannot write {path}: the directory {directory} is not writable")
    return path


class RunWriteError(OSError):
    """Writing the result file failed (disk full, file too large, device gone)."""


def _guarded(method):
    """Turn HDF5's failures to write (RuntimeError or OSError from h5py) into RunWriteError, once."""
    import functools

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self.broken:
            raise RunWriteError(f"{self.path} can no longer be written")
        try:
            return method(self, *args, **kwargs)
        except (OSError, RuntimeError) as exc:
            self.broken = True
            raise RunWriteError(str(exc).splitlines()[0]) from None

    return wrapper


class RunWriter:
    """Writes one run into an HDF5 file: refuses to overwrite, appends and flushes history every step."""

    broken = False
    reserve_bytes = 256 * 1024  # free space below which the run stops before writing

    def __init__(self, path, *, force: bool, config: dict, hamiltonian, name: str = "main", command_line=None):
        self.path = check_output(path, force)
        self.name = name
        self.config = config
        self.hamiltonian = hamiltonian
        self.command_line = command_line if command_line is not None else " ".join(sys.argv)
        self.file = None
        self.rows = 0

    @classmethod
    def reopen(cls, path, *, name: str, n_rows: int, steps: int):
        """Open an existing run to continue it: history cut to ``n_rows`` rows, status running."""
        self = cls.__new__(cls)
        self.path, self.name, self.rows = os.fspath(path), name, n_rows
        self._check_space()
        self.file = h5py.File(self.path, "r+", locking=False)
        run = self.file[f"runs/{name}"]
        config = json.loads(run.attrs["config"])
        config["steps"] = steps
        run.attrs["config"] = _json(config)
        run.attrs["status"] = "running"
        if "params" in run:
            del run["params"]
        self.truncate(n_rows)
        return self

    @_guarded
    def start(self, n_params: int, exact: float | None = None):
        # room for two checkpoint slots and some history, besides the fixed reserve
        self.reserve_bytes = RunWriter.reserve_bytes + 2 * 32 * n_params
        self._check_space()
        self.file = h5py.File(self.path, "w", locking=False)
        f = self.file
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["nqs_version"] = versions()["nqs"] or "unknown"
        f.attrs["versions"] = _json(versions())
        f.attrs["command_line"] = self.command_line
        f.attrs["created"] = datetime.now(timezone.utc).isoformat()
        f.attrs["energy_unit"] = ENERGY_UNIT
        f.attrs["config"] = _json(self.config)
        write_system(f, self.hamiltonian)
        run = f.create_group(f"runs/{self.name}")
        run.attrs["config"] = _json(self.config)
        run.attrs["seed"] = self.config.get("seed", -1)
        run.attrs["n_params"] = n_params
        run.attrs["n_samples"] = self.config.get("n_samples", -1)
        run.attrs["status"] = "running"
        run.attrs["energy_unit"] = ENERGY_UNIT
        if exact is not None:
            run.attrs["exact_energy_per_site"] = exact
            # beyond ED's reach the given energy is a reference (QMC from the table), not an ED result
            kind = "ed" if self.hamiltonian.n_sites <= MAX_ED_SITES else "reference"
            baseline = f.require_group(f"baselines/{kind}")
            baseline.attrs["energy_per_site"] = exact
            baseline.attrs["energy_unit"] = ENERGY_UNIT
        hist = run.create_group("history")
        from .vmc import HISTORY_COLUMNS

        for c in HISTORY_COLUMNS:
            hist.create_dataset(c, shape=(0,), maxshape=(None,), dtype="f8", chunks=(256,))
        f.flush()

    def _check_space(self):
        """Stop cleanly while the disk still has room: a write that fails half-way can leave an HDF5
        file that no longer opens, so the run stops when free space falls below a reserve."""
        import shutil

        free = shutil.disk_usage(os.path.dirname(os.path.abspath(self.path))).free
        if free < self.reserve_bytes:
            self.broken = True
            raise RunWriteError(f"the disk is nearly full ({free // 1024} KiB free, {self.reserve_bytes // 1024} KiB "
                                "kept in reserve)")

    @_guarded
    def append(self, info: dict):
        self._check_space()
        hist = self.file[f"runs/{self.name}/history"]
        n = self.rows + 1
        for c in hist:
            hist[c].resize((n,))
            hist[c][n - 1] = info[c]
        self.rows = n
        self.file.flush()

    @_guarded
    def truncate(self, n: int):
        """Keep the first n history rows (after a divergence step-back, or on resume)."""
        hist = self.file[f"runs/{self.name}/history"]
        for c in hist:
            hist[c].resize((min(n, hist[c].shape[0]),))
        self.rows = n
        self.file.flush()

    @_guarded
    def checkpoint(self, state, recovery):
        """Write the whole VMCState into the older of two checkpoint slots, in place.

        The slot is marked incomplete, overwritten, flushed and marked complete, so a kill at any
        moment leaves the other slot intact; writing in place keeps the file from growing.
        """
        import jax

        ckpt = self.file.require_group(f"runs/{self.name}/checkpoint")
        slots = [ckpt.require_group(f"slot{i}") for i in (0, 1)]
        steps = [g.attrs.get("step", -1) if g.attrs.get("complete", False) else -1 for g in slots]
        g = slots[0] if steps[0] <= steps[1] else slots[1]
        g.attrs["complete"] = False
        self.file.flush()
        for i, leaf in enumerate(jax.tree_util.tree_leaves(jax.device_get(state))):
            leaf = np.asarray(leaf)
            key = f"leaf_{i:03d}"
            if key in g and g[key].shape == leaf.shape and g[key].dtype == leaf.dtype:
                g[key][...] = leaf
            else:
                if key in g:
                    del g[key]
                g.create_dataset(key, data=leaf)
        g.attrs.update({"step": int(state.step), "diag_shift": recovery.diag_shift, "lr_scale": recovery.lr_scale,
                        "failures": recovery.failures})
        self.file.flush()
        g.attrs["complete"] = True
        self.file.flush()

    @_guarded
    def event(self, event: dict):
        run = self.file[f"runs/{self.name}"]
        if "events" not in run:
            run.create_dataset("events", shape=(0,), maxshape=(None,), dtype=h5py.string_dtype())
        ds = run["events"]
        ds.resize((ds.shape[0] + 1,))
        ds[-1] = _json(event)
        self.file.flush()

    @_guarded
    def finish(self, result):
        run = self.file[f"runs/{self.name}"]
        params = run.create_group("params")
        _write_tree(params, result.params)
        for k in ("energy_per_site", "error", "variance", "v_score", "wall_time"):
            run.attrs[k] = float(getattr(result, k))
        run.attrs["status"] = "finished"
        self.file.flush()

    def close(self):
        if self.file is not None:
            try:
                self.file.close()
            except (OSError, RuntimeError):
                if not self.broken:
                    raise
            self.file = None


def write_system(f, hamiltonian):
    lat = hamiltonian.lattice
    g = f.require_group("system")
    g.attrs.update(
        {"lattice": lat.name, "Lx": lat.Lx, "Ly": lat.Ly, "pbc": lat.pbc, "n_sites": lat.n_sites,
         "J": hamiltonian.J, "marshall_sign": hamiltonian.marshall_sign, "model": "heisenberg"}
    )
    for key, value in (("bonds", lat.bonds), ("sublattice", lat.sublattice)):
        if key in g:
            del g[key]
        g.create_dataset(key, data=value)


def _write_tree(group, tree):
    if isinstance(tree, dict):
        for k, v in tree.items():
            if isinstance(v, dict):
                _write_tree(group.create_group(k), v)
            else:
                group.create_dataset(k, data=np.asarray(v))
    else:
        group.create_dataset("value", data=np.asarray(tree))


def _read_tree(group) -> dict:
    return {k: (_read_tree(v) if isinstance(v, h5py.Group) else v[()]) for k, v in group.items()}


@dataclass
class RunRecord:
    """One run read back from a file: config, history columns, final values and parameters."""

    name: str
    config: dict
    history: dict
    attrs: dict
    params: dict | None = None
    checkpoint_step: int | None = None
    events: list = field(default_factory=list)

    @property
    def energy_per_site(self):
        return self.attrs.get("energy_per_site")

    @property
    def error(self):
        return self.attrs.get("error")

    @property
    def finished(self) -> bool:
        return self.attrs.get("status") == "finished"


@dataclass
class Results:
    """A whole nqs HDF5 file as plain Python/NumPy objects."""

    path: str
    attrs: dict
    system: dict
    runs: dict = field(default_factory=dict)
    baselines: dict = field(default_factory=dict)


def _attrs(obj) -> dict:
    out = {}
    for k, v in obj.attrs.items():
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def load(path) -> Results:
    """Read an nqs HDF5 file (finished, running or killed) into plain objects.

    Raises:
        NQSFileError: the file is missing, not HDF5, not written by nqs, or of another schema.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise NQSFileError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r", locking=False)  # readable while a run is still writing it
    except Exception as exc:  # h5py raises OSError and others on truncated or foreign bytes
        raise NQSFileError(f"{path} is not a readable HDF5 file ({type(exc).__name__}: {exc})") from None
    try:
        with f:
            attrs = _attrs(f)
            if "schema_version" not in attrs:
                raise NQSFileError(f"{path} is an HDF5 file but was not written by nqs (no schema_version)")
            if attrs["schema_version"] != SCHEMA_VERSION:
                raise NQSFileError(
                    f"{path} has schema version {attrs['schema_version']}, this nqs reads version {SCHEMA_VERSION}"
                )
            system = _attrs(f["system"]) if "system" in f else {}
            if "system" in f:
                system.update({k: v[()] for k, v in f["system"].items()})
            runs = {}
            for name, g in f.get("runs", {}).items():
                hist = g.get("history")
                history = {c: hist[c][()] for c in hist} if hist is not None else {}
                if history:
                    n = min(len(v) for v in history.values())  # a row is complete when every column has it
                    history = {c: v[:n] for c, v in history.items()}
                ra = _attrs(g)
                runs[name] = RunRecord(
                    name=name, config=json.loads(ra.get("config", "{}")), history=history, attrs=ra,
                    params=_read_tree(g["params"]) if "params" in g else None,
                    checkpoint_step=_latest_slot(g)[1],
                    events=[json.loads(e) for e in g["events"].asstr()[()]] if "events" in g else [],
                )
            baselines = {k: _attrs(v) for k, v in f.get("baselines", {}).items()}
            return Results(path=path, attrs=attrs, system=system, runs=runs, baselines=baselines)
    except NQSFileError:
        raise
    except Exception as exc:
        raise NQSFileError(f"{path} is damaged or incomplete ({type(exc).__name__}: {exc})") from None


def _latest_slot(run_group):
    """(slot group, step) of the newest complete checkpoint of a run, or (None, None)."""
    best, best_step = None, None
    for g in run_group.get("checkpoint", {}).values():
        if g.attrs.get("complete", False) and (best_step is None or g.attrs["step"] > best_step):
            best, best_step = g, int(g.attrs["step"])
    return best, best_step


def read_checkpoint(path, name: str = "main") -> dict:
    """The last checkpoint of ``runs/<name>`` with what resuming needs (config, history, events).

    Raises:
        NQSFileError: not an nqs file, another schema, no such run, or no complete checkpoint.
    """
    results = load(path)  # validates the file and its schema
    if name not in results.runs:
        raise NQSFileError(f"{path} has no run named {name!r} (runs: {', '.join(results.runs) or 'none'})")
    rec = results.runs[name]
    try:
        with h5py.File(path, "r", locking=False) as f:
            c, _ = _latest_slot(f[f"runs/{name}"])
            if c is None:
                raise NQSFileError(f"{path}: run {name!r} has no complete checkpoint to resume from")
            leaves = [c[k][()] for k in sorted(c)]
            recovery = {k: (float(c.attrs[k]) if k != "failures" else int(c.attrs[k]))
                        for k in ("diag_shift", "lr_scale", "failures")}
    except NQSFileError:
        raise
    except Exception as exc:
        raise NQSFileError(f"{path}: the checkpoint is damaged ({type(exc).__name__}: {exc})") from None
    return {"config": rec.config, "leaves": leaves, "recovery": recovery, "history": rec.history,
            "events": rec.events, "exact": rec.attrs.get("exact_energy_per_site")}
