/* sanity.h — the seed's task-level sanity checks, one per benchmark prompt. */
#ifndef AH_SANITY_H
#define AH_SANITY_H

#include <stddef.h>

/* Checks the model's answer `text` to the prompt named `prompt_id`
 * (transformers, compiler, train, poem, lcs). Returns 1 pass, 0 fail,
 * -1 when the id has no check. `why` receives one line explaining the
 * verdict (what matched, or what was missing). */
int ah_sanity_check(const char *prompt_id, const char *text, char *why, size_t cap);

#endif
