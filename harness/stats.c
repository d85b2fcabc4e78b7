/* stats.c — see stats.h. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers ----------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void ah_rng_seed(ah_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ah_rng_next(ah_rng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint32_t ah_rng_below(ah_rng *r, uint32_t n) {
    /* Lemire's multiply-shift; the tiny bias is irrelevant for n << 2^32. */
    return (uint32_t)(((ah_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* ---- order statistics ---------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void ah_sort(double *x, int n) {
    if (n > 1) qsort(x, (size_t)n, sizeof *x, cmp_double);
}

double ah_quantile_sorted(const double *x, int n, double q) {
    if (n <= 0) return NAN;
    if (q <= 0) return x[0];
    if (q >= 1) return x[n - 1];
    double h = (n - 1) * q;
    int i = (int)floor(h);
    if (i + 1 >= n) return x[n - 1];
    return x[i] + (h - i) * (x[i + 1] - x[i]);
}

static double *sorted_copy(const double *x, int n) {
    double *c = malloc(sizeof *c * (size_t)(n > 0 ? n : 1));
    if (!c) abort();
    if (n > 0) memcpy(c, x, sizeof *c * (size_t)n);
    ah_sort(c, n);
    return c;
}

double ah_median(const double *x, int n) {
    if (n <= 0) return NAN;
    double *c = sorted_copy(x, n);
    double m = ah_quantile_sorted(c, n, 0.5);
    free(c);
    return m;
}

double ah_mean(const double *x, int n) {
    if (n <= 0) return NAN;
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return s / n;
}

double ah_sd(const double *x, int n) {
    if (n < 2) return 0;
    double m = ah_mean(x, n), s = 0;
    for (int i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (n - 1));
}

/* P(Binomial(n, 1/2) <= k), in log space for large n. */
static double binom_half_cdf(int n, int k) {
    if (k < 0) return 0;
    if (k >= n) return 1;
    double total = 0;
    for (int i = 0; i <= k; i++)
        total += exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) -
                     n * log(2.0));
    return total;
}

void ah_median_ci(const double *x, int n, double level, double *lo, double *hi,
                  double *achieved) {
    if (n <= 0) {
        *lo = *hi = NAN;
        if (achieved) *achieved = 0;
        return;
    }
    double *c = sorted_copy(x, n);
    /* k is 1-based: interval [x_(k), x_(n-k+1)], coverage 1 - 2 P(B <= k-1). */
    int best = 1;
    for (int k = 1; k <= (n + 1) / 2; k++) {
        double cov = 1 - 2 * binom_half_cdf(n, k - 1);
        if (cov >= level) best = k;
        else break;
    }
    *lo = c[best - 1];
    *hi = c[n - best];
    if (achieved) *achieved = n == 1 ? 0 : 1 - 2 * binom_half_cdf(n, best - 1);
    free(c);
}

void ah_summarize(const double *x, int n, ah_summary *out) {
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n <= 0) {
        out->median = out->ci_lo = out->ci_hi = out->mean = out->sd = NAN;
        return;
    }
    double *c = sorted_copy(x, n);
    out->median = ah_quantile_sorted(c, n, 0.5);
    ah_median_ci(c, n, 0.95, &out->ci_lo, &out->ci_hi, &out->ci_level);
    out->mean = ah_mean(c, n);
    out->sd = ah_sd(c, n);
    if (n >= 4) {
        double q1 = ah_quantile_sorted(c, n, 0.25), q3 = ah_quantile_sorted(c, n, 0.75);
        double iqr = q3 - q1;
        for (int i = 0; i < n; i++)
            if (c[i] < q1 - 1.5 * iqr || c[i] > q3 + 1.5 * iqr) out->outliers++;
    }
    free(c);
}

/* ---- significance tests --------------------------------------------------- */

