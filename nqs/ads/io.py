"""HDF5 results of the holographic experiments, in the nqs file conventions (schema version 1).

One file per experiment; ``nqs.load(path)`` reads it (each seed is a run). Layout:

    /                        attrs: schema_version, nqs_version, versions (JSON), command_line, created,
                             experiment ("schwarzschild" | "qcd"), data_seed, units, config (JSON:
                             network, recipe, screening, seeds)
    /network                 attrs: the Network fields; dataset etas (where each layer reads h_n)
    /data/train/x, y         training inputs (φ, π) or (m_q [GeV], ⟨q̄q⟩ [GeV³]) and labels (0 = positive)
    /data/test/x, y          held-out points (experiment 1)
    /data/lattice/...        QCD: m_q, condensate, cubic fit coefficients (low order first); attr source
    /screen                  QCD: candidates, data_loss, kept; attrs epochs, learning_rate
    /runs/seed_<s>/          attrs: seed, status ("running" | "finished"), config, and when finished
                             the per-seed results (accuracy, loss, 1/L in MeV, λ, ...)
    /runs/seed_<s>/history/loss    mean training loss per epoch, appended and flushed per chunk
    /runs/seed_<s>/params/   h, and for QCD L [GeV⁻¹] and lam
    /summary                 attrs: ensemble results; datasets per experiment (e.g. h_true, the
                             potential r_fm, V_fm)

A killed run leaves every completed chunk of the history readable.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone

import h5py
import numpy as np

from ..io import SCHEMA_VERSION, _json, check_output, versions  # noqa: F401 (check_output: re-exported for ads)




class ResultsWriter:
    """Writes one experiment: static parts at the start, history as training goes, results at the end."""

    def __init__(self, path, *, force: bool, experiment: str, config: dict, data_seed: int, units: dict,
                 command_line: str | None = None):
        self.path = check_output(path, force)
        self.file = h5py.File(self.path, "w")
        f = self.file
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["nqs_version"] = versions()["nqs"] or "unknown"
        f.attrs["versions"] = _json(versions())
        f.attrs["command_line"] = command_line if command_line is not None else " ".join(sys.argv)
        f.attrs["created"] = datetime.now(timezone.utc).isoformat()
        f.attrs["experiment"] = experiment
        f.attrs["data_seed"] = int(data_seed)
        f.attrs["units"] = _json(units)
        f.attrs["config"] = _json(config)
        self.config = config
        f.flush()

    def network(self, net):
        g = self.file.require_group("network")
        g.attrs.update({k: v for k, v in net._asdict().items()})
        g.create_dataset("etas", data=net.etas)
        self.file.flush()

    def arrays(self, group: str, attrs: dict | None = None, **arrays):
        g = self.file.require_group(group)
        for k, v in arrays.items():
            g.create_dataset(k, data=np.asarray(v))
        if attrs:
            g.attrs.update({k: (_json(v) if isinstance(v, (dict, list)) else v) for k, v in attrs.items()})
        self.file.flush()

    def start_runs(self, seeds):
        """One group per seed with an empty, extendible loss history."""
        self.seeds = [int(s) for s in seeds]
        for s in self.seeds:
            run = self.file.create_group(f"runs/seed_{s}")
            run.attrs.update({"seed": s, "status": "running", "config": _json(self.config)})
            run.create_group("history").create_dataset("loss", shape=(0,), maxshape=(None,), dtype="f8",
                                                       chunks=(1024,))
        self.file.flush()

    def append_history(self, first_epoch: int, losses):
        """Callback for ``train``: losses of shape (n_seeds, epochs_in_chunk)."""
        losses = np.asarray(losses)
        for s, row in zip(self.seeds, losses):
            d = self.file[f"runs/seed_{s}/history/loss"]
            d.resize((first_epoch + len(row),))
            d[first_epoch:] = row
        self.file.flush()

    def finish_runs(self, params: dict, per_seed: list[dict]):
        """Final parameters (leading axis = seed) and per-seed results; marks the runs finished."""
        for i, s in enumerate(self.seeds):
            run = self.file[f"runs/seed_{s}"]
            g = run.create_group("params")
            for k, v in params.items():
                g.create_dataset(k, data=np.asarray(v)[i])
            run.attrs.update(per_seed[i])
            run.attrs["status"] = "finished"
        self.file.flush()

    def close(self):
        if self.file is not None:
            self.file.close()
            self.file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
