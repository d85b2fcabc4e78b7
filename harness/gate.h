/* gate.h — the quality gate: thresholds from the locked harness/gate.conf
 * and the verdict on a set of quality figures. */
#ifndef AH_GATE_H
#define AH_GATE_H

#include <stddef.h>

#include "autoinfer.h"

typedef struct ah_gate {
    double sanity_min;      /* absolute floor of the sanity pass rate (seed: 0.6) */
    double sanity_drop_max; /* with a baseline: floor = min(sanity_min, base - this) */
    double ppl_max;         /* absolute perplexity ceiling on the reference text (seed: 50) */
    double ppl_ratio_max;   /* with a baseline: ppl / baseline ppl */
    double kl_mean_max;     /* with a baseline: mean KL(baseline || current) */
    double kl_p99_max;      /* with a baseline: 99th percentile of the per-token KL */
    double top1_min;        /* with a baseline: argmax agreement */
    double self_ppl_ratio_max; /* with a baseline: self-perplexity of the sampled
                                  answers / the baseline's (a sampler that picks
                                  unlikely tokens raises it; lower always passes) */
    int tokenizer_must_match; /* with a baseline: reference text tokenizes the same */
    double roofline_margin; /* decode tps above roofline x this is implausible */
    double work_excess_max; /* --ab: surprise of B's speed-run tokens under the
                               judge's own model above its entropy, nats per
                               token, beyond which the tokens are not the
                               model's (workcheck.c) */
    int sanity_tokens;      /* max tokens of a natural (EOS-stopped) answer */
    int greedy_tokens;      /* max tokens of a baseline greedy answer */
    char greedy_set[128];   /* knob settings (comma-separated KEY=VALUE) for greedy */
} ah_gate;

/* The built-in defaults (used only by tests; eval reads gate.conf). */
void ah_gate_defaults(ah_gate *g);
/* Reads `path` over the defaults; unknown keys and bad values are errors
 * naming path:line. */
int ah_gate_load(ah_gate *g, const char *path, ai_error *err);

/* Quality figures; NAN (or has_baseline == 0) where not measured. */
typedef struct ah_quality_figs {
    double sanity;
    double ppl;
    int has_baseline;
    double base_sanity;
    double ppl_ratio, kl_mean, kl_p99, top1;
    int tokenizer_match;
    double self_ppl_ratio; /* NAN when either side has none: not gated */
} ah_quality_figs;

/* Applies the gate. Writes one line per failed threshold into
 * failures[i] (each `len` bytes, up to `cap` lines) and returns the number
 * of failures (0 = pass; may exceed cap). A NAN figure that should have
 * been measured is a failure. */
int ah_gate_check(const ah_gate *g, const ah_quality_figs *q, char *failures,
                  size_t len, int cap);

#endif
