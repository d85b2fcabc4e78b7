/* test_search.c — the screening search (loop/search.c) on a simulated
 * landscape, the decision rule's power check, and the real knob table's
 * search metadata.
 *
 * The landscape: a known speed function of seven knobs with
 *   - threads x spin interacting: 4 threads only pay with spin, spin only
 *     with 4 threads (each alone is slower), so one-knob moves cannot find it;
 *   - prefetch peaking at 20, between its listed values (refinement);
 *   - sampling (temperature 0) a plain +8 %, scalar kernels a loss, top_k
 *     no effect, a prefill-only knob the decode search must not spend on, and
 *     a CUDA-only knob the search on a CPU must not spend on either.
 * Every measurement is R interleaved rounds with 2 % log-normal noise per
 * sample, compared by the harness's own statistics (ah_compare_paired) and
 * decided by the driver's own rule (al_decide) with a threshold from an A/A
 * run, and every keep is confirmed by a second measurement, as in the
 * driver. */
#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "stats.h"

static const ai_knob_info SIM_KNOBS[] = {
    {"temperature", AI_KNOB_FLOAT, "0.7", "0..2", "0", "t", "", "decode", "", ""},
    {"threads", AI_KNOB_INT, "2", "1..8", "1,4,8", "t", "", "decode,prefill", "spin", ""},
    {"spin", AI_KNOB_CHOICE, "yield", "spin|yield", "spin", "t", "", "decode,prefill", "", ""},
    {"prefetch", AI_KNOB_INT, "8", "0..64", "0,32", "t", "", "decode,prefill", "", ""},
    {"kernels", AI_KNOB_CHOICE, "auto", "auto|scalar", "scalar", "t", "", "decode,prefill", "", ""},
    {"top_k", AI_KNOB_INT, "0", "0..100", "40", "t", "", "decode", "", ""},
    {"prefill_chunk", AI_KNOB_INT, "256", "16..1024", "16,64,512", "t", "", "prefill,memory", "", ""},
    {"cuda_block", AI_KNOB_INT, "256", "64..1024", "128", "t", "", "decode", "", "cuda"},
};
#define SIM_NK ((int)(sizeof SIM_KNOBS / sizeof SIM_KNOBS[0]))
#define FULL_ROUNDS 10
#define SIGMA 0.02

typedef struct sim {
    uint64_t rng;
    int flat;                 /* every configuration equally fast */
    double cost;              /* full-A/B equivalents spent (rounds / FULL_ROUNDS) */
    int fulls, keeps, prefill_moves;
} sim;

