/* test_loop_unit.c — the driver's pure parts: pipeline.conf editing, the
 * knob search order, the decision rule, results.tsv round trips (and a torn
 * last line), the lock's path rule, the journal, child processes (and
 * the reaping of what they leave), the judge's copies and the build flags,
 * the report and the chart. The whole loop is tested by tests/cli/optimise_*.sh. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop.h"

/* ---- pipeline.conf text ---------------------------------------------------- */

static void test_conf_text(void **state) {
    const char *text = "# knobs\ntemperature = 0.7   # sampling\n top_p=0.9\n\nthreads = 2\n";
    char v[64];
    assert_int_equal(al_conf_text_get(text, "temperature", v, sizeof v), 0);
    assert_string_equal(v, "0.7");
    assert_int_equal(al_conf_text_get(text, "top_p", v, sizeof v), 0);
    assert_string_equal(v, "0.9");
    assert_int_equal(al_conf_text_get(text, "top", v, sizeof v), -1);
    assert_int_equal(al_conf_text_get(NULL, "top_p", v, sizeof v), -1);

    char *t2 = al_conf_text_set(text, "top_p", "1");
    assert_non_null(strstr(t2, "top_p = 1\n"));
    assert_non_null(strstr(t2, "# knobs\n"));
    assert_non_null(strstr(t2, "temperature = 0.7   # sampling\n"));
    assert_int_equal(al_conf_text_get(t2, "top_p", v, sizeof v), 0);
    assert_string_equal(v, "1");
    char *t3 = al_conf_text_set(t2, "kv_type", "f16");
    assert_int_equal(al_conf_text_get(t3, "kv_type", v, sizeof v), 0);
    assert_string_equal(v, "f16");
    assert_non_null(strstr(t3, "threads = 2\nkv_type = f16\n"));
    char *t4 = al_conf_text_set(NULL, "threads", "4");
    assert_string_equal(t4, "threads = 4\n");
    char *t5 = al_conf_text_set("threads = 2", "spin", "spin"); /* no final newline */
    assert_string_equal(t5, "threads = 2\nspin = spin\n");
    free(t2);
    free(t3);
    free(t4);
    free(t5);
}

/* ---- the knob search ------------------------------------------------------ */

static const ai_knob_info FAKE_KNOBS[] = {
    {"temp", AI_KNOB_FLOAT, "0.7", "0..2", "0", "argmax: no diversity", "", "decode", "", ""},
    {"seed", AI_KNOB_INT, "42", "0..9", "", "", "", "", "", ""},
    {"threads", AI_KNOB_INT, "2", "1..8", "1, 2,4", "cores", "", "decode", "", ""},
    {"kv", AI_KNOB_CHOICE, "f32", "f32|f16", "f16", "precision", "", "decode", "", ""},
};

static int next(al_strat *st, const char *conf, char *desc) {
    char k[64], v[64];
    return al_strat_next(st, FAKE_KNOBS, 4, conf, k, sizeof k, v, sizeof v, desc, 256);
}

static void test_strategy_order(void **state) {
    al_strat st = {0};
    char desc[256];
    const char *conf = "temp = 0.7\n";
    assert_int_equal(next(&st, conf, desc), 1);
    assert_string_equal(desc, "temp 0.7 -> 0");
    al_strat_advance(&st, 4, 1); /* kept */
    conf = "temp = 0\n";
    /* seed has no search values; threads skips its current value 2 */
    assert_int_equal(next(&st, conf, desc), 1);
    assert_string_equal(desc, "threads 2 -> 1");
    al_strat_advance(&st, 4, 0);
    assert_int_equal(next(&st, conf, desc), 1);
    assert_string_equal(desc, "threads 2 -> 4");
    al_strat_advance(&st, 4, 0);
    assert_int_equal(next(&st, conf, desc), 1);
    assert_string_equal(desc, "kv f32 -> f16");
    al_strat_advance(&st, 4, 0);
    /* a pass kept something: a second pass, temp=0 is now current */
    assert_int_equal(next(&st, conf, desc), 1);
    assert_int_equal(st.pass, 1);
    assert_string_equal(desc, "threads 2 -> 1");
    for (int i = 0; i < 3; i++) {
        al_strat_advance(&st, 4, 0);
        if (i < 2) assert_int_equal(next(&st, conf, desc), 1);
    }
    /* nothing kept in pass 2: done */
    assert_int_equal(next(&st, conf, desc), 0);
    assert_true(st.done);
}

