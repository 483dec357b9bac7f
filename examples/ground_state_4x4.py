"""Ground state of the 4x4 periodic Heisenberg antiferromagnet with the Carleo–Troyer RBM.

    python examples/ground_state_4x4.py            # writes run_4x4.h5 and ground_state_4x4.png

Energies are per site in units of J with S = sigma/2 (NetKet's Heisenberg reports 4x these).
"""

import os

# nqs alone in this process: its sampling loops compiled whole, as `nqs run` has them (nqs/_xla.py)
os.environ.setdefault("NQS_XLA_TUNING", "1")

import nqs  # noqa: E402
from nqs.plot import plot_convergence  # noqa: E402

H = nqs.Heisenberg(nqs.Square(4, 4, pbc=True))  # J = 1, Marshall sign rule on
exact = nqs.ground_state_energy(H)  # -0.70178020 (Lanczos in the Sz = 0 sector)

out = "run_4x4.h5"
result = nqs.ground_state(
    H, nqs.RBM(alpha=1), n_samples=1024, steps=300, seed=0, learning_rate=0.05,
    sr=nqs.SR(diag_shift=1e-3), out=out, force=os.path.exists(out), exact=exact,
)
print(f"E/N = {result.energy_per_site:.6f} ± {result.error:.6f}, exact {exact:.8f}, "
      f"relative error {result.relative_error:.2e}, V-score {result.v_score:.1e}")
print("history columns:", ", ".join(result.history))
plot_convergence(result.history, "ground_state_4x4.png", exact=exact, title="4x4 Heisenberg, RBM alpha=1")
print("wrote", out, "and ground_state_4x4.png")