static double uniform(sim *m) { /* xorshift64*, in (0, 1) */
    m->rng ^= m->rng >> 12;
    m->rng ^= m->rng << 25;
    m->rng ^= m->rng >> 27;
    return ((double)((m->rng * 2685821657736338717ull) >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(sim *m) { return sqrt(-2 * log(uniform(m))) * cos(2 * M_PI * uniform(m)); }

static const char *val(const al_search *s, const char *name) {
    for (int k = 0; k < s->nk; k++)
        if (!strcmp(s->knobs[k].name, name)) return s->cur[k];
    return "";
}

/* log speed of a configuration (knob values as in s->cur) */
static double log_speed(const sim *m, char cur[][64]) {
    if (m->flat) return 0;
    double l = 0;
    if (atof(cur[0]) == 0) l += 0.08;
    int threads = atoi(cur[1]), spin = !strcmp(cur[2], "spin");
    if (threads == 1) l -= 0.4;
    if (threads == 4) l += spin ? 0.25 : -0.08;
    if (threads == 8) l += spin ? 0.05 : -0.2;
    if (threads == 2 && spin) l -= 0.05;
    l += 0.15 * fmax(0, 1 - fabs(atof(cur[3]) - 20) / 20);
    if (!strcmp(cur[4], "scalar")) l -= 0.9;
    return l;
}

/* One interleaved A/B of `rounds` rounds: best vs best + move. */
static void measure(sim *m, const al_search *s, const al_move *mv, int rounds, ah_ratio *r) {
    char cand[AL_SEARCH_MAX_KNOBS][64];
    memcpy(cand, s->cur, sizeof cand);
    for (int i = 0; mv && i < mv->n; i++) snprintf(cand[mv->knob[i]], 64, "%s", mv->value[i]);
    if (mv)
        for (int i = 0; i < mv->n; i++)
            if (!strcmp(s->knobs[mv->knob[i]].name, "prefill_chunk")) m->prefill_moves++;
    double la = log_speed(m, (char(*)[64])s->cur), lb = log_speed(m, cand);
    double a[64], b[64];
    for (int i = 0; i < rounds; i++) {
        a[i] = 100 * exp(la + SIGMA * gauss(m));
        b[i] = 100 * exp(lb + SIGMA * gauss(m));
    }
    assert_int_equal(ah_compare_paired(a, b, rounds, 0.01, 400, m->rng, r), 0);
    m->cost += (double)rounds / FULL_ROUNDS;
}

/* A full A/B decided by the driver's rule. */
static int full_keep(sim *m, const al_search *s, const al_move *mv, double noise) {
    ah_ratio r;
    measure(m, s, mv, FULL_ROUNDS, &r);
    al_eval e;
    memset(&e, 0, sizeof e);
    strcpy(e.status, "ok");
    snprintf(e.verdict, sizeof e.verdict, "%s", ah_verdict(r.p, r.ci_lo, r.ci_hi, noise, 0.05));
    e.ratio = r.ratio;
    e.ratio_lo = r.ci_lo;
    e.ratio_hi = r.ci_hi;
    e.p = r.p;
    e.quality_pass = 1;
    e.plausible_ok = 1;
    e.roofline = e.decode.median = AL_NA;
    al_proc_result pr = {0};
    pr.exited = 1;
    al_outcome out;
    al_decide(&pr, 1, &e, noise, 0, &out);
    return !strcmp(out.status, "keep");
}

static const al_search_opts OPTS = {AL_FIG_DECODE, 2, FULL_ROUNDS, 2, "cpu", ""};

/* Runs the search to its end; returns the cost at which it first stood on
 * the optimum (-1: never). */
static double run_search(sim *m, al_search *s) {
    assert_int_equal(al_search_init(s, SIM_KNOBS, SIM_NK, &OPTS, ""), 0);
    ah_ratio aa;
    measure(m, s, NULL, FULL_ROUNDS, &aa);
    al_eval ae;
    memset(&ae, 0, sizeof ae);
    ae.ratio_lo = aa.ci_lo;
    ae.ratio_hi = aa.ci_hi;
    double noise = al_noise_from_aa(&ae);
    double reached = -1;
    al_move mv;
    int rounds, step;
    while ((step = al_search_next(s, &mv, &rounds)) != AL_SEARCH_DONE) {
        if (step == AL_SEARCH_SCREEN) {
            ah_ratio r;
            measure(m, s, &mv, rounds, &r);
            al_search_screened(s, r.ratio);
            continue;
        }
        m->fulls++;
        /* every keep is confirmed by a second, independent A/B */
        int kept = full_keep(m, s, &mv, noise) && full_keep(m, s, &mv, noise);
        m->keeps += kept;
        al_search_decided(s, kept);
        if (kept && reached < 0 && !strcmp(val(s, "temperature"), "0") &&
            !strcmp(val(s, "threads"), "4") && !strcmp(val(s, "spin"), "spin") &&
            !strcmp(val(s, "prefetch"), "20"))
            reached = m->cost;
    }
    return reached;
}

/* The simulated optimum in every one of 20 seeds, within a stated budget.
 * The full grid of this landscape's decode knobs (temperature 2 x threads 4
 * x spin 2 x prefetch 5 x kernels 2 x top_k 2) is 320 configurations. */
#define SEEDS 20
#define BUDGET 30.0 /* full-A/B equivalents, screening and confirmations included */

static void test_search_finds_the_optimum(void **state) {
    double worst = 0, total = 0, sum_reached = 0;
    for (int seed = 1; seed <= SEEDS; seed++) {
        sim m = {.rng = 0x9e3779b97f4a7c15ull * (uint64_t)seed};
        al_search s;
        double reached = run_search(&m, &s);
        if (reached < 0 || reached > BUDGET)
            fail_msg("seed %d: optimum %s (cost %.1f; ended at threads %s spin %s prefetch %s "
                     "temperature %s)", seed, reached < 0 ? "never reached" : "reached late",
                     reached, val(&s, "threads"), val(&s, "spin"), val(&s, "prefetch"),
                     val(&s, "temperature"));
        assert_int_equal(m.prefill_moves, 0); /* the decode search never touched prefill_chunk */
        worst = fmax(worst, reached);
        sum_reached += reached;
        total += m.cost;
    }
    printf("search: optimum reached in %d of %d seeds, after %.1f full-A/B equivalents on "
           "average (worst %.1f, budget %.0f); %.1f spent to the end\n", SEEDS, SEEDS,
           sum_reached / SEEDS, worst, BUDGET, total / SEEDS);
}

/* Coordinate descent (the knobs strategy) on the same landscape: one-knob
 * moves cannot cross the threads x spin valley. */
static void test_coordinate_descent_misses_the_joint_optimum(void **state) {
    sim m = {.rng = 7};
    al_search s; /* only for its cur[] and the measurement */
    assert_int_equal(al_search_init(&s, SIM_KNOBS, SIM_NK, &OPTS, ""), 0);
    al_strat st = {0};
    char conf[512] = "", key[64], value[64], desc[256];
    while (al_strat_next(&st, SIM_KNOBS, SIM_NK, conf, key, sizeof key, value, sizeof value, desc,
                         sizeof desc)) {
        int k = 0;
        while (strcmp(SIM_KNOBS[k].name, key)) k++;
        al_move mv = {.n = 1, .knob = {k}};
        snprintf(mv.value[0], sizeof mv.value[0], "%s", value);
        int kept = full_keep(&m, &s, &mv, 0.02) && full_keep(&m, &s, &mv, 0.02);
        if (kept) {
            snprintf(s.cur[k], sizeof s.cur[k], "%s", value);
            char *t = al_conf_text_set(conf, key, value);
            snprintf(conf, sizeof conf, "%s", t);
            free(t);
        }
        al_strat_advance(&st, SIM_NK, kept);
    }
    assert_string_equal(val(&s, "temperature"), "0");
    assert_string_equal(val(&s, "threads"), "2");
    assert_string_equal(val(&s, "spin"), "yield");
    printf("coordinate descent: stuck at threads 2 / spin yield after %.1f full-A/B equivalents\n",
           m.cost);
}

/* A flat landscape: every kept move is a no-op. Over many seeds at most
 * 5 % of the full experiments may end kept. */
static void test_search_flat_keeps_few_noops(void **state) {
    int fulls = 0, keeps = 0;
    for (int seed = 1; seed <= 200; seed++) {
        sim m = {.rng = 0x2545f4914f6cdd1dull * (uint64_t)seed, .flat = 1};
        al_search s;
        run_search(&m, &s);
        fulls += m.fulls;
        keeps += m.keeps;
    }
    printf("flat landscape: %d of %d full experiments kept (%.1f %%)\n", keeps, fulls,
           100.0 * keeps / (fulls ? fulls : 1));
    assert_true(fulls > 0);
    assert_true(keeps * 20 <= fulls);
}

/* Walks the first screening rung, answering "no gain" for every move;
 * returns the moves as "|desc|desc|...|" (malloc'd). */
static char *first_rung(al_search *s) {
    al_move mv;
    int rounds;
    size_t cap = 1 << 14, used = 1;
    char *all = calloc(1, cap);
    all[0] = '|';
    while (al_search_next(s, &mv, &rounds) == AL_SEARCH_SCREEN && s->rung == 0) {
        used += (size_t)snprintf(all + used, cap - used, "%s|", mv.desc);
        al_search_screened(s, 0.99);
    }
    return all;
}

static void test_search_neighbourhood(void **state) {
    al_search s;
    assert_int_equal(al_search_init(&s, SIM_KNOBS, SIM_NK, &OPTS, "prefetch = 8\n"), 0);
    char *moves = first_rung(&s);
    assert_non_null(strstr(moves, "|threads 2 -> 4, spin yield -> spin|")); /* joint */
    assert_non_null(strstr(moves, "|prefetch 8 -> 20|")); /* refined between 8 and 32 */
    assert_non_null(strstr(moves, "|prefetch 8 -> 4|"));
    assert_non_null(strstr(moves, "|temperature 0.7 -> 0|"));
    assert_null(strstr(moves, "prefill_chunk")); /* a decode search skips prefill-only knobs */
    assert_null(strstr(moves, "cuda_block"));    /* and, on a CPU, CUDA-only ones */
    assert_null(strstr(moves, "threads 2 -> 2"));
    free(moves);
    /* everything screened below 1: nothing promoted, the search is done */
    al_move mv;
    int rounds;
    assert_int_equal(al_search_next(&s, &mv, &rounds), AL_SEARCH_DONE);

    /* the same configuration again, with the rejected-move memory: every
     * move was rejected there, so nothing is retried */
    al_search t;
    assert_int_equal(al_search_init(&t, SIM_KNOBS, SIM_NK, &OPTS, ""), 0);
    memcpy(t.tried, s.tried, sizeof t.tried);
    t.ntried = s.ntried;
    assert_int_equal(al_search_next(&t, &mv, &rounds), AL_SEARCH_DONE);

    /* on CUDA (or an unknown backend) cuda_block is searched; --knobs limits
     * the search to the listed knobs */
    al_search_opts co = OPTS;
    snprintf(co.backend, sizeof co.backend, "cuda");
    assert_int_equal(al_search_init(&t, SIM_KNOBS, SIM_NK, &co, ""), 0);
    moves = first_rung(&t);
    assert_non_null(strstr(moves, "|cuda_block 256 -> 128|"));
    free(moves);
    snprintf(co.only, sizeof co.only, "threads,spin"); /* 2 -> 3: refined between 2 and 4 */
    assert_int_equal(al_search_init(&t, SIM_KNOBS, SIM_NK, &co, ""), 0);
    moves = first_rung(&t);
    assert_string_equal(moves, "|threads 2 -> 1|threads 2 -> 4|threads 2 -> 8|threads 2 -> 3|spin yield -> spin|"
                               "threads 2 -> 1, spin yield -> spin|threads 2 -> 4, spin yield -> spin|"
                               "threads 2 -> 8, spin yield -> spin|");
    free(moves);

    /* a prefill objective does search prefill_chunk */
    al_search_opts po = OPTS;
    po.objective = AL_FIG_PREFILL;
    assert_int_equal(al_search_init(&t, SIM_KNOBS, SIM_NK, &po, ""), 0);
    moves = first_rung(&t);
    assert_non_null(strstr(moves, "|prefill_chunk 256 -> 64|"));
    assert_null(strstr(moves, "temperature"));
    free(moves);

    /* a kept move moves the search: a new neighbourhood around it */
    assert_int_equal(al_search_init(&t, SIM_KNOBS, SIM_NK, &OPTS, ""), 0);
    while (al_search_next(&t, &mv, &rounds) == AL_SEARCH_SCREEN)
        al_search_screened(&t, !strcmp(mv.desc, "temperature 0.7 -> 0") ? 1.08 : 0.98);
    assert_string_equal(mv.desc, "temperature 0.7 -> 0");
    assert_int_equal(rounds, FULL_ROUNDS);
    al_search_decided(&t, 1);
    assert_string_equal(val(&t, "temperature"), "0");
    assert_int_equal(al_search_next(&t, &mv, &rounds), AL_SEARCH_SCREEN);
    assert_null(strstr(mv.desc, "temperature 0.7"));
    char *conf = al_move_apply(&t, &mv, "# comment\ntemperature = 0\n");
    assert_non_null(strstr(conf, "# comment\n"));
    assert_non_null(strstr(conf, t.knobs[mv.knob[0]].name));
    free(conf);
}

static void test_rounds_power(void **state) {
    char why[200];
    assert_true(fabs(al_min_p(4) - 0.125) < 1e-12);
    assert_false(al_rounds_can_keep(2, why, sizeof why));
    assert_false(al_rounds_can_keep(5, why, sizeof why));
    assert_non_null(strstr(why, "5 rounds can never keep anything"));
    assert_non_null(strstr(why, "2/2^5 = 0.0625"));
    assert_non_null(strstr(why, "use 6 rounds or more"));
    assert_true(al_rounds_can_keep(6, why, sizeof why));
    assert_true(al_rounds_can_keep(30, why, sizeof why));
}

/* The engine's knob table: every knob says which figures it moves (names the
 * search knows), joint partners exist, prefill-only knobs say so. */
static void test_real_knob_metadata(void **state) {
    int n;
    const ai_knob_info *k = ai_knobs(&n);
    for (int i = 0; i < n; i++) {
        unsigned mask;
        if (!k[i].moves || al_figures_parse(k[i].moves, &mask))
            fail_msg("knob %s: bad moves '%s'", k[i].name, k[i].moves ? k[i].moves : "(null)");
        assert_non_null(k[i].joint);
        char buf[128];
        snprintf(buf, sizeof buf, "%s", k[i].joint);
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
            int found = 0;
            for (int j = 0; j < n; j++) found |= !strcmp(k[j].name, t);
            if (!found) fail_msg("knob %s: joint partner '%s' is no knob", k[i].name, t);
        }
        if (!strcmp(k[i].name, "prefill_chunk") || !strcmp(k[i].name, "gemm") ||
            !strcmp(k[i].name, "gemm_min_tokens"))
            assert_false(mask & AL_FIG_DECODE);
    }
    unsigned m;
    assert_int_equal(al_figures_parse("decode, memory", &m), 0);
    assert_int_equal(m, AL_FIG_DECODE | AL_FIG_MEMORY);
    assert_int_equal(al_figures_parse("speed", &m), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounds_power),
        cmocka_unit_test(test_real_knob_metadata),
        cmocka_unit_test(test_search_neighbourhood),
        cmocka_unit_test(test_search_finds_the_optimum),
        cmocka_unit_test(test_coordinate_descent_misses_the_joint_optimum),
        cmocka_unit_test(test_search_flat_keeps_few_noops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
