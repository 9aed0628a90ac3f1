/**
 * A learned baseline of one measure (distinct ports per window, denied flows per window, ...):
 * an exponentially weighted mean and variance over the windows a key was active in, and the
 * largest value seen. Early windows weigh equally (a plain mean); later ones decay with `alpha`,
 * so the baseline follows slow change without forgetting it in one burst.
 */
export interface BaselineStat {
  /** Windows learned. */
  n: number;
  mean: number;
  variance: number;
  max: number;
}

export interface BaselineLimits {
  /** The least value that may alert, whatever the baseline. */
  readonly minimum: number;
  /** How far above the learned mean a value must be: limit ≥ ratio × mean. */
  readonly ratio: number;
  /** How many standard deviations above the mean: limit ≥ mean + sigmas × std. */
  readonly sigmas: number;
}

/** Weight of the newest window once more than 1/alpha windows were learned. */
const alpha = 0.05;

export function newBaseline(): BaselineStat {
  return { n: 0, mean: 0, variance: 0, max: 0 };
}

export function learn(stat: BaselineStat, value: number): void {
  stat.n++;
  const weight = Math.max(alpha, 1 / stat.n);
  const delta = value - stat.mean;
  stat.mean += weight * delta;
  stat.variance = (1 - weight) * (stat.variance + weight * delta * delta);
  if (value > stat.max) stat.max = value;
}

/**
 * The value from which a measure is anomalous for this key: the configured minimum, and above
 * both ratio × mean and mean + sigmas × std of what was learned. With no baseline, the minimum.
 */
export function limitOf(stat: BaselineStat | undefined, limits: BaselineLimits): number {
  if (!stat || stat.n === 0) return limits.minimum;
  const std = Math.sqrt(stat.variance);
  return Math.max(limits.minimum, limits.ratio * stat.mean, stat.mean + limits.sigmas * std);
}
