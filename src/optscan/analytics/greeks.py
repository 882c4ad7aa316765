"""Vectorized Black-Scholes-Merton greeks and probabilities, numpy only.

The scan computes these for every contract of every chain (a million contracts is a
realistic worst case), so every function works on whole arrays: there is no Python loop
per contract, and the normal CDF is a vectorized port of W. J. Cody's rational
approximations (scipy is not a dependency and ``math.erfc`` is scalar-only). Arrays of
a few hundred elements or fewer, where numpy's per-call cost would dominate, go through
``math.erfc`` element by element instead; the two agree to 1e-12 relative.

Conventions, shared by every function here:

* **Inputs** broadcast against each other like numpy operands: ``spot``, ``strike``,
  ``years`` (time to expiry in years), ``iv`` (annualized volatility as a fraction,
  0.25 for 25 %), ``is_call`` (bool), ``rate`` and ``dividend_yield`` (continuously
  compounded, as fractions).
* **Output** is always a float64 ``numpy.ndarray`` of the broadcast shape, so an
  all-scalar call returns a **0-d array** (``float(result)`` gives the number).
* **Invalid elements give NaN**, never an exception and never a finite made-up value:
  ``spot``, ``strike``, ``years`` or ``iv`` not > 0, NaN or infinity in any input, and
  inputs so extreme that ``d1`` overflows (e.g. a subnormal ``iv``).
* **Vega** is per 1.00 change of volatility (from 0.25 to 1.25); divide by 100 for the
  usual "per vol point" figure vendors quote.
* **Theta** is per calendar day (the annual figure divided by 365), negative when the
  option loses value as time passes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from optscan.analytics.normal import FloatArray, norm_cdf, norm_pdf

_DAYS_PER_YEAR = 365.0

# ------------------------------------------------------------------------ shared setup


def _broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """``np.broadcast_shapes``, with a shortcut for the usual case of one shape
    (arrays of one length and scalars), where numpy's version costs more than the math.
    """
    distinct = {shape for shape in shapes if shape}
    if len(distinct) <= 1:
        return distinct.pop() if distinct else ()
    return np.broadcast_shapes(*shapes)


class _Model:
    """The float64 inputs with ``d1`` and the validity mask, computed once per call.

    Scalar inputs are lifted to shape ``(1,)`` so that numpy returns arrays (not numpy
    scalars) that the in-place arithmetic can write to; :meth:`result` restores the true
    broadcast shape, 0-d for all-scalar input.
    """

    __slots__ = (
        "call",
        "d1",
        "iv",
        "q",
        "rate",
        "shape",
        "spot",
        "sqrt_t",
        "strike",
        "valid",
        "vol_t",
        "years",
    )

    def __init__(
        self,
        spot: ArrayLike,
        strike: ArrayLike,
        years: ArrayLike,
        iv: ArrayLike,
        is_call: ArrayLike,
        rate: ArrayLike,
        dividend_yield: ArrayLike,
    ) -> None:
        values = [
            np.asarray(v, dtype=np.float64) for v in (spot, strike, years, iv, rate, dividend_yield)
        ]
        call = np.asarray(is_call, dtype=bool)
        self.shape = _broadcast_shape(call.shape, *(v.shape for v in values))
        values = [v.reshape(1) if v.ndim == 0 else v for v in values]
        call = call.reshape(1) if call.ndim == 0 else call
        self.spot, self.strike, self.years, self.iv, self.rate, self.q = values
        self.call = call
        with np.errstate(all="ignore"):
            self.sqrt_t = np.sqrt(self.years)
            self.vol_t = self.iv * self.sqrt_t
            drift = self.rate - self.q + 0.5 * self.iv * self.iv
            d1 = np.log(self.spot / self.strike) + drift * self.years
            d1 /= self.vol_t
            self.d1 = d1
            # NaN or infinity in any input makes d1 non-finite; the sign checks catch
            # the rest (a negative spot over a negative strike has a fine logarithm).
            self.valid = (
                np.isfinite(d1)
                & (self.spot > 0)
                & (self.strike > 0)
                & (self.years > 0)
                & (self.iv > 0)
            )

    def carry(self, annual: FloatArray) -> FloatArray | float:
        """``exp(-annual * years)``: a discount factor; skips the work for a scalar zero."""
        if annual.size == 1 and annual.flat[0] == 0.0:
            return 1.0
        return np.exp(-annual * self.years)

    def flip_puts(self, d: FloatArray) -> FloatArray:
        """``d`` for calls and ``-d`` for puts, at full shape (may reuse ``d``)."""
        full = _broadcast_shape(d.shape, self.call.shape)
        out = d if d.shape == full else np.broadcast_to(d, full).copy()
        np.negative(out, out=out, where=~self.call)
        return out

    def result(self, value: FloatArray | float) -> FloatArray:
        """Full-shape float64 array with NaN wherever the inputs were invalid."""
        full = self.shape or (1,)
        out = np.asarray(value, dtype=np.float64)
        if out.shape != full:
            out = np.broadcast_to(out, full).copy()
        np.copyto(out, np.nan, where=~self.valid)
        return out.reshape(self.shape)


# ----------------------------------------------------------------------------- public


def bs_delta(
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    iv: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
    dividend_yield: ArrayLike = 0.0,
) -> FloatArray:
    """Delta: ``e^(-qT) N(d1)`` for calls, ``-e^(-qT) N(-d1)`` for puts.

    The scan falls back to this when a provider publishes no delta, and screens on it,
    so it must agree with vendors' greeks (checked against recorded chains in the tests).
    """
    m = _Model(spot, strike, years, iv, is_call, rate, dividend_yield)
    with np.errstate(all="ignore"):
        delta = norm_cdf(m.flip_puts(m.d1))
        np.negative(delta, out=delta, where=~m.call)
        delta *= m.carry(m.q)
    return m.result(delta)


def bs_gamma(
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    iv: ArrayLike,
    *,
    rate: ArrayLike = 0.0,
    dividend_yield: ArrayLike = 0.0,
) -> FloatArray:
    """Gamma, the same for calls and puts: ``e^(-qT) n(d1) / (S σ √T)``.

    There is no ``is_call`` parameter, and ``rate``/``dividend_yield`` are keyword-only,
    so a call written for :func:`bs_delta`'s positional order fails loudly here.
    """
    m = _Model(spot, strike, years, iv, False, rate, dividend_yield)
    with np.errstate(all="ignore"):
        gamma = norm_pdf(m.d1)
        gamma /= m.spot * m.vol_t
        gamma *= m.carry(m.q)
    return m.result(gamma)


def bs_vega(
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    iv: ArrayLike,
    *,
    rate: ArrayLike = 0.0,
    dividend_yield: ArrayLike = 0.0,
) -> FloatArray:
    """Vega per 1.00 change of volatility, the same for calls and puts: ``S e^(-qT) n(d1) √T``.

    Divide by 100 for the change per volatility point (what vendors usually quote).
    """
    m = _Model(spot, strike, years, iv, False, rate, dividend_yield)
    with np.errstate(all="ignore"):
        vega = norm_pdf(m.d1)
        vega *= m.spot * m.sqrt_t
        vega *= m.carry(m.q)
    return m.result(vega)


def bs_theta(
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    iv: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
    dividend_yield: ArrayLike = 0.0,
) -> FloatArray:
    """Theta per calendar day (the annual rate of change of the price / 365).

    With ``s = +1`` for calls and ``-1`` for puts, the annual figure is
    ``-S e^(-qT) n(d1) σ / (2√T) - s r K e^(-rT) N(s d2) + s q S e^(-qT) N(s d1)``.
    """
    m = _Model(spot, strike, years, iv, is_call, rate, dividend_yield)
    with np.errstate(all="ignore"):
        spot_carry = m.spot * m.carry(m.q)
        decay = norm_pdf(m.d1)
        decay *= spot_carry * m.iv / (2.0 * m.sqrt_t)
        sign = np.where(m.call, 1.0, -1.0)
        d2 = m.d1 - m.vol_t
        funding = norm_cdf(m.flip_puts(d2))
        funding *= m.rate * m.strike * m.carry(m.rate)
        income = norm_cdf(m.flip_puts(m.d1.copy()))
        income *= m.q * spot_carry
        theta = (income - funding) * sign - decay
        theta /= _DAYS_PER_YEAR
    return m.result(theta)


def bs_price(
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    iv: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
    dividend_yield: ArrayLike = 0.0,
) -> FloatArray:
    """Option value: ``s (S e^(-qT) N(s d1) - K e^(-rT) N(s d2))``, ``s = ±1`` call/put.

    Floored at 0: deep out of the money the two terms cancel to rounding noise, and a
    simulated quote must never be negative.
    """
    m = _Model(spot, strike, years, iv, is_call, rate, dividend_yield)
    with np.errstate(all="ignore"):
        d2 = m.d1 - m.vol_t
        price = norm_cdf(m.flip_puts(m.d1))
        price *= m.spot * m.carry(m.q)
        price -= norm_cdf(m.flip_puts(d2)) * (m.strike * m.carry(m.rate))
        np.negative(price, out=price, where=~m.call)
        np.maximum(price, 0.0, out=price)
    return m.result(price)


def prob_otm(
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    iv: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
    dividend_yield: ArrayLike = 0.0,
) -> FloatArray:
    """Risk-neutral probability of expiring out of the money.

    A put is out of the money when ``S_T > K``: ``N(d2)``; a call when ``S_T < K``:
    ``N(-d2)``. For the wheel this is the chance the option is not assigned, so the two
    sides of one strike add up to 1.
    """
    m = _Model(spot, strike, years, iv, is_call, rate, dividend_yield)
    with np.errstate(all="ignore"):
        d2 = m.d1 - m.vol_t
        np.negative(d2, out=d2)  # calls need N(-d2), puts N(d2)
        probability = norm_cdf(m.flip_puts(d2))
    return m.result(probability)