static void test_strategy_numeric_equal(void **state) {
    al_strat st = {0};
    char desc[256];
    /* "0.0" equals the search value "0": skipped */
    assert_int_equal(next(&st, "temp = 0.0\nthreads = 4\nkv = f16\n", desc), 1);
    assert_string_equal(desc, "threads 4 -> 1");
}

/* ---- the decision ------------------------------------------------------------ */

static al_eval good_eval(double ratio, double lo, double hi, const char *verdict) {
    al_eval e;
    memset(&e, 0, sizeof e);
    e.have_json = 1;
    snprintf(e.status, sizeof e.status, "ok");
    snprintf(e.verdict, sizeof e.verdict, "%s", verdict);
    e.ratio = ratio;
    e.ratio_lo = lo;
    e.ratio_hi = hi;
    e.p = 0.01;
    e.quality_pass = 1;
    e.plausible_ok = 1;
    e.roofline = 1000;
    e.decode = (al_stat){100 * ratio, 99, 101};
    return e;
}

static void test_decide(void **state) {
    al_proc_result ok = {.exited = 1, .code = 0};
    al_outcome o;
    al_eval e = good_eval(1.05, 1.03, 1.07, "improved");
    al_decide(&ok, 1, &e, 0.01, 0, &o);
    assert_string_equal(o.status, "keep");
    assert_non_null(strstr(o.reason, "improved +5.0%"));
    /* the same CI but a noisier machine: not enough */
    al_decide(&ok, 1, &e, 0.04, 0, &o);
    assert_string_equal(o.status, "revert");
    assert_non_null(strstr(o.reason, "within noise"));
    /* quality first */
    e.quality_pass = 0;
    snprintf(e.failures, sizeof e.failures, "kl_mean 0.1 > 0.02");
    al_decide(&ok, 1, &e, 0.01, 0, &o);
    assert_string_equal(o.status, "revert");
    assert_non_null(strstr(o.reason, "quality gate failed: kl_mean"));
    /* simplicity wins, but only when code goes away */
    e = good_eval(1.0, 0.995, 1.005, "no change");
    al_decide(&ok, 1, &e, 0.01, 0, &o);
    assert_string_equal(o.status, "revert");
    al_decide(&ok, 1, &e, 0.01, 12, &o);
    assert_string_equal(o.status, "keep");
    assert_non_null(strstr(o.reason, "12 fewer engine lines"));
    e = good_eval(0.95, 0.94, 0.96, "regressed");
    al_decide(&ok, 1, &e, 0.01, 40, &o);
    assert_string_equal(o.status, "revert");
    assert_non_null(strstr(o.reason, "slower"));
    /* implausible: by the harness, and by our own roofline check */
    e = good_eval(3.0, 2.9, 3.1, "improved");
    snprintf(e.status, sizeof e.status, "implausible");
    al_decide(&ok, 1, &e, 0.01, 0, &o);
    assert_string_equal(o.status, "revert");
    assert_non_null(strstr(o.reason, "implausible"));
    e = good_eval(3.0, 2.9, 3.1, "improved");
    e.roofline = 150;
    al_decide(&ok, 1, &e, 0.01, 0, &o);
    assert_non_null(strstr(o.reason, "roofline"));
    /* crashes */
    al_proc_result seg = {.signaled = 1, .sig = 11};
    al_decide(&seg, 0, &e, 0.01, 0, &o);
    assert_string_equal(o.status, "crash");
    assert_non_null(strstr(o.reason, "SIGSEGV"));
    al_proc_result hang = {.timed_out = 1, .wall_s = 30};
    al_decide(&hang, 0, &e, 0.01, 0, &o);
    assert_string_equal(o.status, "crash");
    assert_non_null(strstr(o.reason, "hang"));
    al_proc_result four = {.exited = 1, .code = 4};
    e = good_eval(1, 1, 1, "no change");
    snprintf(e.status, sizeof e.status, "timeout");
    snprintf(e.why, sizeof e.why, "candidate B exceeded 300 s");
    al_decide(&four, 1, &e, 0.01, 0, &o);
    assert_string_equal(o.status, "crash");
    assert_non_null(strstr(o.reason, "hung: candidate B exceeded"));
    al_proc_result one = {.exited = 1, .code = 1};
    al_decide(&one, 0, &e, 0.01, 0, &o);
    assert_string_equal(o.status, "crash");
    assert_non_null(strstr(o.reason, "without a report"));
}

