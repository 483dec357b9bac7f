"""Sine, cosine and arctangent in double and single precision from multiply-adds, for XLA's CPU code.

XLA compiles exp, log and tanh on a CPU into vectorised polynomial code (~1 ns per float64 element
on this project's 2-core machines), but sin, cos and atan into one scalar library call per element
(9-11 ns each). The complex log cosh of the feedforward networks' hidden units needs all three, once
per unit and configuration (``rbm._log_cosh``), and was bound by them. Here they are written as
range reduction and a Taylor polynomial, which XLA vectorises like any other arithmetic: ~3.5 ns for
sin and cos together and ~3 ns for the arctangent, within 2.3e-16 of the library's values (measured;
the tests allow 4e-16). In float32 (complex64 parameters) the same scheme with shorter series and
12-bit parts of pi/2: sine and cosine within an ulp of 1, the arctangent within 2.4 ulp (numpy's
float32 functions: 1.1), measured; it took the complex64 steps of the DeepFFNN (2, 1) on 4x4 from
107 to 87 ms and of the log cosh FFNN on 6x6 from 174 to 120 ms (2-core CPU, 2026-11-30).

sin, cos (``sincos``): x = k pi/2 + r with k = round(2x/pi) and |r| <= pi/4, r computed as
((x - k p1) - k p2) - k p3 with pi/2 = p1 + p2 + p3 split so that p1 and p2 carry 32 significant
bits and k p1, k p2 are exact for |k| < 2^21 (Cody & Waite, "Software Manual for the Elementary
Functions", 1980). Beyond that, |x| > 3e6, r is off by about an ulp of x, the result that of x
perturbed by an ulp. sin r and cos r from their Taylor series through r^19 and r^20 (the first term
left out is below 1e-21 at pi/4); the quadrant k mod 4 picks and signs them.

atan (``arg_right``): the angle of (x, y) with x > 0, atan(y/x) in (-pi/2, pi/2). With v =
min(|y|, x)/max(|y|, x) in [0, 1], atan(v) = pi/4 + atan((v - 1)/(v + 1)) for v > tan(pi/8) (one
division either way), so the series atan w = sum (-1)^n w^(2n+1)/(2n+1) runs on |w| <= tan(pi/8) =
0.414, through w^41 (the first term left out below 1e-18); then atan(|y|/x) = pi/2 - atan(v) when
|y| > x, and the sign of y, taken as a factor +-1 rather than through |y| so that the derivative in
y at y = 0 is 1/x.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import jax.numpy as jnp


def _leading(value: Decimal, bits: int) -> float:
    """value rounded down to a float with ``bits`` significant bits."""
    m, e = math.frexp(float(value))
    return math.ldexp(math.floor(m * 2**bits) / 2**bits, e)


with localcontext() as _ctx:  # 60 digits here only; the process's own decimal context is left alone
    _ctx.prec = 60
    _PI = Decimal("3.141592653589793238462643383279502884197169399375105820974944592")
    _P1 = _leading(_PI / 2, 32)
    _P2 = _leading(_PI / 2 - Decimal(_P1), 32)
    _P3 = float(_PI / 2 - Decimal(_P1) - Decimal(_P2))
    _TWO_OVER_PI = float(2 / _PI)
    _QUARTER_PI = float(_PI / 4)
    _TAN_PI_8 = float(Decimal(2).sqrt() - 1)

    # single precision: 12-bit parts, so that k p1 and k p2 are exact in float32 for |k| < 2^12
    _P1_32 = _leading(_PI / 2, 12)
    _P2_32 = _leading(_PI / 2 - Decimal(_P1_32), 12)
    _P3_32 = float(_PI / 2 - Decimal(_P1_32) - Decimal(_P2_32))

_SIN = [(-1) ** n / math.factorial(2 * n + 1) for n in range(10)]  # sin r / r in powers of r^2
_COS = [(-1) ** n / math.factorial(2 * n) for n in range(11)]
_ATAN = [(-1) ** n / (2 * n + 1) for n in range(21)]  # atan w / w in powers of w^2

# per precision: the parts of pi/2 and the series' lengths. float32 stops at r^9, r^10 and w^17 (the
# first terms left out below 2e-9, 1.2e-10 and 3e-9, against its 6e-8 half-ulp at 1).
_PRECISIONS = {
    jnp.dtype(jnp.float64): ((_P1, _P2, _P3), _SIN, _COS, _ATAN),
    jnp.dtype(jnp.float32): ((_P1_32, _P2_32, _P3_32), _SIN[:5], _COS[:6], _ATAN[:9]),
}


def _horner(coefficients, z):
    acc = jnp.full_like(z, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        acc = acc * z + c
    return acc


def sincos(x):
    """(sin x, cos x); the polynomials for float64 and float32, the library's functions in other
    precisions."""
    if jnp.result_type(x) not in _PRECISIONS:
        return jnp.sin(x), jnp.cos(x)
    (p1, p2, p3), sin_series, cos_series, _ = _PRECISIONS[jnp.result_type(x)]
    k = jnp.round(x * _TWO_OVER_PI)
    r = ((x - k * p1) - k * p2) - k * p3
    z = r * r
    s, c = r * _horner(sin_series, z), _horner(cos_series, z)
    q = k - 4 * jnp.floor(0.25 * k)  # k mod 4 in 0, 1, 2, 3, exactly (k is an integer-valued float)
    sin = jnp.where(q == 0, s, jnp.where(q == 1, c, jnp.where(q == 2, -s, -c)))
    cos = jnp.where(q == 0, c, jnp.where(q == 1, -s, jnp.where(q == 2, -c, s)))
    return sin, cos


def arg_right(x, y):
    """atan(y / x) for x > 0 (the angle of x + iy in the right half-plane); the series for float64
    and float32, the library's arctangent in precisions other than float64 and float32."""
    if jnp.result_type(x, y) not in _PRECISIONS:
        return jnp.arctan(y / x)
    atan_series = _PRECISIONS[jnp.result_type(x, y)][3]
    sign = jnp.where(y < 0, -1.0, 1.0)  # not abs: the derivative in y stays 1/x at y = 0
    ay = sign * y
    swap = ay > x
    num, den = jnp.minimum(ay, x), jnp.maximum(ay, x)  # v = num / den in [0, 1]
    above = num > _TAN_PI_8 * den
    w = jnp.where(above, num - den, num) / jnp.where(above, num + den, den)  # one division
    a = w * _horner(atan_series, w * w) + jnp.where(above, _QUARTER_PI, 0.0)
    return sign * jnp.where(swap, 2 * _QUARTER_PI - a, a)
