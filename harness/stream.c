/* stream.c — the judge's side of the worker protocol (worker.c).
 *
 * The judge starts the candidate's worker, sends it requests and stamps
 * each token line with its own clock as it arrives; it counts the tokens
 * and enforces the deadline. The worker's peak memory is read from
 * /proc/<pid>/status, outside the worker. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static void set_why(ah_worker *w, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_why(ah_worker *w, const char *status, const char *fmt, ...) {
    if (w->status[0]) return; /* the first failure is the one that counts */
    snprintf(w->status, sizeof w->status, "%s", status);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->why, sizeof w->why, fmt, ap);
    va_end(ap);
}

/* Keeps the last non-empty line of the worker's stderr. */
static void take_err(ah_worker *w, const char *buf, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c == '\n' || c == '\r') {
            if (w->err_len) {
                w->err_line[w->err_len] = 0;
                snprintf(w->err_tail, sizeof w->err_tail, "%s", w->err_line);
                w->err_len = 0;
            }
        } else if (w->err_len + 1 < sizeof w->err_line) {
            w->err_line[w->err_len++] = c;
        }
    }
}

/* Reads what is there (waiting until the deadline) into the stdout buffer.
 * Returns 1 when data came, 0 on EOF, -1 on timeout or error. */
static int pump(ah_worker *w, double deadline) {
    for (;;) {
        double left = deadline - ah_now();
        if (left <= 0) return -1;
        struct pollfd fds[2] = {{w->out, POLLIN, 0}, {w->err, POLLIN, 0}};
        int nf = w->err >= 0 ? 2 : 1;
        int rc = poll(fds, (nfds_t)nf, (int)(left * 1000) + 1);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return -1;
        if (nf == 2 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buf[4096];
            ssize_t n = read(w->err, buf, sizeof buf);
            if (n > 0) take_err(w, buf, (size_t)n);
            else {
                close(w->err);
                w->err = -1;
            }
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            w->stamp = ah_now();
            if (w->len + 1 >= sizeof w->buf) return -1; /* a line longer than any request */
            ssize_t n = read(w->out, w->buf + w->len, sizeof w->buf - 1 - w->len);
            if (n <= 0) return 0;
            w->len += (size_t)n;
            w->buf[w->len] = 0;
            return 1;
        }
    }
}

/* Waits (until the deadline) for the worker to exit and says how it ended,
 * with the last line of its stderr. Returns 1 when it was reaped. */
