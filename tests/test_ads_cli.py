"""``nqs ads``: real (short) runs write readable HDF5 files and figures; bad input is one line, code 2."""

import subprocess
import sys

import pytest

import nqs
from nqs.ads.cli import run


def test_schwarzschild_writes_results_readable_by_nqs_load(tmp_path, capsys):
    out = tmp_path / "bh.h5"
    assert run(["ads", "schwarzschild", "--epochs", "3", "--seeds", "2", "--no-progress", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "3coth(3η)" in text and "held-out" in text and "max" in text
    data = nqs.load(out)
    assert data.attrs["experiment"] == "schwarzschild" and data.attrs["data_seed"] == 0
    assert sorted(data.runs) == ["seed_0", "seed_1"]
    run0 = data.runs["seed_0"]
    assert run0.finished and len(run0.history["loss"]) == 3 and run0.params["h"].shape == (10,)
    assert 0 <= run0.attrs["test_accuracy"] <= 1
    assert (tmp_path / "bh_metric.png").stat().st_size > 1000


def test_qcd_ensemble_writes_every_seed_and_the_screening(tmp_path, capsys):
    out = tmp_path / "qcd.h5"
    args = ["ads", "qcd", "--epochs", "2", "--seeds", "2", "--screen", "1", "--no-progress", "--out", str(out)]
    assert run(args) == 0
    text = capsys.readouterr().out
    assert "1/L" in text and "HSTT2: 237(3) MeV" in text
    data = nqs.load(out)
    assert data.attrs["experiment"] == "qcd" and len(data.runs) == 2
    for r in data.runs.values():
        assert set(r.params) == {"h", "L", "lam"} and len(r.history["loss"]) == 2
        assert r.attrs["inv_L_MeV"] == pytest.approx(1000 / r.params["L"])
    import h5py

    with h5py.File(out, "r") as f:
        assert f["screen/candidates"].shape == (2,) and "1809.10536" in f["data/lattice"].attrs["source"]
        assert f["data/train/x"].shape == (20000, 2)
    assert (tmp_path / "qcd_metric.png").exists() and (tmp_path / "qcd_data.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [(["ads", "qcd", "--seeds", "0"], "--seeds must be > 0"),
     (["ads", "schwarzschild", "--epochs", "-1"], "--epochs must be > 0")],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, args, message):
    assert run([*args, "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.h5").exists()


def test_an_existing_output_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "ads_qcd.h5"
    out.write_bytes(b"an earlier run")
    assert run(["ads", "qcd", "--epochs", "1", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == b"an earlier run"


def test_module_entry_point_exits_2_on_argparse_errors(tmp_path):
    p = subprocess.run([sys.executable, "-m", "nqs.ads.cli", "ads", "qcd", "--screen", "-1"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "--screen" in p.stderr
