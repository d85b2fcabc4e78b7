/* test_harness_stats.c — the harness's statistics on samples with known
 * answers: medians, order-statistic CIs, tests, bootstrap, the decision. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static void test_median_quantile(void **state) {
    double odd[] = {3, 1, 2}, even[] = {4, 1, 3, 2};
    assert_float_equal(ah_median(odd, 3), 2, 1e-12);
    assert_float_equal(ah_median(even, 4), 2.5, 1e-12);
    assert_float_equal(odd[0], 3, 0); /* input untouched */
    double s[] = {1, 2, 3, 4, 5};
    assert_float_equal(ah_quantile_sorted(s, 5, 0.25), 2, 1e-12);
    assert_float_equal(ah_quantile_sorted(s, 5, 0.9), 4.6, 1e-12);
    assert_true(isnan(ah_median(s, 0)));
    assert_float_equal(ah_mean(s, 5), 3, 1e-12);
    assert_float_equal(ah_sd(s, 5), sqrt(2.5), 1e-12);
}

static void test_median_ci_order_statistics(void **state) {
    double x[20];
    for (int i = 0; i < 20; i++) x[i] = 20 - i; /* 20..1, unsorted */
    double lo, hi, cov;
    /* n = 10: [x_(2), x_(9)], coverage 1 - 2*11/1024 */
    ah_median_ci(x + 10, 10, 0.95, &lo, &hi, &cov);
    assert_float_equal(lo, 2, 0);
    assert_float_equal(hi, 9, 0);
    assert_float_equal(cov, 1 - 22.0 / 1024, 1e-9);
    /* n = 20: [x_(6), x_(15)] */
    ah_median_ci(x, 20, 0.95, &lo, &hi, &cov);
    assert_float_equal(lo, 6, 0);
    assert_float_equal(hi, 15, 0);
    assert_true(cov >= 0.95 && cov < 0.96);
    /* n = 5: even min..max covers only 1 - 2/32 */
    double five[] = {5, 3, 1, 4, 2};
    ah_median_ci(five, 5, 0.95, &lo, &hi, &cov);
    assert_float_equal(lo, 1, 0);
    assert_float_equal(hi, 5, 0);
    assert_float_equal(cov, 0.9375, 1e-12);
}

static void test_summary_outliers(void **state) {
    double x[] = {10, 10.1, 9.9, 10.2, 9.8, 10, 30};
    ah_summary s;
    ah_summarize(x, 7, &s);
    assert_int_equal(s.n, 7);
    assert_float_equal(s.median, 10, 1e-12);
    assert_int_equal(s.outliers, 1);
    ah_summarize(x, 0, &s);
    assert_true(isnan(s.median));
}

static void test_mann_whitney(void **state) {
    double a[] = {1, 2, 3, 4, 5}, b[] = {6, 7, 8, 9, 10};
    /* complete separation, exact: 2 / C(10,5) */
    assert_float_equal(ah_mann_whitney_p(a, 5, b, 5), 2.0 / 252, 1e-12);
    assert_float_equal(ah_mann_whitney_p(a, 3, b, 3), 2.0 / 20, 1e-12);
    /* identical interleaving: p = 1 */
    double c[] = {1, 3, 5, 7}, d[] = {2, 4, 6, 8};
    double p = ah_mann_whitney_p(c, 4, d, 4);
    assert_true(p > 0.5 && p <= 1.0);
    /* ties: normal approximation, still a valid probability */
    double e[] = {1, 1, 2, 2, 3}, f[] = {3, 4, 4, 5, 5};
    p = ah_mann_whitney_p(e, 5, f, 5);
    assert_true(p > 0.005 && p < 0.05);
}

static void test_signflip(void **state) {
    double d[] = {1, 1, 1, 1, 1, 1};
    assert_float_equal(ah_signflip_p(d, 5, 0, 1), 2.0 / 32, 1e-12);
    assert_float_equal(ah_signflip_p(d, 6, 0, 1), 2.0 / 64, 1e-12);
    double z[] = {1, -1, 1, -1};
    assert_float_equal(ah_signflip_p(z, 4, 0, 1), 1.0, 1e-12);
    /* Monte Carlo path (n > 20) agrees with the exact value's order */
    double big[24];
    for (int i = 0; i < 24; i++) big[i] = 1;
    double p = ah_signflip_p(big, 24, 10000, 7);
    assert_true(p < 0.001);
}