static void test_noise(void **state) {
    al_eval aa = good_eval(1.0, 0.996, 1.004, "no change");
    assert_true(fabs(al_noise_from_aa(&aa) - 0.01) < 1e-12); /* the 1 % floor */
    aa = good_eval(1.01, 0.985, 1.03, "no change");
    assert_true(fabs(al_noise_from_aa(&aa) - 0.03) < 1e-9);
    assert_true(fabs(al_noise_from_aa(NULL) - 0.01) < 1e-12);
}

/* ---- results.tsv ----------------------------------------------------------------- */

static void test_results_roundtrip(void **state) {
    char dir[256], path[300];
    tu_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/results.tsv", dir);
    ai_error err;
    al_row r;
    al_row_init(&r, 0);
    snprintf(r.status, sizeof r.status, "baseline");
    snprintf(r.description, sizeof r.description, "tabs\tand\nnewlines are flattened");
    r.decode = 123.456;
    r.best_same = 120.5;
    r.quality_pass = 1;
    assert_int_equal(al_results_append(path, &r, &err), 0);
    al_row_init(&r, 1);
    snprintf(r.status, sizeof r.status, "crash");
    snprintf(r.reason, sizeof r.reason, "build failed: x.c:1: error: expected ';'");
    assert_int_equal(al_results_append(path, &r, &err), 0);

    al_row *rows;
    int n;
    assert_int_equal(al_results_read(path, &rows, &n, 1, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].description, "tabs and newlines are flattened");
    assert_true(fabs(rows[0].decode - 123.46) < 1e-9);
    assert_int_equal(rows[0].quality_pass, 1);
    assert_true(rows[1].decode == AL_NA);
    assert_int_equal(rows[1].quality_pass, -1);
    assert_true(fabs(rows[0].best_same - 120.5) < 1e-9);
    assert_true(rows[1].best_same == AL_NA);
    assert_string_equal(rows[1].reason, "build failed: x.c:1: error: expected ';'");
    free(rows);

    /* a row of the 21-column format (before best_tps_same_session) reads too */
    FILE *f = fopen(path, "a");
    fputs("2\tabc\t1\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\trevert\td\tr\tt\t2026-01-01T00:00:00\n", f);
    fclose(f);
    assert_int_equal(al_results_read(path, &rows, &n, 1, &err), 0);
    assert_int_equal(n, 3);
    assert_true(rows[2].best_same == AL_NA);
    assert_string_equal(rows[2].status, "revert");
    free(rows);

    /* a torn last line (power loss mid-write) is dropped and repaired */
    f = fopen(path, "a");
    fputs("3\tabc\t1", f);
    fclose(f);
    assert_int_equal(al_results_read(path, &rows, &n, 1, &err), 0);
    assert_int_equal(n, 3);
    free(rows);
    size_t len;
    char *text = tu_read_file(path, &len);
    assert_int_equal(text[len - 1], '\n');
    assert_int_equal(strncmp(text, "exp\tcommit\tavg_generation_tps", 29), 0);
    free(text);
    /* a malformed line is an error naming the line */
    f = fopen(path, "a");
    fputs("garbage\n", f);
    fclose(f);
    assert_int_equal(al_results_read(path, &rows, &n, 1, &err), -1);
    assert_non_null(strstr(err.msg, "results.tsv:5"));
    unlink(path);
    rmdir(dir);
}

/* ---- the lock, the journal -------------------------------------------------------- */

static void test_lock_paths(void **state) {
    assert_true(al_lock_allowed("engine/model.c"));
    assert_true(al_lock_allowed("engine/sub/new.c"));
    assert_true(al_lock_allowed("pipeline.conf"));
    assert_false(al_lock_allowed("harness/eval.c"));
    assert_false(al_lock_allowed("program.md"));
    assert_false(al_lock_allowed("tests/test_cli.c"));
    assert_false(al_lock_allowed("include/autoinfer.h"));
    assert_false(al_lock_allowed("engine"));
    assert_false(al_lock_allowed("engine/.gitignore"));
    assert_false(al_lock_allowed("engine/../harness/eval.c"));
    assert_false(al_lock_allowed("sub/pipeline.conf"));
}