static int reap(ah_worker *w, double deadline) {
    int st;
    while (ah_now() < deadline) {
        pid_t r = waitpid(w->pid, &st, WNOHANG);
        if (r == w->pid) {
            w->reaped = 1;
            char buf[4096];
            ssize_t n;
            while (w->err >= 0 && (n = read(w->err, buf, sizeof buf)) > 0) take_err(w, buf, (size_t)n);
            if (w->err_len) take_err(w, "\n", 1);
            if (WIFSIGNALED(st))
                set_why(w, "crash", "%s: killed by signal %d (%s)%s%s", w->who, WTERMSIG(st),
                        strsignal(WTERMSIG(st)), w->err_tail[0] ? ": " : "", w->err_tail);
            else if (WIFEXITED(st) && WEXITSTATUS(st))
                set_why(w, "crash", "%s: exit status %d%s%s", w->who, WEXITSTATUS(st),
                        w->err_tail[0] ? ": " : "", w->err_tail);
            return 1;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* The next complete stdout line into out (without '\n'); *at = the time the
 * judge read it. Returns 0, or -1 with the status set. */
static int next_line(ah_worker *w, double deadline, char *out, size_t cap, double *at) {
    for (;;) {
        char *nl = memchr(w->buf, '\n', w->len);
        if (nl) {
            size_t n = (size_t)(nl - w->buf);
            snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), w->buf);
            memmove(w->buf, nl + 1, w->len - n - 1);
            w->len -= n + 1;
            *at = w->stamp;
            return 0;
        }
        int rc = pump(w, deadline);
        if (rc > 0) continue;
        if (rc < 0 && ah_now() >= deadline)
            set_why(w, "timeout", "%s: no answer within the time limit (killed)", w->who);
        else {
            reap(w, fmin(deadline, ah_now() + 5)); /* says so if it crashed or failed */
            set_why(w, "crash", "%s: the worker closed its output%s%s", w->who,
                    w->err_tail[0] ? ": " : "", w->err_tail);
        }
        return -1;
    }
}

int ah_worker_start(ah_worker *w, const char *who, char *const argv[], double deadline) {
    memset(w, 0, sizeof *w);
    w->pid = -1;
    w->in = w->out = w->err = -1;
    snprintf(w->who, sizeof w->who, "%s", who);
    int pi[2], po[2], pe[2];
    if (pipe(pi)) goto no_pipe;
    if (pipe(po)) {
        close(pi[0]);
        close(pi[1]);
        goto no_pipe;
    }
    if (pipe(pe)) {
        close(pi[0]);
        close(pi[1]);
        close(po[0]);
        close(po[1]);
        goto no_pipe;
    }
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        /* a worker must not outlive the judge (even one killed with -9) */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pi[0], 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        for (int i = 0; i < 2; i++) {
            close(pi[i]);
            close(po[i]);
            close(pe[i]);
        }
        execv(argv[0], argv);
        fprintf(stderr, "cannot execute %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pi[0]);
    close(po[1]);
    close(pe[1]);
    if (pid < 0) {
        close(pi[1]);
        close(po[0]);
        close(pe[0]);
        set_why(w, "crash", "%s: cannot start %s: %s", who, argv[0], strerror(errno));
        return -1;
    }
    setpgid(pid, pid);
    w->pid = pid;
    w->in = pi[1];
    w->out = po[0];
    w->err = pe[0];
    char hello[512];
    double at;
    if (next_line(w, deadline, hello, sizeof hello, &at)) return -1;
    int version = 0, used = 0;
    unsigned long long bpt = 0, dev = 0;
    if (sscanf(hello, "autoinfer-worker %d %15s %llu %llu %n", &version, w->backend, &bpt, &dev,
               &used) < 4 ||
        version != AH_WORKER_PROTOCOL) {
        if (!strncmp(hello, "error ", 6))
            set_why(w, "crash", "%s: %s", who, hello + 6);
        else
            set_why(w, "crash",
                    "%s: the worker does not speak protocol %d (its first line: '%.80s'); "
                    "a build older than this judge cannot be measured by it",
                    who, AH_WORKER_PROTOCOL, hello);
        return -1;
    }
    snprintf(w->device, sizeof w->device, "%s", used ? hello + used : "");
    w->bytes_per_token = (double)bpt;
    w->device_bytes = (double)dev;
    return 0;
no_pipe:
    set_why(w, "crash", "%s: cannot create pipes: %s", who, strerror(errno));
    return -1;
}

static int write_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Writes "<verb> N K t1 .. tK". */
static int send_request(ah_worker *w, const char *verb, int n, const int32_t *tok, int k) {
    size_t cap = 48 + (size_t)k * 12, len = 0;
    char *req = malloc(cap);
    if (!req) abort();
    len += (size_t)snprintf(req, cap, "%s %d %d", verb, n, k);
    for (int i = 0; i < k; i++) len += (size_t)snprintf(req + len, cap - len, " %d", (int)tok[i]);
    req[len++] = '\n';
    int bad = write_all(w->in, req, len);
    free(req);
    if (bad)
        set_why(w, "crash", "%s: the worker stopped reading requests%s%s", w->who,
                w->err_tail[0] ? ": " : "", w->err_tail);
    return bad ? -1 : 0;
}

/* The token lines of a request, each stamped as it arrives, then "end":
 * exactly n of them (exact: gen) or at most n (answer); *got = how many. */
static int read_tokens(ah_worker *w, double deadline, int n, int exact, int32_t *ids,
                       double *arrive, int *got) {
    for (int i = 0;; i++) {
        char line[256], *end;
        double at;
        *got = i;
        if (next_line(w, deadline, line, sizeof line, &at)) {
            if (exact && !strcmp(w->status, "crash"))
                snprintf(w->why + strlen(w->why), sizeof w->why - strlen(w->why),
                         " (after %d of %d tokens)", i < n ? i : n, n);
            return -1;
        }
        if (!strcmp(line, "end")) {
            if (i == n || !exact) return 0;
            set_why(w, "crash", "%s: the worker ended the request after %d of %d tokens", w->who,
                    i, n);
            return -1;
        }
        if (!strncmp(line, "error ", 6)) {
            set_why(w, "crash", "%s: %s", w->who, line + 6);
            return -1;
        }
        errno = 0;
        long v = strtol(line, &end, 10);
        if (end == line || *end || errno || v < 0 || v > INT32_MAX || i == n) {
            if (exact)
                set_why(w, "crash", "%s: token %d of %d: expected %s, the worker printed '%.80s'",
                        w->who, i + 1, n, i == n ? "'end'" : "a token id", line);
            else
                set_why(w, "crash", "%s: answer token %d: expected a token id or 'end' (at most "
                        "%d tokens), the worker printed '%.80s'", w->who, i + 1, n, line);
            return -1;
        }
        ids[i] = (int32_t)v;
        if (arrive) arrive[i] = at;
    }
}

int ah_worker_gen(ah_worker *w, const int32_t *prompt, int k, int n, double deadline,
                  int32_t *ids, double *t_sent, double *arrive) {
    *t_sent = ah_now();
    if (send_request(w, "gen", n, prompt, k)) return -1;
    int got;
    return read_tokens(w, deadline, n, 1, ids, arrive, &got);
}

/* Exactly n bytes of the worker's stdout. */
static int read_bytes(ah_worker *w, void *dst, size_t n, double deadline) {
    char *d = dst;
    while (n) {
        if (!w->len) {
            int rc = pump(w, deadline);
            if (rc <= 0) {
                set_why(w, rc < 0 ? "timeout" : "crash", "%s: %s in the middle of a logits row",
                        w->who, rc < 0 ? "no data within the time limit" : "the worker closed its output");
                return -1;
            }
            continue;
        }
        size_t k = w->len < n ? w->len : n;
        memcpy(d, w->buf, k);
        memmove(w->buf, w->buf + k, w->len - k);
        w->len -= k;
        d += k;
        n -= k;
    }
    return 0;
}

int ah_worker_answer(ah_worker *w, const int32_t *prompt, int k, int max, double deadline,
                     int32_t *ids, int *n) {
    *n = 0;
    if (send_request(w, "answer", max, prompt, k)) return -1;
    return read_tokens(w, deadline, max, 0, ids, NULL, n);
}

int ah_worker_score(ah_worker *w, const int32_t *tok, int n, int from, int n_vocab,
                    double deadline, ai_logits_fn fn, void *user) {
    if (send_request(w, "score", from, tok, n)) return -1;
    float *row = malloc(sizeof *row * (size_t)n_vocab);
    if (!row) abort();
    int want = from, stop = 0, rc = -1;
    for (;;) {
        char line[256];
        double at;
        int pos, v, used = 0;
        if (next_line(w, deadline, line, sizeof line, &at)) break;
        if (!strcmp(line, "end")) {
            if (want == n - 1) rc = 0;
            else set_why(w, "crash", "%s: scoring %d tokens: logits for positions %d..%d, "
                         "expected %d..%d", w->who, n, from, want - 1, from, n - 2);
            break;
        }
        if (!strncmp(line, "error ", 6)) {
            set_why(w, "crash", "%s: %s", w->who, line + 6);
            break;
        }
        if (sscanf(line, "logits %d %d%n", &pos, &v, &used) != 2 || line[used] || pos != want ||
            v != n_vocab) {
            set_why(w, "crash", "%s: expected 'logits %d %d', the worker printed '%.80s'", w->who,
                    want, n_vocab, line);
            break;
        }
        if (read_bytes(w, row, sizeof *row * (size_t)n_vocab, deadline)) break;
        /* after the caller has seen enough, the rest is read and dropped */
        if (!stop) stop = fn(user, pos, row, n_vocab);
        want++;
    }
    free(row);
    return rc;
}

int ah_worker_stop(ah_worker *w, double deadline) {
    if (w->in >= 0) {
        if (!w->status[0]) write_all(w->in, "quit\n", 5);
        close(w->in);
        w->in = -1;
    }
    if (w->pid > 0 && !w->reaped && !w->status[0]) {
        /* it should exit now, printing nothing more */
        int rc;
        while ((rc = pump(w, deadline)) > 0 && !memchr(w->buf, '\n', w->len)) {
        }
        if (rc > 0)
            set_why(w, "crash", "%s: unexpected output after the last request: '%.*s'", w->who,
                    (int)strcspn(w->buf, "\n") < 80 ? (int)strcspn(w->buf, "\n") : 80, w->buf);
        else if (rc < 0 || !reap(w, deadline))
            set_why(w, "timeout", "%s: did not exit after 'quit' (killed)", w->who);
    }
    if (w->pid > 0) {
        /* whatever the worker started dies with it */
        kill(-w->pid, SIGKILL);
        if (!w->reaped) {
            kill(w->pid, SIGKILL);
            waitpid(w->pid, NULL, 0);
        }
        w->pid = -1;
    }
    if (w->out >= 0) close(w->out);
    if (w->err >= 0) close(w->err);
    w->out = w->err = -1;
    return w->status[0] ? -1 : 0;
}