double ah_mann_whitney_p(const double *a, int na, const double *b, int nb) {
    if (na <= 0 || nb <= 0) return NAN;
    int n = na + nb;
    /* Pooled ranks with midranks for ties. */
    typedef struct {
        double v;
        int from_a;
    } item;
    item *it = malloc(sizeof *it * (size_t)n);
    double *rank = malloc(sizeof *rank * (size_t)n);
    if (!it || !rank) abort();
    for (int i = 0; i < na; i++) it[i] = (item){a[i], 1};
    for (int i = 0; i < nb; i++) it[na + i] = (item){b[i], 0};
    /* insertion sort: n is small (tens) */
    for (int i = 1; i < n; i++) {
        item t = it[i];
        int j = i - 1;
        while (j >= 0 && it[j].v > t.v) {
            it[j + 1] = it[j];
            j--;
        }
        it[j + 1] = t;
    }
    double tie_term = 0;
    int ties = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && it[j + 1].v == it[i].v) j++;
        double r = (i + j) / 2.0 + 1;
        for (int k = i; k <= j; k++) rank[k] = r;
        double t = j - i + 1;
        if (t > 1) {
            ties = 1;
            tie_term += t * t * t - t;
        }
        i = j + 1;
    }
    double ra = 0;
    for (int i = 0; i < n; i++)
        if (it[i].from_a) ra += rank[i];
    free(it);
    free(rank);
    double u = ra - na * (na + 1) / 2.0; /* U of a, in [0, na*nb] */
    double mu = na * (double)nb / 2.0;

    if (!ties && na * nb <= 2500) {
        /* Exact: count[u] = number of arrangements with U == u, built by the
         * recurrence f(i, j, u) = f(i-1, j, u-j) + f(i, j-1, u). */
        int umax = na * nb;
        double *f = calloc((size_t)(nb + 1) * (size_t)(umax + 1), sizeof *f);
        double *g = calloc((size_t)(nb + 1) * (size_t)(umax + 1), sizeof *g);
        if (!f || !g) abort();
        /* f = layer i (a's placed), indexed [j][u] */
#define F(arr, j, uu) arr[(size_t)(j) * (size_t)(umax + 1) + (size_t)(uu)]
        for (int j = 0; j <= nb; j++) F(f, j, 0) = 1; /* i = 0 */
        for (int i = 1; i <= na; i++) {
            memset(g, 0, sizeof *g * (size_t)(nb + 1) * (size_t)(umax + 1));
            for (int j = 0; j <= nb; j++)
                for (int uu = 0; uu <= i * j; uu++) {
                    double v = 0;
                    if (uu - j >= 0) v += F(f, j, uu - j);
                    if (j > 0) v += F(g, j - 1, uu);
                    F(g, j, uu) = v;
                }
            double *t = f;
            f = g;
            g = t;
        }
        double total = 0, tail = 0;
        double dev = fabs(u - mu);
        for (int uu = 0; uu <= umax; uu++) {
            double c = F(f, nb, uu);
            total += c;
            if (fabs(uu - mu) >= dev - 1e-9) tail += c;
        }
#undef F
        free(f);
        free(g);
        return tail / total;
    }
    double var = na * (double)nb / 12.0 * ((n + 1) - tie_term / ((double)n * (n - 1)));
    if (var <= 0) return 1.0;
    double z = (fabs(u - mu) - 0.5) / sqrt(var);
    if (z < 0) z = 0;
    return erfc(z / sqrt(2.0));
}

double ah_signflip_p(const double *d, int n, int resamples, uint64_t seed) {
    if (n <= 0) return NAN;
    double obs = 0;
    for (int i = 0; i < n; i++) obs += d[i];
    obs = fabs(obs);
    double eps = 1e-12 * (1 + obs);
    if (n <= 20) {
        uint32_t total = 1u << n, hits = 0;
        for (uint32_t m = 0; m < total; m++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += (m >> i & 1) ? -d[i] : d[i];
            if (fabs(s) >= obs - eps) hits++;
        }
        return (double)hits / total;
    }
    ah_rng r;
    ah_rng_seed(&r, seed);
    int hits = 0;
    for (int k = 0; k < resamples; k++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += (ah_rng_next(&r) >> 63) ? -d[i] : d[i];
        if (fabs(s) >= obs - eps) hits++;
    }
    return (hits + 1.0) / (resamples + 1.0);
}

