//! The statistics of a benchmark: a summary of each build's samples (median, mean, standard
//! deviation, extremes, outliers classified as criterion does) and the comparison of two builds
//! (ratio of medians with a bootstrap 95 % confidence interval, and a verdict in words).

use serde::Serialize;

/// How many bootstrap resamples a confidence interval is estimated from.
pub const RESAMPLES: usize = 10_000;

/// The seed of the bootstrap's generator: a comparison of the same samples always gives the same
/// interval.
const SEED: u64 = 0x7072_6f78_7972_7462;

/// A summary of one build's samples (milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub rounds: usize,
    pub median: f64,
    pub mean: f64,
    /// Sample standard deviation (n - 1); 0 for one sample.
    pub stddev: f64,
    pub min: f64,
    pub max: f64,
    pub outliers: Outliers,
}

/// Samples outside Tukey's fences, as criterion classifies them: mild beyond 1.5 interquartile
/// ranges from the quartiles, severe beyond 3.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outliers {
    pub low_severe: usize,
    pub low_mild: usize,
    pub high_mild: usize,
    pub high_severe: usize,
}

impl Outliers {
    pub fn total(&self) -> usize {
        self.low_severe + self.low_mild + self.high_mild + self.high_severe
    }
}

/// The `q` quantile (0..=1) of sorted `xs`, linearly interpolated between the two closest ranks.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let rank = q * (n - 1) as f64;
            let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
        }
    }
}

fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// The median of `xs` (NaN when empty).
pub fn median(xs: &[f64]) -> f64 {
    quantile(&sorted(xs), 0.5)
}

impl Summary {
    /// The summary of `xs`; `None` when there is no sample.
    pub fn of(xs: &[f64]) -> Option<Self> {
        if xs.is_empty() {
            return None;
        }
        let s = sorted(xs);
        let n = s.len();
        let mean = s.iter().sum::<f64>() / n as f64;
        let stddev = if n > 1 {
            (s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let (q1, q3) = (quantile(&s, 0.25), quantile(&s, 0.75));
        let iqr = q3 - q1;
        let mut outliers = Outliers::default();
        for &x in &s {
            if x < q1 - 3.0 * iqr {
                outliers.low_severe += 1;
            } else if x < q1 - 1.5 * iqr {
                outliers.low_mild += 1;
            } else if x > q3 + 3.0 * iqr {
                outliers.high_severe += 1;
            } else if x > q3 + 1.5 * iqr {
                outliers.high_mild += 1;
            }
        }
        Some(Summary {
            rounds: n,
            median: quantile(&s, 0.5),
            mean,
            stddev,
            min: s[0],
            max: s[n - 1],
            outliers,
        })
    }
}

/// A build's median against the baseline's: `ratio` = build / baseline, so below 1 is faster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub ratio: f64,
    /// The bootstrap 95 % confidence interval of the ratio.
    pub low: f64,
    pub high: f64,
}

impl Comparison {
    /// Compares `build`'s samples with `baseline`'s: the ratio of medians, and its 95 % interval
    /// from [`RESAMPLES`] bootstrap resamples of both sets (percentile method). `None` without
    /// samples on either side.
    pub fn of(baseline: &[f64], build: &[f64]) -> Option<Self> {
        if baseline.is_empty() || build.is_empty() {
            return None;
        }
        let ratio = median(build) / median(baseline);
        let mut rng = fastrand::Rng::with_seed(SEED);
        let mut a = vec![0.0; baseline.len()];
        let mut b = vec![0.0; build.len()];
        let mut ratios: Vec<f64> = (0..RESAMPLES)
            .map(|_| {
                for x in a.iter_mut() {
                    *x = baseline[rng.usize(..baseline.len())];
                }
                for x in b.iter_mut() {
                    *x = build[rng.usize(..build.len())];
                }
                median(&b) / median(&a)
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        Some(Comparison {
            ratio,
            low: quantile(&ratios, 0.025),
            high: quantile(&ratios, 0.975),
        })
    }

    /// Whether the interval excludes 1: the builds differ at the 95 % level.
    pub fn significant(&self) -> bool {
        self.high < 1.0 || self.low > 1.0
    }

    /// In words, for `build` against `baseline`: "b.wasm is 1.32× faster than a.wasm [1.29×,
    /// 1.35×]", "... slower ...", or "no significant difference between ...".
    pub fn verdict(&self, build: &str, baseline: &str) -> String {
        if !self.significant() {
            return format!(
                "no significant difference between {build} and {baseline} ({:.3}× [{:.3}×, {:.3}×])",
                self.ratio, self.low, self.high
            );
        }
        if self.ratio < 1.0 {
            format!(
                "{build} is {:.2}× faster than {baseline} [{:.2}×, {:.2}×]",
                1.0 / self.ratio,
                1.0 / self.high,
                1.0 / self.low
            )
        } else {
            format!(
                "{build} is {:.2}× slower than {baseline} [{:.2}×, {:.2}×]",
                self.ratio, self.low, self.high
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_and_outliers() {
        let s = Summary::of(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.rounds), (3.0, 1.0, 100.0, 5));
        assert_eq!(s.mean, 22.0);
        assert_eq!(s.outliers.high_severe, 1);
        assert_eq!(s.outliers.total(), 1);
        let one = Summary::of(&[7.0]).unwrap();
        assert_eq!((one.median, one.stddev), (7.0, 0.0));
        assert!(Summary::of(&[]).is_none());
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn comparisons_find_real_differences_and_only_those() {
        let base: Vec<f64> = (0..30).map(|i| 10.0 + (i % 5) as f64 * 0.1).collect();
        let fast: Vec<f64> = base.iter().map(|x| x / 2.0).collect();
        let c = Comparison::of(&base, &fast).unwrap();
        assert!((c.ratio - 0.5).abs() < 1e-9, "{c:?}");
        assert!(
            c.significant() && c.low <= c.ratio && c.ratio <= c.high,
            "{c:?}"
        );
        assert_eq!(
            c.verdict("b.wasm", "a.wasm"),
            format!(
                "b.wasm is 2.00× faster than a.wasm [{:.2}×, {:.2}×]",
                1.0 / c.high,
                1.0 / c.low
            )
        );
        let same = Comparison::of(&base, &base).unwrap();
        assert!(!same.significant(), "{same:?}");
        assert!(same
            .verdict("a.wasm", "a.wasm")
            .starts_with("no significant difference"));
        let slow: Vec<f64> = base.iter().map(|x| x * 1.5).collect();
        assert!(Comparison::of(&base, &slow)
            .unwrap()
            .verdict("c", "a")
            .starts_with("c is 1.50× slower than a"));
        // The same samples give the same interval.
        assert_eq!(Comparison::of(&base, &fast), Comparison::of(&base, &fast));
        assert!(Comparison::of(&[], &base).is_none());
    }
}
