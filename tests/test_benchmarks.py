"""The GPU benchmark (benchmarks/gpu.sh runs benchmarks/gpu_bench.py) checked on a CPU: its dry run
on one tiny row times nqs and NetKet through the same functions as the full run and prints the
table, so a change to either side's API breaks this test, not the one run on a lent GPU."""

import os

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture
def gpu_bench(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    import gpu_bench

    return gpu_bench


@pytest.mark.filterwarnings("ignore::netket.errors.InsufficientSamplesForSRWarning")  # NetKet's advice for 64 samples of 288 parameters
def test_gpu_benchmark_dry_run_times_both_codes_and_prints_the_table(gpu_bench, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(gpu_bench, "DRY", gpu_bench.DRY[:1])  # the 4x4 RBM, 64 samples on 16 chains
    out = tmp_path / "table.md"
    gpu_bench.main(["--dry-run", "--steps", "1", "--no-float32", "--out", str(out)])
    printed = capsys.readouterr().out
    row = printed.strip().splitlines()[-1]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:4] == ["RBM alpha=1", "4x4", "64", "16"], row
    netket_ms, nqs_ms, ratio = float(cells[4]), float(cells[5]), cells[6]
    assert netket_ms > 0 and nqs_ms > 0, row
    # the ratio of the unrounded times, against that of the printed ones (each to 0.05 ms)
    assert ratio.endswith("x") and float(ratio[:-1]) == pytest.approx(netket_ms / nqs_ms, rel=0.1, abs=0.05), row
    assert cells[7] == "—"  # no float32 column asked for
    assert out.read_text().strip().splitlines()[-1] == row  # the table written after every row


def test_gpu_benchmark_skips_rows_past_its_budget(gpu_bench, capsys):
    gpu_bench.main(["--dry-run", "--budget", "0"])
    printed = capsys.readouterr().out
    assert printed.count("skipped (budget of 0 s spent)") == len(gpu_bench.DRY)
    assert printed.strip().splitlines()[-1].startswith("|---")  # the table's header, no rows
