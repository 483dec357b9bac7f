"""Feedforward wavefunctions: Saito's shallow network and a deep network that outputs log psi.

``FFNN`` — Saito, J. Phys. Soc. Jpn. 86, 093001 (2017): the amplitude is a weighted sum of
activated hidden units,

    psi(sigma) = sum_i f_i g(theta_i),   theta = W sigma + b   (M = alpha N hidden units),

kept with its sign/phase: log psi = log(sum_i f_i g(theta_i)) taken complex. The pre-activations
theta are the same look-up table as the RBM's: flipping the sites F changes them by
-2 sum_{i in F} W_:i sigma_i, so a ratio costs O(|F| M) instead of O(N M). Measured: on 4x4
(alpha = 2) sampling takes the same time either way, since the M complex activations dominate;
the table pays off as N grows. Log-derivatives by automatic differentiation (``jax.grad``,
holomorphic for complex parameters).

``FFNNSymm`` — Saito's form summed over a group of lattice symmetries T_g (the translations or the
whole space group), as ``RBMSymm`` ties the RBM's: alpha filters W_f, hidden units (f, g) with
theta_{f,g} = b_f + sum_j W_{f j} sigma_{T_g(j)}, weights f_f shared by a filter's units, so
psi(sigma o T_h) = psi(sigma) for every h of the group:

    psi(sigma) = sum_f f_f sum_g g(theta_{f,g}).

It expands to a dense FFNN (the same look-up table) and contracts the log-derivatives back in
closed form, with S = sum_{f,g} f_f g(theta_{f,g}) and g' the activation's derivative:
O_{f_f} = sum_g g(theta_{f,g}) / S, O_{b_f} = f_f sum_g g'(theta_{f,g}) / S,
O_{W_f j} = f_f sum_g g'(theta_{f,g}) sigma_{T_g(j)} / S. On 4x4 the dense form stalls near
4e-2 whatever its size; the sum over the translations of 8 log-cosh filters (144 parameters)
reaches 1.6e-3, closer than the plain RBM's 2.8e-3 (README).

``DeepFFNN`` — the modern form: a multilayer perceptron sigma -> h_1 -> ... -> log psi, complex
weights, activation between layers, the last layer summed into one complex number. No look-up table
applies to deep layers; it uses the generic path (full evaluation per ratio), as NetKet does.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ..lattice import Square
from .base import GenericModel
from .rbm import _check_alpha, _check_dtype, _log_cosh, _normal, _TiedFilters

ACTIVATIONS = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "logcosh": _log_cosh,
    "softplus": lambda x: jnp.logaddexp(0.0, x) if not jnp.iscomplexobj(x) else jnp.log1p(jnp.exp(x)),
}


def _activation(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class _SumOfUnits(GenericModel):
    """Saito's amplitude psi = sum_i f_i g(theta_i) over the (dense) hidden units of ``tables``,
    theta = W sigma + b kept as the look-up table."""

    def _log_amplitude(self, params, theta):
        value = jnp.sum(params["f"] * _activation(self.activation)(theta))
        return jnp.log(value.astype(jnp.result_type(value.dtype, jnp.complex64)))

    def log_psi(self, params, sigma):
        t = self.tables(params)
        return self._log_amplitude(t, t["W"] @ sigma.astype(t["W"].dtype) + t["b"])

    def cache(self, tables, sigma):
        theta = tables["W"] @ sigma.astype(tables["W"].dtype) + tables["b"]
        return theta, self._log_amplitude(tables, theta)

    def move(self, tables, sigma, cache, flips):
        theta, log_amp = cache
        new_theta = theta - 2 * tables["W"][:, flips] @ sigma[flips].astype(theta.dtype)
        new_log = self._log_amplitude(tables, new_theta)
        return new_log - log_amp, (new_theta, new_log)


@dataclass(frozen=True)
class FFNN(_SumOfUnits):
    """Saito's feedforward ansatz psi = sum_i f_i g(W sigma + b)_i with a look-up table for theta.

    Args:
        alpha: hidden-unit density M/N (> 0).
        activation: g, one of sigmoid (default), tanh, logcosh, softplus.
        dtype: parameter dtype (complex128 default).
        scale: standard deviation of the random initial W and b (f starts at 1 + noise).
    """

    alpha: float = 1
    activation: str = "sigmoid"
    dtype: str = "complex128"
    scale: float = 0.05

    def __post_init__(self):
        _check_alpha(self.alpha)
        _activation(self.activation)
        object.__setattr__(self, "dtype", str(_check_dtype(self.dtype)))

    def init(self, key, n_sites: int):
        M = max(1, int(round(self.alpha * n_sites)))
        kw, kb, kf = jax.random.split(key, 3)
        dt = np.dtype(self.dtype)
        return {
            "W": _normal(kw, (M, n_sites), dt, self.scale),
            "b": _normal(kb, (M,), dt, self.scale),
            "f": (1.0 + _normal(kf, (M,), dt, self.scale)).astype(dt),
        }


@dataclass(frozen=True)
class FFNNSymm(_TiedFilters, _SumOfUnits):
    """Saito's ansatz summed over lattice symmetries: psi = sum_f f_f sum_g g(theta_{f,g}).

    Args:
        lattice: the ``Square`` lattice whose symmetries tie the weights.
        alpha: number of filters (alpha |G| hidden units: alpha N with the translations).
        activation, dtype, scale: as for ``FFNN``.
        symmetries: ``"translations"`` (default) or ``"space_group"``, as for ``RBMSymm``.
    """

    lattice: Square
    alpha: int = 2
    activation: str = "sigmoid"
    dtype: str = "complex128"
    scale: float = 0.05
    symmetries: str = "translations"

    def __post_init__(self):
        self._check_filters()
        _activation(self.activation)

    def init(self, key, n_sites: int):
        self._check_sites(n_sites)
        kw, kb, kf = jax.random.split(key, 3)
        dt = np.dtype(self.dtype)
        return {
            "W": _normal(kw, (self.alpha, n_sites), dt, self.scale),
            "b": _normal(kb, (self.alpha,), dt, self.scale),
            "f": (1.0 + _normal(kf, (self.alpha,), dt, self.scale)).astype(dt),
        }

    def tables(self, params):
        """The dense FFNN: hidden unit (f, g) has the weights W_dense[(f, g), i] = W[f, T_g^{-1}(i)]."""
        G = len(self.group)
        return {"W": self._tied_weights(params["W"]), "b": jnp.repeat(params["b"], G), "f": jnp.repeat(params["f"], G)}

    def log_derivatives(self, params, tables, sigma, cache):
        theta = cache[0]
        g = _activation(self.activation)
        value, slope = jax.jvp(g, (theta,), (jnp.ones_like(theta),))  # g(theta), g'(theta)
        S = jnp.sum(tables["f"] * value)
        G = len(self.group)
        value, slope = value.reshape(self.alpha, G) / S, slope.reshape(self.alpha, G) / S
        s_t = self._images(sigma).astype(slope.dtype)
        f = params["f"][:, None].astype(slope.dtype)
        grads = {"W": f * (slope @ s_t), "b": f[:, 0] * jnp.sum(slope, axis=1), "f": jnp.sum(value, axis=1)}
        out = ravel_pytree(grads)[0]
        return out.astype(jnp.result_type(out.dtype, jnp.complex64))


@dataclass(frozen=True)
class DeepFFNN(GenericModel):
    """Multilayer perceptron log psi(sigma) = sum(W_L g(... g(W_1 sigma + b_1) ...) + b_L), complex.

    Args:
        widths: hidden-layer widths as multiples of N, e.g. (2, 1) for two layers of 2N and N units.
        activation: between layers, one of logcosh (default), tanh, sigmoid, softplus.
        dtype: parameter dtype (complex128 default).
        scale: the initial weights are scale / sqrt(fan-in) times standard normals.
    """

    widths: tuple = (2, 1)
    activation: str = "logcosh"
    dtype: str = "complex128"
    scale: float = 0.1

    def __post_init__(self):
        widths = tuple(self.widths) if not isinstance(self.widths, (int, float)) else (self.widths,)
        if not widths:
            raise ValueError("DeepFFNN: widths must name at least one hidden layer, e.g. (2, 1)")
        for w in widths:
            _check_alpha(w)
        object.__setattr__(self, "widths", widths)
        _activation(self.activation)
        object.__setattr__(self, "dtype", str(_check_dtype(self.dtype)))

    def init(self, key, n_sites: int):
        dt = np.dtype(self.dtype)
        sizes = [n_sites] + [max(1, int(round(w * n_sites))) for w in self.widths]
        params = {}
        keys = jax.random.split(key, 2 * len(sizes))
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            params[f"layer{layer}"] = {
                "W": _normal(keys[2 * layer], (fan_out, fan_in), dt, self.scale / np.sqrt(fan_in)),
                "b": _normal(keys[2 * layer + 1], (fan_out,), dt, self.scale),
            }
        return params

    def log_psi(self, params, sigma):
        g = _activation(self.activation)
        x = sigma
        for layer in range(len(self.widths)):
            p = params[f"layer{layer}"]
            x = g(p["W"] @ x.astype(p["W"].dtype) + p["b"])
        out = jnp.sum(x)
        return out.astype(jnp.result_type(out.dtype, jnp.complex64))
