/* error.c — the one-line error messages every API call leaves behind. */
#include <stdarg.h>
#include <stdio.h>

#include "autoinfer.h"

int ai_error_set(ai_error *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}
