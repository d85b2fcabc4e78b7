/* stats.h — the harness's statistics: medians with distribution-free
 * confidence intervals, bootstrap intervals of a speed ratio, significance
 * tests and the criterion.rs-style decision. Pure functions on arrays; the
 * random generator is seeded explicitly, so every figure is reproducible. */
#ifndef AH_STATS_H
#define AH_STATS_H

#include <stdint.h>

/* xoshiro256** seeded through splitmix64. */
typedef struct ah_rng {
    uint64_t s[4];
} ah_rng;

void ah_rng_seed(ah_rng *r, uint64_t seed);
uint64_t ah_rng_next(ah_rng *r);
/* Uniform in [0, n). */
uint32_t ah_rng_below(ah_rng *r, uint32_t n);

/* Sorts a copy; helpers that need sorted input say so. */
void ah_sort(double *x, int n);
/* Quantile q in [0,1] of sorted x (linear interpolation, R type 7). */
double ah_quantile_sorted(const double *x, int n, double q);
/* Median of x (x is not modified). NAN when n == 0. */
double ah_median(const double *x, int n);
double ah_mean(const double *x, int n);
/* Sample standard deviation (n-1). 0 when n < 2. */
double ah_sd(const double *x, int n);

/* Order-statistic confidence interval of the median: the narrowest
 * symmetric [x_(k), x_(n-k+1)] whose binomial coverage is >= level. When
 * even [min, max] covers less (n < 6 for 95 %), returns [min, max] and
 * its true coverage in *achieved. Input x need not be sorted. */
void ah_median_ci(const double *x, int n, double level, double *lo,
                  double *hi, double *achieved);

typedef struct ah_summary {
    int n;
    double median, ci_lo, ci_hi, ci_level; /* ci_level: coverage achieved */
    double mean, sd;
    int outliers; /* beyond Tukey's fences (1.5 IQR); flagged, never dropped */
} ah_summary;

/* Median + order-statistic 95 % CI + mean/sd + outlier count. n may be 0
 * (then every figure is NAN). */
void ah_summarize(const double *x, int n, ah_summary *out);

/* Two-sided Mann-Whitney U test of a vs b: exact null distribution when
 * there are no ties and na*nb <= 2500, else the normal approximation with
 * tie and continuity corrections. Returns the p-value. */
double ah_mann_whitney_p(const double *a, int na, const double *b, int nb);

/* Two-sided paired sign-flip permutation test of mean(d) == 0: exact for
 * n <= 20, else `resamples` random sign vectors (seeded). */
double ah_signflip_p(const double *d, int n, int resamples, uint64_t seed);

/* Percentile bootstrap CI (level, e.g. 0.95) of the mean of d, from
 * `resamples` resamples with replacement (seeded). */
void ah_bootstrap_mean_ci(const double *d, int n, int resamples, uint64_t seed,
                          double level, double *lo, double *hi);

/* Percentile bootstrap CI of median(b)/median(a), resampling a and b
 * independently (unpaired). */
void ah_bootstrap_median_ratio_ci(const double *a, int na, const double *b,
                                  int nb, int resamples, uint64_t seed,
                                  double level, double *lo, double *hi);

/* The decision: "improved" only when p < alpha and the whole CI of the
 * ratio lies above 1 + noise; "regressed" when p < alpha and the whole CI
 * lies below 1 - noise; else "no change". Returns a static string. */
const char *ah_verdict(double p, double ci_lo, double ci_hi, double noise,
                       double alpha);

/* A paired comparison of per-round samples a[i], b[i] (B/A): ratio =
 * exp(mean(log(b/a))) with a bootstrap CI, the sign-flip p-value, the
 * Mann-Whitney p-value of the unpaired samples, the verdict. */
typedef struct ah_ratio {
    int n;
    double ratio, ci_lo, ci_hi, p, p_mw;
    double median_ratio; /* median(b) / median(a), for reference */
    const char *verdict;
} ah_ratio;

/* Returns -1 when n < 2 or a sample is not positive and finite. */
int ah_compare_paired(const double *a, const double *b, int n, double noise,
                      int resamples, uint64_t seed, ah_ratio *out);

#endif
