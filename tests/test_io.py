"""HDF5 output of a run and the reader."""

import h5py
import numpy as np
import pytest

import nqs
from conftest import SHORT_RUN_STEPS, short_run_4x4


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """The file's layout is under test here, not the physics (the converged run of conftest's
    ``ground_state_4x4`` stays with the VMC tests, on their worker)."""
    out = tmp_path_factory.mktemp("io") / "run.h5"
    return short_run_4x4(out), out


def test_run_file_holds_history_params_config_and_versions(short_run):
    result, path = short_run
    with h5py.File(path, "r") as f:
        assert f.attrs["schema_version"] == 1
        assert "S_i.S_j" in f.attrs["energy_unit"]
        assert "jax" in f.attrs["versions"]
        run = f["runs/main"]
        assert run.attrs["status"] == "finished"
        assert run["history/energy_per_site"].shape == (SHORT_RUN_STEPS,)
        np.testing.assert_allclose(run["history/energy_per_site"][()], result.history["energy_per_site"])
        assert run.attrs["energy_per_site"] == pytest.approx(result.energy_per_site)
        assert f["system"].attrs["n_sites"] == 16
    data = nqs.load(path)
    rec = data.runs["main"]
    assert rec.finished
    assert rec.config["lattice"] == {"Lx": 4, "Ly": 4, "pbc": True}
    np.testing.assert_allclose(rec.params["W"], result.params["W"])
    assert set(rec.history) >= {"energy_per_site", "error_per_site", "variance", "acceptance", "step_time"}
    assert data.baselines["ed"]["energy_per_site"] == pytest.approx(-0.70178020)


def test_existing_file_is_not_overwritten(tmp_path):
    path = tmp_path / "keep.h5"
    path.write_bytes(b"precious")
    H = nqs.Heisenberg(nqs.Square(4, 2))
    with pytest.raises(FileExistsError, match="already exists"):
        nqs.ground_state(H, nqs.RBM(alpha=1), n_samples=32, steps=2, out=str(path), progress=False)
    assert path.read_bytes() == b"precious"


def test_reader_refuses_foreign_and_truncated_files(tmp_path, short_run):
    _, good = short_run
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(nqs.NQSFileError):
        nqs.load(junk)
    cut = tmp_path / "cut.h5"
    cut.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(nqs.NQSFileError):
        nqs.load(cut)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    with pytest.raises(nqs.NQSFileError, match="not written by nqs"):
        nqs.load(foreign)


@pytest.mark.parametrize("model", [
    nqs.RBM(alpha=2), nqs.RBMSymm(nqs.Square(4, 4), alpha=2, symmetries="space_group"),
    nqs.DBM(alpha_hidden=1, alpha_deep=0.25), nqs.FFNN(alpha=1, activation="tanh"),
    nqs.FFNNSymm(nqs.Square(4, 4), alpha=3, activation="logcosh", dtype="float64", symmetries="space_group"),
    nqs.DeepFFNN(widths=(2, 1)),
], ids=lambda m: type(m).__name__)
def test_every_ansatz_is_rebuilt_from_its_stored_description(model):
    """What a run file stores about the ansatz (JSON, the lattice by name) rebuilds the same ansatz."""
    import json

    from nqs.models import model_from_config
    from nqs.vmc import _describe

    stored = json.loads(json.dumps(_describe(model)))
    assert model_from_config(stored, nqs.Square(4, 4)) == model
