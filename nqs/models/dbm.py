"""Deep Boltzmann machine of Carleo, Nomura & Imada, Nat. Commun. 9, 5322 (2018), sampled with its
deep layer and two replicas.

Three layers of +-1 units, couplings only between neighbouring layers: visible sigma (N), hidden h
(M = alpha_hidden N) and deep d (M_d = alpha_deep N),

    Psi(sigma) = sum_{h, d} exp(a.sigma + b.h + c.d + sigma^T W h + h^T W' d).

The hidden layer is traced out analytically (constant 2^M dropped, as for the RBM):

    Phi(sigma, d) = exp(a.sigma + c.d) prod_k cosh(theta_k),   theta = b + W^T sigma + W'^T d,
    Psi(sigma)    = sum_d Phi(sigma, d).

The sum over d is not done. The sampler draws x = (sigma, d, d') with weight Phi(sigma, d) Phi(sigma, d')
(two replicas of the deep layer; their marginal over sigma is Psi(sigma)^2, and given sigma the
replicas are independent, each distributed as Phi(sigma, d) / Psi(sigma)). The model tells the
engine so through two numbers of the protocol: ``n_aux(N) = 2 M_d`` extra sampled units appended to
sigma (the sampler gives them single-unit Metropolis moves next to the exchange moves on sigma), and
``n_replicas = 2``. Per replica r (Carleo, Nomura & Imada, Methods):

- E_loc(sigma, d_r) = sum_sigma' H_{sigma sigma'} Phi(sigma', d_r) / Phi(sigma, d_r): its average
  over d_r given sigma is the true local energy (H Psi)(sigma) / Psi(sigma);
- O_r = d log Phi(sigma, d_r) / d theta: its average given sigma is d log Psi(sigma) / d theta.

Products of one replica's quantity with the other's are unbiased for the products SR needs
(``sr.natural_gradient`` with a replica axis): S ~ O_1 O_2, F ~ O_1 E_2.

Fast updates, as for the RBM: the cache is theta for both replicas, shape (2, M). Flipping a visible
spin changes both replicas' theta by -2 W_i: sigma_i, flipping d_j (or d'_j) changes one replica's by
-2 W'_j: d_j. Written as one "extended" weight table over all N + 2 M_d sampled units, every move and
every bond of the local energy is one gather and an O(M) update.

Signs: with real parameters Phi > 0, so the sampling weight is positive; the Heisenberg ground
state is positive in the Marshall-rotated basis (``Heisenberg(marshall_sign=True)``, the default),
so a real DBM can represent it. Complex parameters would make Phi(sigma, d) Phi(sigma, d') complex,
no longer a probability: refused, as is a Hamiltonian without the sign rule.

With ``alpha_deep = 0`` the deep layer is empty, there is one replica, and the DBM is exactly the
real RBM of ``models.rbm`` (same parameters from the same key, same ratios, same run).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..sr import materialize
from .base import GenericModel
from .rbm import _check_alpha, _log_cosh, _normal

MAX_EXACT_DEEP = 20  # log_psi sums over the 2^M_d deep configurations exactly: tests only


@dataclass(frozen=True)
class DBM(GenericModel):
    """Carleo–Nomura–Imada deep Boltzmann machine with M = alpha_hidden N hidden, M_d = alpha_deep N deep units.

    Args:
        alpha_hidden: hidden-unit density M/N (> 0).
        alpha_deep: deep-unit density M_d/N (>= 0; 0 is the RBM).
        dtype: float64 (default) or float32; the weight Phi Phi' must be positive, so complex
            parameters are refused.
        scale: standard deviation of the random initial parameters.
    """

    alpha_hidden: float = 1
    alpha_deep: float = 1
    dtype: str = "float64"
    scale: float = 0.01

    netket_compatible = False  # NetKet cannot sample the deep units

    def __post_init__(self):
        _check_alpha(self.alpha_hidden)
        if isinstance(self.alpha_deep, bool) or not isinstance(self.alpha_deep, (int, float, np.integer, np.floating)):
            raise TypeError(f"DBM: alpha_deep must be a number, got {self.alpha_deep!r}")
        if not self.alpha_deep >= 0:
            raise ValueError(f"DBM: alpha_deep (deep-unit density M_d/N) must be >= 0, got {self.alpha_deep}")
        dtype = np.dtype(self.dtype)
        if np.issubdtype(dtype, np.complexfloating):
            raise ValueError(
                f"DBM: dtype {dtype} is complex, but the sampler needs the weight Phi(sigma,d) Phi(sigma,d') "
                "to be a positive number; use float64 or float32 with the Marshall sign rule"
            )
        if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
            raise ValueError(f"DBM: dtype must be float64 or float32, got {dtype}")
        object.__setattr__(self, "dtype", str(dtype))

    # -- sizes ---------------------------------------------------------------------------------

    def n_hidden(self, n_sites: int) -> int:
        return max(1, int(round(self.alpha_hidden * n_sites)))

    def n_deep(self, n_sites: int) -> int:
        return int(round(self.alpha_deep * n_sites))

    @property
    def n_replicas(self) -> int:
        return 2 if self.alpha_deep > 0 else 1

    def n_aux(self, n_sites: int) -> int:
        """Sampled units beyond sigma: the deep layer, once per replica."""
        return self.n_deep(n_sites) * self.n_replicas if self.n_deep(n_sites) else 0

    def check_hamiltonian(self, hamiltonian):
        if not getattr(hamiltonian, "marshall_sign", True):
            raise ValueError(
                "DBM: the ansatz is real and positive, but without the Marshall sign rule the Heisenberg "
                "ground state has signs; use Heisenberg(..., marshall_sign=True)"
            )

    # -- parameters ----------------------------------------------------------------------------

    def init(self, key, n_sites: int):
        M, Md = self.n_hidden(n_sites), self.n_deep(n_sites)
        if self.alpha_deep > 0 and Md == 0:
            raise ValueError(
                f"DBM: alpha_deep={self.alpha_deep} gives round({self.alpha_deep} x {n_sites}) = 0 deep units on "
                f"{n_sites} sites; use alpha_deep=0 for the RBM or at least {0.5 / n_sites:.3g}"
            )
        dt = np.dtype(self.dtype)
        ka, kb, kw = jax.random.split(key, 3)  # the RBM's keys: alpha_deep = 0 gives the RBM's parameters
        kc, kd = jax.random.split(jax.random.fold_in(key, 1), 2)
        return {
            "a": _normal(ka, (n_sites,), dt, self.scale),
            "b": _normal(kb, (M,), dt, self.scale),
            "W": _normal(kw, (n_sites, M), dt, self.scale),
            "c": _normal(kc, (Md,), dt, self.scale),
            "Wd": _normal(kd, (Md, M), dt, self.scale),
        }

    # -- full evaluation -----------------------------------------------------------------------

    def log_phi(self, params, sigma, d):
        """log Phi(sigma, d) with the hidden layer traced out."""
        s = sigma.astype(params["W"].dtype)
        theta = params["b"] + s @ params["W"] + d.astype(s.dtype) @ params["Wd"]
        return jnp.sum(params["a"] * s) + jnp.sum(params["c"] * d) + jnp.sum(_log_cosh(theta))

    def log_psi(self, params, sigma):
        """log Psi(sigma) = log sum_d Phi(sigma, d), summing the 2^M_d deep configurations exactly
        (for tests and analysis; the engine never calls it)."""
        Md = params["c"].shape[0]
        if Md > MAX_EXACT_DEEP:
            raise ValueError(f"DBM.log_psi sums 2^{Md} deep configurations; only M_d <= {MAX_EXACT_DEEP} is supported")
        ds = 1.0 - 2.0 * ((np.arange(2**Md)[:, None] >> np.arange(Md)) & 1)
        vals = jax.vmap(lambda d: self.log_phi(params, sigma, jnp.asarray(d, params["W"].dtype)))(ds)
        return jax.scipy.special.logsumexp(vals)

    def split(self, x, n_sites):
        """sigma and the replicas' deep configurations, shape (R, M_d), from a sampled x."""
        return x[:n_sites], x[n_sites:].reshape(self.n_replicas, -1)

    def log_weight(self, params, x):
        """log of the sampling weight prod_r Phi(sigma, d_r) of a sampled x = (sigma, d_1, ...)."""
        N = params["a"].shape[0]
        sigma, ds = self.split(x, N)
        return sum(self.log_phi(params, sigma, ds[r]) for r in range(self.n_replicas))

    # -- fast path -----------------------------------------------------------------------------

    def tables(self, params):
        """The extended tables over the N + R M_d sampled units: Wx (N + R M_d, R, M) and Lx (N + R M_d, R),
        the change of every replica's theta and of its linear term per unit of x."""
        a, b, c, W, Wd = params["a"], params["b"], params["c"], params["W"], params["Wd"]
        R, Md = self.n_replicas, c.shape[0]
        rows_w = [jnp.broadcast_to(W[:, None, :], (W.shape[0], R, W.shape[1]))]
        rows_l = [jnp.broadcast_to(a[:, None], (a.shape[0], R))]
        for r in range(R if Md else 0):
            onehot = jnp.zeros((R,), W.dtype).at[r].set(1.0)
            rows_w.append(Wd[:, None, :] * onehot[None, :, None])
            rows_l.append(c[:, None] * onehot[None, :])
        return {"a": a, "b": b, "Wx": jnp.concatenate(rows_w), "Lx": jnp.concatenate(rows_l)}

    def cache(self, tables, x):
        """theta of every replica, shape (R, M)."""
        return tables["b"] + jnp.einsum("i,irm->rm", x.astype(tables["Wx"].dtype), tables["Wx"])

    def _replica_ratios(self, tables, x, theta, flips):
        """log Phi(x')/Phi(x) per replica (R,), and theta', for x' = x with the units ``flips`` reversed."""
        s = x[flips].astype(theta.dtype)  # (K,)
        delta = -2.0 * jnp.einsum("k,krm->rm", s, tables["Wx"][flips])
        new = theta + delta
        lin = -2.0 * jnp.einsum("k,kr->r", s, tables["Lx"][flips])
        return lin + jnp.sum(_log_cosh(new) - _log_cosh(theta), axis=-1), new

    def propose(self, tables, x, cache, flips):
        """Half the log of the sampling-weight ratio (the sampler accepts with exp(2 Re log_r)), and the new cache."""
        log_r, new = self._replica_ratios(tables, x, cache, flips)
        return jnp.sum(log_r) / 2.0 if self.n_replicas == 2 else log_r[0], new

    def log_ratio(self, tables, x, cache, flips):
        """Per-replica ratios Phi(sigma', d_r)/Phi(sigma, d_r), shape (B, R); (B,) with one replica."""
        out = jax.vmap(lambda f: self._replica_ratios(tables, x, cache, f)[0])(flips)
        return out if self.n_replicas > 1 else out[:, 0]

    def log_derivatives(self, params, tables, x, cache):
        """O of one sample, (P,), or (R, P) per replica: the blocks below, materialised."""
        return materialize(self.log_derivative_blocks(params, tables, x[None], cache[None]))[0]

    def log_derivative_blocks(self, params, tables, xs, caches):
        """The RBM's blocks (O_W and O_W' are outer products), each with a replica axis: (Ns, R, ...)."""
        N, R = tables["a"].shape[0], self.n_replicas
        t = jnp.tanh(caches)  # (Ns, R, M)
        s = jnp.broadcast_to(xs[:, None, :N], (xs.shape[0], R, N)).astype(t.dtype)
        if R == 1:  # no deep units: exactly the RBM's blocks, in ravel order W, (Wd empty), a, b, (c empty)
            return [("outer", s[:, 0], t[:, 0]), ("dense", s[:, 0]), ("dense", t[:, 0])]
        d = xs[:, N:].reshape(xs.shape[0], R, -1).astype(t.dtype)
        return [("outer", s, t), ("outer", d, t), ("dense", s), ("dense", t), ("dense", d)]