static void test_bootstrap(void **state) {
    double c[] = {2, 2, 2, 2};
    double lo, hi;
    ah_bootstrap_mean_ci(c, 4, 10000, 1, 0.95, &lo, &hi);
    assert_float_equal(lo, 2, 1e-12);
    assert_float_equal(hi, 2, 1e-12);
    /* 400 standard normals: CI half-width ~ 1.96/20 */
    ah_rng r;
    ah_rng_seed(&r, 42);
    double x[400];
    for (int i = 0; i < 400; i++) {
        double u1 = (ah_rng_next(&r) >> 11) * 0x1.0p-53, u2 = (ah_rng_next(&r) >> 11) * 0x1.0p-53;
        x[i] = sqrt(-2 * log(u1 + 1e-300)) * cos(2 * M_PI * u2);
    }
    ah_bootstrap_mean_ci(x, 400, 10000, 3, 0.95, &lo, &hi);
    double m = ah_mean(x, 400), se = ah_sd(x, 400) / 20;
    assert_true(lo < m && m < hi);
    assert_true(fabs((hi - lo) / (2 * 1.96 * se) - 1) < 0.1);
    /* seeded: reproducible */
    double lo2, hi2;
    ah_bootstrap_mean_ci(x, 400, 10000, 3, 0.95, &lo2, &hi2);
    assert_float_equal(lo, lo2, 0);
    assert_float_equal(hi, hi2, 0);
    /* unpaired median ratio of b = 2a: exactly 2 */
    double a[50], b[50];
    for (int i = 0; i < 50; i++) {
        a[i] = 100 + i % 10;
        b[i] = 2 * a[i];
    }
    ah_bootstrap_median_ratio_ci(a, 50, b, 50, 2000, 5, 0.95, &lo, &hi);
    assert_true(lo > 1.8 && lo <= 2 && hi >= 2 && hi < 2.2);
}

static void test_verdict(void **state) {
    assert_string_equal(ah_verdict(0.01, 1.02, 1.05, 0.01, 0.05), "improved");
    assert_string_equal(ah_verdict(0.01, 1.005, 1.05, 0.01, 0.05), "no change"); /* CI within noise */
    assert_string_equal(ah_verdict(0.20, 1.02, 1.05, 0.01, 0.05), "no change");  /* not significant */
    assert_string_equal(ah_verdict(0.01, 0.90, 0.95, 0.01, 0.05), "regressed");
    assert_string_equal(ah_verdict(0.01, 0.98, 0.995, 0.01, 0.05), "no change");
    assert_string_equal(ah_verdict(NAN, 0.5, 0.6, 0.01, 0.05), "no change");
}

static void test_compare_paired(void **state) {
    double a[10], b[10], c[10];
    ah_rng r;
    ah_rng_seed(&r, 9);
    for (int i = 0; i < 10; i++) {
        a[i] = 100 + (double)ah_rng_below(&r, 2000) / 100; /* 100..120 */
        b[i] = a[i] * 0.95;
        c[i] = a[i] * 1.08;
    }
    ah_ratio out;
    assert_int_equal(ah_compare_paired(a, b, 10, 0.01, 10000, 1, &out), 0);
    assert_float_equal(out.ratio, 0.95, 1e-9);
    assert_float_equal(out.ci_lo, 0.95, 1e-9);
    assert_float_equal(out.ci_hi, 0.95, 1e-9);
    assert_float_equal(out.p, 2.0 / 1024, 1e-12);
    assert_string_equal(out.verdict, "regressed");
    assert_int_equal(ah_compare_paired(a, c, 10, 0.01, 10000, 1, &out), 0);
    assert_string_equal(out.verdict, "improved");
    /* A/A: identical samples -> no change */
    assert_int_equal(ah_compare_paired(a, a, 10, 0.01, 10000, 1, &out), 0);
    assert_float_equal(out.ratio, 1, 1e-12);
    assert_string_equal(out.verdict, "no change");
    /* 5 % slower but noisy (+-10 % per sample): not significant */
    double n1[6] = {100, 110, 90, 105, 95, 100}, n2[6] = {104, 92, 93, 90, 99, 96};
    assert_int_equal(ah_compare_paired(n1, n2, 6, 0.01, 10000, 1, &out), 0);
    assert_string_equal(out.verdict, "no change");
    /* bad input */
    double bad[2] = {1, 0};
    assert_int_equal(ah_compare_paired(a, bad, 2, 0.01, 100, 1, &out), -1);
    assert_int_equal(ah_compare_paired(a, b, 1, 0.01, 100, 1, &out), -1);
}

/* A/A false-positive rate of the decision on pure noise (+-5 %, 10 rounds,
 * noise threshold 1 %): <= 5 %. */
static void test_decision_false_positive_rate(void **state) {
    ah_rng r;
    ah_rng_seed(&r, 1234);
    int calls = 0, trials = 1000;
    for (int t = 0; t < trials; t++) {
        double a[10], b[10];
        for (int i = 0; i < 10; i++) {
            a[i] = 100 * (1 + (double)ah_rng_below(&r, 1000) / 10000);
            b[i] = 100 * (1 + (double)ah_rng_below(&r, 1000) / 10000);
        }
        ah_ratio out;
        ah_compare_paired(a, b, 10, 0.01, 2000, (uint64_t)t, &out);
        calls += strcmp(out.verdict, "no change") != 0;
    }
    assert_true(calls <= trials * 5 / 100);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median_quantile),
        cmocka_unit_test(test_median_ci_order_statistics),
        cmocka_unit_test(test_summary_outliers),
        cmocka_unit_test(test_mann_whitney),
        cmocka_unit_test(test_signflip),
        cmocka_unit_test(test_bootstrap),
        cmocka_unit_test(test_verdict),
        cmocka_unit_test(test_compare_paired),
        cmocka_unit_test(test_decision_false_positive_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
