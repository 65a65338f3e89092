// Log-space helpers and log(erfc(x)) for the RDP accountant, in plain float64.

/** log(exp(a) + exp(b)) without overflow. */
export function logAdd(a: number, b: number): number {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  if (lo === -Infinity) return hi;
  return Math.log1p(Math.exp(lo - hi)) + hi;
}

/** log(exp(a) - exp(b)) for a >= b; -Infinity when they are equal. */
export function logSub(a: number, b: number): number {
  if (b === -Infinity) return a;
  if (a <= b) {
    // Equal up to rounding: the difference is zero. A real a < b would be a bug in the caller.
    if (b - a <= 1e-12 * Math.max(1, Math.abs(a))) return -Infinity;
    throw new RangeError(`logSub: result would be negative (log ${a} - log ${b})`);
  }
  const d = a - b;
  // exp(d) overflows for d > ~709; then exp(a) - exp(b) == exp(a) to double precision.
  return d > 700 ? a : Math.log(Math.expm1(d)) + b;
}

const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** erf(x) for 0 <= x < 2.5 by the all-positive series 2/sqrt(pi) e^{-x^2} sum (2x^2)^n x / (2n+1)!!. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 0; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 3);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/**
 * log of the continued fraction erfc(x) sqrt(pi) e^{x^2} = 1 / (x + (1/2) / (x + 1 / (x + (3/2) / ...)))
 * for x >= 2.5, evaluated with the modified Lentz method.
 */
function logErfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 5000; n++) {
    const a = n / 2;
    d = x + a * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = x + a / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -x * x - LOG_SQRT_PI - Math.log(f);
}

/** erfc(x) for x >= 0, to near double precision. */
function erfcNonNegative(x: number): number {
  return x < 2.5 ? 1 - erfSeries(x) : Math.exp(logErfcContinuedFraction(x));
}

/** log(erfc(x)), accurate in the far right tail (where erfc underflows) and for negative x. */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return -Infinity;
  if (x === -Infinity) return Math.LN2;
  if (x < 0) return Math.log(2 - erfcNonNegative(-x));
  if (x < 2.5) return Math.log1p(-erfSeries(x));
  return logErfcContinuedFraction(x);
}