static void test_state_roundtrip(void **state) {
    char dir[256], path[300];
    tu_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/state.json", dir);
    al_state s, t;
    memset(&s, 0, sizeof s);
    snprintf(s.tag, sizeof s.tag, "t1");
    snprintf(s.phase, sizeof s.phase, "running");
    snprintf(s.best_commit, sizeof s.best_commit, "abc");
    s.noise = 0.0123;
    s.budget = 15;
    s.next_exp = 7;
    s.strat = (al_strat){1, 3, 2, 1, 0};
    s.pending = 1;
    s.pend_exp = 7;
    snprintf(s.pend_step, sizeof s.pend_step, "eval");
    ai_error err;
    assert_int_equal(al_state_save(path, &s, &err), 0);
    assert_int_equal(al_state_load(path, &t, &err), 0);
    assert_string_equal(t.tag, "t1");
    assert_string_equal(t.best_commit, "abc");
    assert_true(fabs(t.noise - 0.0123) < 1e-12);
    assert_int_equal(t.budget, 15);
    assert_int_equal(t.strat.knob, 3);
    assert_int_equal(t.strat.kept_in_pass, 1);
    assert_int_equal(t.pending, 1);
    assert_string_equal(t.pend_step, "eval");
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_false(al_exists(tmp));
    assert_int_equal(al_state_load("/nonexistent/state.json", &t, &err), -1);
    unlink(path);
    rmdir(dir);
}

/* ---- child processes ------------------------------------------------------------ */

static void test_proc(void **state) {
    ai_error err;
    al_proc_result r;
    char out[256], errb[256];
    al_proc_opts o = {0};
    o.out = out;
    o.out_cap = sizeof out;
    o.errbuf = errb;
    o.err_cap = sizeof errb;
    const char *echo[] = {"sh", "-c", "echo hello; echo oops >&2; exit 3", NULL};
    assert_int_equal(al_proc_run(echo, &o, &r, &err), 0);
    assert_true(r.exited);
    assert_int_equal(r.code, 3);
    assert_string_equal(out, "hello\n");
    assert_string_equal(errb, "oops\n");

    al_proc_opts t = {0};
    t.timeout_s = 0.3;
    t.new_group = 1;
    const char *sleeper[] = {"sh", "-c", "sleep 30; echo never", NULL};
    assert_int_equal(al_proc_run(sleeper, &t, &r, &err), 0);
    assert_true(r.timed_out);
    assert_true(r.wall_s < 10);

    const char *segv[] = {"sh", "-c", "kill -SEGV $$", NULL};
    al_proc_opts p = {0};
    assert_int_equal(al_proc_run(segv, &p, &r, &err), 0);
    assert_true(r.signaled);
    assert_int_equal(r.sig, 11);
    char how[96];
    al_proc_describe(&r, how, sizeof how);
    assert_string_equal(how, "killed by signal 11 (SIGSEGV)");

    const char *missing[] = {"/nonexistent/binary", NULL};
    assert_int_equal(al_proc_run(missing, &p, &r, &err), -1);
    assert_non_null(strstr(err.msg, "cannot run '/nonexistent/binary'"));

    /* limits reach the child */
    al_proc_opts l = {0};
    l.out = out;
    l.out_cap = sizeof out;
    l.mem_mb = 4096;
    l.cpu_s = 77;
    const char *lim[] = {"sh", "-c", "ulimit -v; ulimit -t", NULL};
    assert_int_equal(al_proc_run(lim, &l, &r, &err), 0);
    assert_string_equal(out, "4194304\n77\n");

    volatile sig_atomic_t stop = 1;
    al_proc_opts s = {0};
    s.stop = &stop;
    s.new_group = 1;
    assert_int_equal(al_proc_run(sleeper, &s, &r, &err), 0);
    assert_true(r.interrupted);
}

/* ---- report and chart ----------------------------------------------------------- */

static void sample_rows(al_row *rows) {
    const char *st[] = {"baseline", "keep", "revert", "crash", "revert", "keep"};
    const double dec[] = {100, 108, 107.5, AL_NA, 90, 111};
    for (int i = 0; i < 6; i++) {
        al_row_init(&rows[i], i);
        snprintf(rows[i].status, sizeof rows[i].status, "%s", st[i]);
        rows[i].decode = dec[i];
        if (dec[i] != AL_NA) {
            rows[i].decode_lo = dec[i] - 1;
            rows[i].decode_hi = dec[i] + 1;
            rows[i].ratio = i ? dec[i] / 100 : 1;
        }
        snprintf(rows[i].description, sizeof rows[i].description, "change <%d> | x", i);
        snprintf(rows[i].reason, sizeof rows[i].reason, "because & so");
    }
    rows[4].quality_pass = 0;
}