/* ---- bootstrap ------------------------------------------------------------ */

void ah_bootstrap_mean_ci(const double *d, int n, int resamples, uint64_t seed,
                          double level, double *lo, double *hi) {
    if (n <= 0 || resamples <= 0) {
        *lo = *hi = NAN;
        return;
    }
    double *m = malloc(sizeof *m * (size_t)resamples);
    if (!m) abort();
    ah_rng r;
    ah_rng_seed(&r, seed);
    for (int k = 0; k < resamples; k++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += d[ah_rng_below(&r, (uint32_t)n)];
        m[k] = s / n;
    }
    ah_sort(m, resamples);
    *lo = ah_quantile_sorted(m, resamples, (1 - level) / 2);
    *hi = ah_quantile_sorted(m, resamples, 1 - (1 - level) / 2);
    free(m);
}

void ah_bootstrap_median_ratio_ci(const double *a, int na, const double *b,
                                  int nb, int resamples, uint64_t seed,
                                  double level, double *lo, double *hi) {
    if (na <= 0 || nb <= 0 || resamples <= 0) {
        *lo = *hi = NAN;
        return;
    }
    double *ratio = malloc(sizeof *ratio * (size_t)resamples);
    double *ra = malloc(sizeof *ra * (size_t)na), *rb = malloc(sizeof *rb * (size_t)nb);
    if (!ratio || !ra || !rb) abort();
    ah_rng r;
    ah_rng_seed(&r, seed);
    for (int k = 0; k < resamples; k++) {
        for (int i = 0; i < na; i++) ra[i] = a[ah_rng_below(&r, (uint32_t)na)];
        for (int i = 0; i < nb; i++) rb[i] = b[ah_rng_below(&r, (uint32_t)nb)];
        ah_sort(ra, na);
        ah_sort(rb, nb);
        ratio[k] = ah_quantile_sorted(rb, nb, 0.5) / ah_quantile_sorted(ra, na, 0.5);
    }
    ah_sort(ratio, resamples);
    *lo = ah_quantile_sorted(ratio, resamples, (1 - level) / 2);
    *hi = ah_quantile_sorted(ratio, resamples, 1 - (1 - level) / 2);
    free(ratio);
    free(ra);
    free(rb);
}

/* ---- decision --------------------------------------------------------------- */

const char *ah_verdict(double p, double ci_lo, double ci_hi, double noise, double alpha) {
    if (!(p < alpha)) return "no change";
    if (ci_lo > 1 + noise) return "improved";
    if (ci_hi < 1 - noise) return "regressed";
    return "no change";
}

int ah_compare_paired(const double *a, const double *b, int n, double noise,
                      int resamples, uint64_t seed, ah_ratio *out) {
    memset(out, 0, sizeof *out);
    out->n = n;
    out->verdict = "no change";
    if (n < 2) return -1;
    for (int i = 0; i < n; i++)
        if (!(a[i] > 0) || !(b[i] > 0) || !isfinite(a[i]) || !isfinite(b[i])) return -1;
    double *d = malloc(sizeof *d * (size_t)n);
    if (!d) abort();
    for (int i = 0; i < n; i++) d[i] = log(b[i] / a[i]);
    out->ratio = exp(ah_mean(d, n));
    double lo, hi;
    ah_bootstrap_mean_ci(d, n, resamples, seed, 0.95, &lo, &hi);
    out->ci_lo = exp(lo);
    out->ci_hi = exp(hi);
    out->p = ah_signflip_p(d, n, resamples, seed ^ 0x5bd1e995u);
    out->p_mw = ah_mann_whitney_p(a, n, b, n);
    out->median_ratio = ah_median(b, n) / ah_median(a, n);
    out->verdict = ah_verdict(out->p, out->ci_lo, out->ci_hi, noise, 0.05);
    free(d);
    return 0;
}
