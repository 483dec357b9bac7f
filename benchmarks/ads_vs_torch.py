"""Seconds per epoch of the holographic QCD network (HSTT2), PyTorch against nqs.ads, same machine.

Both sides train the same network with the same recipe: 15 Euler layers of the scalar's radial
equation from η = 1 to 1/15, inputs (m_q, ⟨q̄q⟩) mapped through the near-boundary solution
(α = L√3/(2π) m_q, β = L³π/√3 ⟨q̄q⟩), output t(F = π(η_fin)), loss (mean |t − y|)² + 0.01(4 − h_1)²
+ Σ 0.01 η_n⁴ (h_{n+1} − h_n)², Adam (lr 10⁻³), minibatches of 100 from a fresh shuffle of the
20000 points each epoch, i.e. 200 Adam steps per epoch; h_n ~ N(4, 3²), λ = 0.2, L = 0.8 GeV⁻¹.

The PyTorch side is written here from the papers' description (not the authors' code): eager
mode, one parameter vector for h, ``torch.randperm`` for the shuffle, ``torch.optim.Adam``,
float32 as in the authors' code (``--torch-dtype float64`` to match nqs). Before timing, both
networks are evaluated on the same parameters and batch in float64: the losses and gradients must
agree to round-off, so the speed does not come from computing something else.

nqs runs each epoch as a compiled ``lax.scan`` over the 200 steps (and chunks of epochs as one
call), and the ensemble of seeds under ``vmap``. Reported: the median seconds per epoch of one
seed on each side, the speed-up, and the wall time of the whole 10-seed, 5000-epoch ensemble
(screening stage included, as ``nqs ads qcd --seeds 10`` runs it).

    pip install -e ".[torch]"                       # PyTorch is an optional extra
    python benchmarks/ads_vs_torch.py               # full: a few torch epochs, the real 10 x 5000 ensemble (3-5 min)
    python benchmarks/ads_vs_torch.py --quick       # < 1 minute: 1 torch epoch, ensemble extrapolated from 20 epochs
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import nqs  # noqa: F401  (float64 on, BLAS threads) before jax and torch
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from nqs.ads import experiments as ex  # noqa: E402
from nqs.ads import network as nw  # noqa: E402
from nqs.ads import train as tr  # noqa: E402
from nqs.ads.data import qcd_data  # noqa: E402


class TorchHolographicQCD:
    """The QCD network and recipe in PyTorch (eager). Parameters: h (15,), lam, L [GeV⁻¹]."""

    def __init__(self, net: nw.Network, seed: int, dtype, h=None, lam=0.2, L=0.8):
        import torch

        self.torch, self.net, self.dtype = torch, net, dtype
        gen = torch.Generator().manual_seed(seed)
        h0 = torch.randn(net.n_layers, generator=gen, dtype=torch.float64) * 3.0 + 4.0 if h is None else torch.as_tensor(h)
        self.h = torch.nn.Parameter(h0.to(dtype))
        self.lam = torch.nn.Parameter(torch.tensor(lam, dtype=dtype))
        self.L = torch.nn.Parameter(torch.tensor(L, dtype=dtype))
        self.etas = torch.as_tensor(net.etas[:-1], dtype=dtype)
        self.opt = torch.optim.Adam([self.h, self.lam, self.L], lr=1e-3)
        self.gen = gen

    def loss(self, m_q, cond, y):
        torch, net = self.torch, self.net
        a = self.L * (np.sqrt(3) / (2 * np.pi)) * m_q
        b = self.L**3 * (np.pi / np.sqrt(3)) * cond
        e1, e3, eta = np.exp(-net.eta_ini), np.exp(-3 * net.eta_ini), net.eta_ini
        a3 = self.lam * a**3
        phi = a * e1 + b * e3 - 0.5 * a3 * eta * e3
        pi = -a * e1 - 3 * b * e3 + 1.5 * a3 * eta * e3 - 0.5 * a3 * e3
        de = net.delta_eta
        for n in range(net.n_layers):
            phi, pi = phi + de * pi, pi - de * (self.h[n] * pi - net.m2 * phi - self.lam * phi**3)
        t = 0.5 * (torch.tanh((pi - net.eps) / net.width) - torch.tanh((pi + net.eps) / net.width) + 2.0)
        data = torch.mean(torch.abs(t - y)) ** 2
        pen = net.c_smooth * torch.sum(self.etas**4 * (self.h[1:] - self.h[:-1]) ** 2) + net.c_boundary * (net.d - self.h[0]) ** 2
        return data + pen

    def epoch(self, x, y, batch=100):
        torch = self.torch
        perm = torch.randperm(len(y), generator=self.gen)
        total = 0.0
        for i in range(len(y) // batch):
            idx = perm[i * batch:(i + 1) * batch]
            self.opt.zero_grad()
            value = self.loss(x[idx, 0], x[idx, 1], y[idx])
            value.backward()
            self.opt.step()
            total += value.item()
        return total / (len(y) // batch)


def check_same_network(net, data) -> float:
    """Max relative difference of loss and gradient between torch (float64) and nqs on one batch."""
    import torch

    rng = np.random.default_rng(0)
    h = np.linspace(2.0, 30.0, net.n_layers) + rng.normal(0, 0.5, net.n_layers)
    x, y = data.x[:500], data.y[:500]
    tm = TorchHolographicQCD(net, 0, torch.float64, h=h, lam=0.05, L=3.0)
    value = tm.loss(torch.as_tensor(x[:, 0]), torch.as_tensor(x[:, 1]), torch.as_tensor(y))
    value.backward()
    p = {"h": jnp.asarray(h), "lam": jnp.asarray(0.05), "L": jnp.asarray(3.0)}
    v2, g2 = jax.value_and_grad(lambda p: nw.loss(net, p, jnp.asarray(x), jnp.asarray(y)))(p)
    diffs = [abs(value.item() - float(v2)) / abs(float(v2))]
    for name, tg in (("h", tm.h.grad), ("lam", tm.lam.grad), ("L", tm.L.grad)):
        a, b = tg.numpy(), np.asarray(g2[name])
        diffs.append(float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-300)))
    return max(diffs)


def time_torch(net, data, epochs: int, dtype_name: str) -> float:
    import torch

    dtype = getattr(torch, dtype_name)
    model = TorchHolographicQCD(net, 0, dtype)
    x, y = torch.as_tensor(data.x, dtype=dtype), torch.as_tensor(data.y, dtype=dtype)
    model.epoch(x, y)  # warm-up (allocator, first autograd graph)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.epoch(x, y)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def time_nqs_epoch(net, data, epochs: int) -> float:
    result = tr.train(net, data, ex.QCD_RECIPE._replace(epochs=epochs), seeds=[0], chunk=epochs, progress=False)
    return result.run_time / epochs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="under a minute: 1 torch epoch, ensemble extrapolated")
    ap.add_argument("--torch-epochs", type=int, default=3, help="timed PyTorch epochs (default 3)")
    ap.add_argument("--torch-dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=5000, help="epochs of the timed nqs ensemble (default 5000)")
    args = ap.parse_args(argv)
    import torch

    net = nw.QCD
    data = qcd_data(0)
    print(f"# machine: {platform.machine()} {platform.processor() or 'cpu'}, {torch.get_num_threads()} torch threads, "
          f"jax {jax.__version__} {jax.devices()}, torch {torch.__version__}")
    print(f"# same network: max relative difference of loss and gradients, torch float64 vs nqs: "
          f"{check_same_network(net, data):.1e}")
    t_torch = time_torch(net, data, 1 if args.quick else args.torch_epochs, args.torch_dtype)
    print(f"  torch ({args.torch_dtype}): {t_torch:.3f} s/epoch", flush=True)
    t_nqs = time_nqs_epoch(net, data, 20 if args.quick else 200)
    print(f"  nqs (float64), one seed: {t_nqs * 1e3:.2f} ms/epoch", flush=True)

    if args.quick:
        r = tr.train(net, data, ex.QCD_RECIPE._replace(epochs=20), seeds=range(args.seeds), chunk=20, progress=False)
        per_epoch = r.run_time / 20
        ensemble, how = per_epoch * args.epochs, f"extrapolated from 20 epochs ({per_epoch * 1e3:.1f} ms/epoch)"
    else:
        t0 = time.perf_counter()
        res = ex.qcd(seed=0, n_seeds=args.seeds, recipe=ex.QCD_RECIPE._replace(epochs=args.epochs), progress=False,
                     potential=False, plots=False)
        ensemble = time.perf_counter() - t0
        how = (f"measured: screening {res.screen.run_time:.0f} s + compile {res.train.compile_time:.0f} s + "
               f"training {res.train.run_time:.0f} s; {int(res.converged.sum())}/{args.seeds} seeds converged, "
               f"1/L = {res.stat(res.inv_L_MeV)[0]:.0f} ± {res.stat(res.inv_L_MeV)[1]:.0f} MeV")
    print()
    print("| | PyTorch | nqs.ads | speed-up |")
    print("|---|---|---|---|")
    print(f"| one seed, s per epoch (200 Adam steps) | {t_torch:.3f} | {t_nqs:.4f} | {t_torch / t_nqs:.0f}x |")
    torch_ensemble = t_torch * args.epochs * args.seeds
    print(f"| {args.seeds} seeds x {args.epochs} epochs | {torch_ensemble / 3600:.1f} h (one seed after another, "
          f"from s/epoch) | {ensemble / 60:.1f} min | {torch_ensemble / ensemble:.0f}x |")
    print(f"\nnqs ensemble: {how}")
    print("issue's reference: the authors' PyTorch recipe, 1.8 s per epoch on a 2-core CPU "
          f"(nqs one seed: {1.8 / t_nqs:.0f}x faster than that)")


if __name__ == "__main__":
    main()
