/* decide.c — the keep/revert rule.
 *
 * Keep a candidate only when (1) its evaluation completed (no crash, hang or
 * implausible speed), (2) the quality gate passed, and (3) the interleaved
 * A/B against the current best says "improved" with the whole confidence
 * interval of the decode ratio above 1 + noise, where noise is calibrated
 * from the baseline's own A/A comparison and never below 1 %. Also keep an
 * equal-speed change that removes engine code ("simplicity wins"): verdict
 * "no change", interval not below 1 - noise, fewer lines than the best.
 * Everything else is reverted, with the reason. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "loop.h"

#define AL_NOISE_FLOOR 0.01

/* The harness's verdict (harness/stats.c, ah_compare_paired): a two-sided
 * exact sign-flip test at alpha 0.05. With n rounds its smallest p-value is
 * 2 / 2^n (every round on the same side), so below 6 rounds no candidate can
 * ever be "improved", however fast. */
#define AL_ALPHA 0.05

double al_min_p(int rounds) { return rounds < 1 ? 1.0 : fmin(1.0, 2.0 / ldexp(1.0, rounds)); }

int al_rounds_can_keep(int rounds, char *why, size_t cap) {
    if (al_min_p(rounds) < AL_ALPHA) return 1;
    int need = 1;
    while (al_min_p(need) >= AL_ALPHA) need++;
    snprintf(why, cap,
             "%d rounds can never keep anything: the sign-flip test's smallest p-value is "
             "2/2^%d = %.3g, not below alpha %.2g; use %d rounds or more",
             rounds, rounds, al_min_p(rounds), AL_ALPHA, need);
    return 0;
}

double al_noise_from_aa(const al_eval *aa) {
    double n = AL_NOISE_FLOOR;
    if (aa && aa->ratio_lo != AL_NA && aa->ratio_hi != AL_NA) {
        double spread = fmax(aa->ratio_hi - 1.0, 1.0 - aa->ratio_lo);
        if (spread > n) n = spread;
    }
    return n;
}

static void pct(char *out, size_t cap, double ratio) {
    snprintf(out, cap, "%+.1f%%", (ratio - 1.0) * 100.0);
}

void al_decide(const al_proc_result *pr, int have_json, const al_eval *e,
               double noise, int net_removed, al_outcome *out) {
    memset(out, 0, sizeof *out);
    char how[96];
    al_proc_describe(pr, how, sizeof how);
    if (pr->interrupted) {
        snprintf(out->status, sizeof out->status, "interrupted");
        snprintf(out->reason, sizeof out->reason, "interrupted during evaluation");
        return;
    }
    if (pr->timed_out) {
        snprintf(out->status, sizeof out->status, "crash");
        snprintf(out->reason, sizeof out->reason, "hang: evaluation %s", how);
        return;
    }
    if (pr->signaled) {
        snprintf(out->status, sizeof out->status, "crash");
        snprintf(out->reason, sizeof out->reason, "evaluation %s", how);
        return;
    }
    if (!have_json) {
        snprintf(out->status, sizeof out->status, "crash");
        snprintf(out->reason, sizeof out->reason, "evaluation failed (%s) without a report", how);
        return;
    }
    if (!strcmp(e->status, "crash") || !strcmp(e->status, "timeout")) {
        snprintf(out->status, sizeof out->status, "crash");
        snprintf(out->reason, sizeof out->reason, "candidate %s: %s",
                 !strcmp(e->status, "crash") ? "crashed" : "hung", e->why[0] ? e->why : how);
        return;
    }
    if (!strcmp(e->status, "implausible") || !e->plausible_ok) {
        snprintf(out->status, sizeof out->status, "revert");
        snprintf(out->reason, sizeof out->reason, "implausible speed: %s",
                 e->why[0] ? e->why : e->plausible_why[0] ? e->plausible_why : "flagged by the harness");
        return;
    }
    /* Our own roofline check, in case the harness's verdict was not set. */
    if (e->roofline != AL_NA && e->roofline > 0 && e->decode.median != AL_NA &&
        e->decode.median > e->roofline) {
        snprintf(out->status, sizeof out->status, "revert");
        snprintf(out->reason, sizeof out->reason,
                 "implausible speed: %.1f tok/s is above the memory roofline %.1f tok/s",
                 e->decode.median, e->roofline);
        return;
    }
    if (strcmp(e->status, "ok") != 0) {
        snprintf(out->status, sizeof out->status, "crash");
        snprintf(out->reason, sizeof out->reason, "evaluation status '%s': %s", e->status, e->why);
        return;
    }
    if (!e->quality_pass) {
        snprintf(out->status, sizeof out->status, "revert");
        snprintf(out->reason, sizeof out->reason, "quality gate failed: %s",
                 e->failures[0] ? e->failures : "(no detail)");
        return;
    }
    if (e->ratio == AL_NA || e->ratio_lo == AL_NA || e->ratio_hi == AL_NA) {
        snprintf(out->status, sizeof out->status, "crash");
        snprintf(out->reason, sizeof out->reason, "evaluation report lacks the A/B ratio (%s)", how);
        return;
    }
    char r[16], lo[16], hi[16];
    pct(r, sizeof r, e->ratio);
    pct(lo, sizeof lo, e->ratio_lo);
    pct(hi, sizeof hi, e->ratio_hi);
    char pv[24] = "";
    if (e->p != AL_NA) snprintf(pv, sizeof pv, " p=%.3g", e->p);
    if (!strcmp(e->verdict, "improved") && e->ratio_lo > 1.0 + noise) {
        snprintf(out->status, sizeof out->status, "keep");
        snprintf(out->reason, sizeof out->reason, "improved %s [%s, %s]%s", r, lo, hi, pv);
        return;
    }
    int equal = e->ratio_lo >= 1.0 - noise && strcmp(e->verdict, "regressed") != 0;
    if (equal && net_removed > 0) {
        snprintf(out->status, sizeof out->status, "keep");
        snprintf(out->reason, sizeof out->reason,
                 "same speed (%s [%s, %s]), %d fewer engine lines: simplicity wins", r, lo, hi,
                 net_removed);
        return;
    }
    snprintf(out->status, sizeof out->status, "revert");
    if (!strcmp(e->verdict, "regressed") || e->ratio_hi < 1.0 - noise)
        snprintf(out->reason, sizeof out->reason, "slower %s [%s, %s]%s", r, lo, hi, pv);
    else
        snprintf(out->reason, sizeof out->reason, "within noise %s [%s, %s]%s (threshold %.1f%%)",
                 r, lo, hi, pv, noise * 100.0);
}
