// Standard normal distribution helpers used to reason about activations analytically: a
// pre-activation channel is modelled as N(mean, variance), so the fraction of zeros a ReLU leaves
// is Phi(-mean / std) and the moments of its output are those of a rectified Gaussian.
//
// Only +, -, *, /, Math.sqrt (correctly rounded by IEEE 754) and Math.exp / Math.log (software
// fdlibm ports in V8, identical on every machine) are used, so results are bit-reproducible across
// machines; the synthetic weights depend on that.

const SQRT2 = Math.SQRT2;
const SQRT_PI = Math.sqrt(Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Standard normal density phi(x). */
export function normalPdf(x: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

// Below this |x| the Maclaurin series of erf converges quickly and its largest term stays small
// enough (< 20) that cancellation costs under 1e-13 absolute; above it the continued fraction of
// erfc converges in a few dozen terms. Both are far better than the 1e-7 the callers need.
const SERIES_LIMIT = 2.5;
const SERIES_EPS = 1e-17;
const CF_TERMS = 80;

/** erf(x) by its Maclaurin series; only for |x| <= SERIES_LIMIT. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x; // (-1)^n x^(2n+1) / n!
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= -x2 / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < SERIES_EPS * Math.abs(sum)) break;
  }
  return (2 / SQRT_PI) * sum;
}

/**
 * erfc(x) for x >= SERIES_LIMIT by the continued fraction
 * erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
 * evaluated bottom-up with a fixed depth (deterministic, no convergence test needed).
 */
function erfcContinuedFraction(x: number): number {
  let k = x;
  for (let n = CF_TERMS; n >= 1; n--) k = x + n / 2 / k;
  return Math.exp(-x * x) / (SQRT_PI * k);
}

/** Complementary error function; relative error below 1e-10 on the whole real line (worst near x = 2.5). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x <= SERIES_LIMIT) return 1 - erfSeries(x);
  if (x > 27.3) return 0; // exp(-x^2) underflows
  return erfcContinuedFraction(x);
}

/** Error function. */
export function erf(x: number): number {
  if (Math.abs(x) <= SERIES_LIMIT) return erfSeries(x);
  return x > 0 ? 1 - erfc(x) : erfc(-x) - 1;
}

/** Standard normal cumulative distribution Phi(x) = P(Z <= x). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / SQRT2);
}

// P. J. Acklam's rational approximation of the inverse normal cdf (relative error < 1.15e-9),
// central region |p - 0.5| <= 0.5 - P_LOW, tails through q = sqrt(-2 log p).
const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
const P_LOW = 0.02425;

function acklam(p: number): number {
  if (p < P_LOW) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((C[0]! * q + C[1]!) * q + C[2]!) * q + C[3]!) * q + C[4]!) * q + C[5]!) /
      ((((D[0]! * q + D[1]!) * q + D[2]!) * q + D[3]!) * q + 1);
  }
  if (p > 1 - P_LOW) return -acklam(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((A[0]! * r + A[1]!) * r + A[2]!) * r + A[3]!) * r + A[4]!) * r + A[5]!) * q) /
    (((((B[0]! * r + B[1]!) * r + B[2]!) * r + B[3]!) * r + B[4]!) * r + 1);
}

/**
 * Inverse standard normal cdf: the x with Phi(x) = p. Acklam's approximation refined by one
 * Halley step on Phi, which brings it to the accuracy of `normalCdf` (~1e-10 relative in p).
 * Returns -Infinity for p = 0, +Infinity for p = 1 and NaN outside [0, 1].
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const x = acklam(p);
  // In the upper tail, Phi(x) - p loses digits near 1; work with the mirrored lower tail instead.
  const e = p > 0.5 ? -(normalCdf(-x) - (1 - p)) : normalCdf(x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp(0.5 * x * x);
  return x - u / (1 + 0.5 * x * u);
}

export interface Moments {
  readonly mean: number;
  readonly variance: number;
}

/**
 * Mean and variance of max(0, X) for X ~ N(mean, variance): with a = mean/std,
 * E = mean*Phi(a) + std*phi(a), E[Y^2] = (mean^2 + var)*Phi(a) + mean*std*phi(a).
 * A degenerate X (variance <= 0) is the constant max(0, mean).
 */
export function rectifiedGaussianMoments(mean: number, variance: number): Moments {
  if (!(variance > 0)) return { mean: Math.max(0, mean), variance: 0 };
  const s = Math.sqrt(variance);
  const a = mean / s;
  const cdf = normalCdf(a);
  const pdf = normalPdf(a);
  const m1 = mean * cdf + s * pdf;
  // Written relative to variance so the cancellation in E[Y^2] - E^2 happens on O(1) numbers.
  const g = a * cdf + pdf; // m1 / s
  const v = variance * ((1 + a * a) * cdf + a * pdf - g * g);
  return { mean: Math.max(0, m1), variance: Math.max(0, v) };
}

/**
 * Mean and variance of min(max(X, 0), hi) for X ~ N(mean, variance): a ReLU6 (hi = 6). Where the
 * clip at `hi` is out of reach (P(X > hi) < 1e-12) this is rectifiedGaussianMoments.
 */
export function clippedGaussianMoments(mean: number, variance: number, hi: number): Moments {
  if (!(variance > 0)) return { mean: Math.min(hi, Math.max(0, mean)), variance: 0 };
  const s = Math.sqrt(variance);
  const alpha = -mean / s;
  const beta = (hi - mean) / s;
  const above = 1 - normalCdf(beta);
  if (above < 1e-12) return rectifiedGaussianMoments(mean, variance);
  const inside = normalCdf(beta) - normalCdf(alpha);
  const pa = normalPdf(alpha);
  const pb = normalPdf(beta);
  const m1 = mean * inside + s * (pa - pb) + hi * above;
  const m2 = (mean * mean + variance) * inside + 2 * mean * s * (pa - pb) + variance * (alpha * pa - beta * pb) + hi * hi * above;
  return { mean: Math.min(hi, Math.max(0, m1)), variance: Math.max(0, m2 - m1 * m1) };
}

/**
 * Fraction of zeros a ReLU leaves on a N(mean, variance) input: P(X <= 0) = Phi(-mean/std).
 * A degenerate input gives 1 when mean <= 0 and 0 otherwise.
 */
export function reluZeroFraction(mean: number, variance: number): number {
  if (!(variance > 0)) return mean <= 0 ? 1 : 0;
  return normalCdf(-mean / Math.sqrt(variance));
}