/* ---- the judge's copies (judge.c) ------------------------------------------- */

static void put(const char *path, const char *text) {
    ai_error err;
    assert_int_equal(al_write_atomic(path, text, strlen(text), &err), 0);
}

static void test_judge_verify(void **state) {
    (void)state;
    char dir[256], pub[300], jdir[300], priv[AL_JUDGE_PATH], changed[256];
    ai_error err;
    tu_temp_dir(dir, sizeof dir);
    snprintf(pub, sizeof pub, "%s/gate.conf", dir);
    snprintf(jdir, sizeof jdir, "%s/judge", dir);
    put(pub, "kl_mean_max = 0.007\n");
    al_judge j;
    assert_int_equal(al_judge_open(&j, jdir, &err), 0);
    assert_int_equal(al_judge_add(&j, "data/gate.conf", pub, pub, "harness/gate.conf", &err), 0);
    assert_int_equal(al_judge_add_text(&j, "build.flags", "C_FLAGS = -O2\n", &err), 0);
    assert_int_equal(al_judge_save(&j, &err), 0);
    al_judge_path(&j, "data/gate.conf", priv, sizeof priv);
    struct stat st;
    assert_int_equal(stat(priv, &st), 0);
    assert_int_equal(st.st_mode & 0222, 0); /* read-only */
    assert_int_equal(al_judge_verify(&j, changed, sizeof changed, &err), 0);

    /* the visible twin changed: named, restored from the driver's copy */
    put(pub, "kl_mean_max = 100\n");
    assert_int_equal(al_judge_verify(&j, changed, sizeof changed, &err), 1);
    assert_string_equal(changed, "harness/gate.conf");
    char *text = tu_read_file(pub, NULL);
    assert_string_equal(text, "kl_mean_max = 0.007\n");
    free(text);

    /* the driver's copy changed (after a reload of the manifest): restored
     * from the twin */
    al_judge k;
    assert_int_equal(al_judge_load(&k, jdir, &err), 0);
    assert_int_equal(k.n, 2);
    chmod(priv, 0644);
    put(priv, "kl_mean_max = 100\n");
    assert_int_equal(al_judge_verify(&k, changed, sizeof changed, &err), 1);
    text = al_judge_read(&k, "data/gate.conf");
    assert_string_equal(text, "kl_mean_max = 0.007\n");
    free(text);

    /* both changed: no intact copy, the run cannot go on */
    chmod(priv, 0644);
    put(priv, "x\n");
    put(pub, "y\n");
    assert_int_equal(al_judge_verify(&k, changed, sizeof changed, &err), -1);
    assert_non_null(strstr(err.msg, "harness/gate.conf changed and no intact copy is left"));

    /* a bad manifest is an error naming the file */
    char man[400];
    snprintf(man, sizeof man, "%s/MANIFEST", jdir);
    put(man, "not a manifest\n");
    assert_int_equal(al_judge_load(&k, jdir, &err), -1);
    assert_non_null(strstr(err.msg, "bad manifest line"));
}

static void test_build_flags(void **state) {
    (void)state;
    char dir[256], path[400];
    tu_temp_dir(dir, sizeof dir);
    assert_null(al_build_flags(dir)); /* not configured */
    snprintf(path, sizeof path, "%s/CMakeCache.txt", dir);
    put(path, "# comment\nCMAKE_C_FLAGS:STRING=-O2\nCMAKE_C_COMPILER:FILEPATH=/usr/bin/cc\n"
              "AI_CUDA:STRING=off\nFOO:STRING=unrelated\n");
    snprintf(path, sizeof path, "%s/CMakeFiles/lib.dir", dir);
    ai_error err;
    assert_int_equal(al_mkdirs(path, &err), 0);
    snprintf(path, sizeof path, "%s/CMakeFiles/lib.dir/link.txt", dir);
    put(path, "/usr/bin/ar qc lib.a a.c.o b.c.o\n");
    snprintf(path, sizeof path, "%s/CMakeFiles/lib.dir/flags.make", dir);
    put(path, "C_FLAGS = -O2\n");
    char *before = al_build_flags(dir);
    assert_non_null(before);
    assert_non_null(strstr(before, "CMAKE_C_FLAGS:STRING=-O2"));
    assert_non_null(strstr(before, "AI_CUDA"));
    assert_null(strstr(before, "unrelated"));
    /* a new object in an archive line is no change of flags */
    snprintf(path, sizeof path, "%s/CMakeFiles/lib.dir/link.txt", dir);
    put(path, "/usr/bin/ar qc lib.a a.c.o b.c.o zz_new.c.o\n");
    char *after = al_build_flags(dir);
    assert_string_equal(before, after);
    free(after);
    /* a flag slipped into flags.make is */
    snprintf(path, sizeof path, "%s/CMakeFiles/lib.dir/flags.make", dir);
    put(path, "C_FLAGS = -O2 -include slow.h\n");
    after = al_build_flags(dir);
    assert_string_not_equal(before, after);
    free(after);
    free(before);
}

static void test_reap_orphans(void **state) {
    (void)state;
    /* a child that leaves a grandchild in a session of its own, then ends:
     * the grandchild comes to us (a subreaper) and is killed */
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    al_proc_opts o = {0};
    o.new_group = 1;
    al_proc_result r;
    ai_error err;
    const char *argv[] = {"sh", "-c", "setsid sleep 300 </dev/null >/dev/null 2>&1 & exit 0", NULL};
    assert_int_equal(al_proc_run(argv, &o, &r, &err), 0);
    int killed = 0;
    for (int i = 0; i < 100 && !killed; i++) { /* the grandchild may take a moment to fork */
        killed = al_proc_reap_orphans();
        if (!killed) usleep(20000);
    }
    assert_int_equal(killed, 1);
    assert_int_equal(al_proc_reap_orphans(), 0);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static void test_report_markdown(void **state) {
    al_row rows[6];
    sample_rows(rows);
    char *md = al_report_markdown(rows, 6, "autoinfer run `t`", "chart.svg");
    assert_non_null(md);
    assert_non_null(strstr(md, "| # | Experiment | decode tok/s | prefill tok/s | KL | sanity | Decision | Tradeoff |"));
    assert_non_null(strstr(md, "Experiments: 5 total, 2 kept, 2 reverted, 1 crashed."));
    assert_non_null(strstr(md, "| avg_generation_tps (decode tok/s) | 100.00 | 111.00 | +11.0% |"));
    assert_non_null(strstr(md, "change <3> \\| x"));  /* pipes escaped */
    assert_non_null(strstr(md, "| **decode speed-up** (kept A/B ratios chained) | 1 | 1.199× | +19.9% |"));
    assert_non_null(strstr(md, "| CRASH |"));
    assert_non_null(strstr(md, "![decode tok/s per experiment](chart.svg)"));
    free(md);
    md = al_report_markdown(rows, 0, "empty", NULL);
    assert_non_null(strstr(md, "No experiments yet."));
    free(md);
}

static void test_chart_svg(void **state) {
    al_row rows[6];
    sample_rows(rows);
    char *svg = al_chart_svg(rows, 6, "autoinfer t — model.gguf");
    assert_non_null(svg);
    assert_int_equal(strncmp(svg, "<?xml", 5), 0);
    assert_non_null(strstr(svg, "</svg>"));
    assert_non_null(strstr(svg, "best so far"));
    assert_non_null(strstr(svg, "&lt;"));       /* escaped */
    assert_null(strstr(svg, "change <"));        /* never raw */
    assert_non_null(strstr(svg, "#f59e0b"));    /* quality failure marked */
    assert_non_null(strstr(svg, "#dc2626"));    /* the crash on the floor */
    free(svg);
    svg = al_chart_svg(rows, 1, "only the baseline");
    assert_non_null(strstr(svg, "</svg>"));
    free(svg);
    svg = al_chart_svg(rows, 0, "empty");
    assert_non_null(strstr(svg, "</svg>"));
    free(svg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_text),
        cmocka_unit_test(test_strategy_order),
        cmocka_unit_test(test_strategy_numeric_equal),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_noise),
        cmocka_unit_test(test_results_roundtrip),
        cmocka_unit_test(test_lock_paths),
        cmocka_unit_test(test_state_roundtrip),
        cmocka_unit_test(test_proc),
        cmocka_unit_test(test_judge_verify),
        cmocka_unit_test(test_build_flags),
        cmocka_unit_test(test_reap_orphans),
        cmocka_unit_test(test_report_markdown),
        cmocka_unit_test(test_chart_svg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
