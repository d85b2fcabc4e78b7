/* try.c — `autoinfer try -m MESSAGE`: the agent-driven way. Run in a run's
 * tree after a change to engine/ or pipeline.conf, it runs one experiment
 * through the driver's own step (al_try_run, optimise.c) and prints the
 * verdict in the driver's words and the files that explain it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"

/* Exit statuses: what an agent's script branches on. */
enum { TRY_KEPT = 0, TRY_ERROR = 1, TRY_USAGE = 2, TRY_REVERTED = 3, TRY_CRASHED = 4,
       TRY_REJECTED = 5, TRY_REFUSED = 6, TRY_INTERRUPTED = 130 };

static void usage(FILE *f) {
    fprintf(f,
            "usage: autoinfer try -m MESSAGE | --message-file FILE [--jobs N]\n\n"
            "Runs one experiment of the run of the current branch (autoinfer/<tag>, started with\n"
            "`autoinfer optimise --tag T --start-only`) on the change in its tree, exactly as the\n"
            "driver does: lock check, commit, build with the run's flags, interleaved A/B against\n"
            "the best with the run's judge, quality gate, confirmation of a keep, keep or revert,\n"
            "one row in results.tsv. Prints the verdict and what to read next (docs/loop.md).\n\n"
            "  -m, --message MSG     what you changed and why (the commit message and the row)\n"
            "  --message-file FILE   the same, from the first line of FILE\n"
            "  --jobs N              build parallelism (default: the CPU count)\n\n"
            "Exit status: 0 kept, 3 reverted, 4 crashed (build, run or evaluation), 5 rejected\n"
            "(the lock or the judge), 6 refused (not in a run, the run busy, nothing to try,\n"
            "budget spent: nothing was changed), 130 interrupted (logged and reverted),\n"
            "1 error, 2 bad usage.\n");
}

/* The first non-blank line of text, trimmed, into out. */
static void first_line(const char *text, char *out, size_t cap) {
    out[0] = 0;
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\r\n");
        const char *s = p, *e = p + len;
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if (e > s) {
            snprintf(out, cap, "%.*s", (int)(e - s), s);
            return;
        }
        p += len;
        p += strspn(p, "\r\n");
    }
}

static int exit_status(const char *status) {
    if (!strcmp(status, "keep")) return TRY_KEPT;
    if (!strcmp(status, "revert")) return TRY_REVERTED;
    if (!strcmp(status, "crash")) return TRY_CRASHED;
    if (!strcmp(status, "reject")) return TRY_REJECTED;
    return TRY_INTERRUPTED;
}

/* What explains the verdict: the files of experiment k that exist. */
static void print_reading(const al_try_out *o) {
    static const char *const files[] = {"evals/%d.json", "evals/%d.confirm.json", "logs/%d.build.log",
                                        "logs/%d.eval.log", "logs/%d.confirm.log", "diffs/%d.patch"};
    printf("read:");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char name[64], path[1200];
        snprintf(name, sizeof name, files[i], o->row.exp);
        snprintf(path, sizeof path, "%s/%s", o->run_dir, name);
        if (al_exists(path)) printf(" %s", path);
    }
    printf("\nall rows: %s/results.tsv; report: %s/report.md\n", o->run_dir, o->run_dir);
    printf("%s\n", !strcmp(o->row.status, "keep")
                       ? "the change is the new best; make the next one, then autoinfer try -m ..."
                       : "the tree is back at the best; make another change, then autoinfer try -m ...");
}

int ai_cmd_try(int argc, char **argv) {
    static const struct option opts[] = {{"message", required_argument, 0, 'm'},
                                         {"message-file", required_argument, 0, 'f'},
                                         {"jobs", required_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *message = NULL, *message_file = NULL;
    int jobs = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'm': message = optarg; break;
        case 'f': message_file = optarg; break;
        case 'j':
            jobs = (int)strtol(optarg, &end, 10);
            if (*end || end == optarg || jobs < 1) {
                fprintf(stderr, "autoinfer try: --jobs: expected a positive number, not '%s'\n", optarg);
                return TRY_USAGE;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return TRY_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "autoinfer try: unexpected argument '%s' (the message goes after -m, quoted)\n",
                argv[optind]);
        return TRY_USAGE;
    }
    if (message && message_file) {
        fprintf(stderr, "autoinfer try: -m and --message-file both given: use one\n");
        return TRY_USAGE;
    }
    char line[256];
    if (message_file) {
        char *text = al_read_file(message_file, NULL);
        if (!text) {
            fprintf(stderr, "autoinfer try: --message-file %s: cannot read it\n", message_file);
            return TRY_USAGE;
        }
        first_line(text, line, sizeof line);
        free(text);
        if (!line[0]) {
            fprintf(stderr, "autoinfer try: --message-file %s is empty: say what you changed and why\n",
                    message_file);
            return TRY_USAGE;
        }
    } else if (message) {
        first_line(message, line, sizeof line);
        if (!line[0]) {
            fprintf(stderr, "autoinfer try: -m: the message is empty: say what you changed and why\n");
            return TRY_USAGE;
        }
    } else {
        fprintf(stderr, "autoinfer try: no message: say what you changed and why with -m MESSAGE "
                        "or --message-file FILE\n");
        return TRY_USAGE;
    }

    al_try_out *o = malloc(sizeof *o);
    if (!o) {
        fprintf(stderr, "autoinfer try: out of memory\n");
        return TRY_ERROR;
    }
    ai_error err = {{0}};
    int rc = al_try_run(line, jobs, o, &err), status;
    if (rc == AL_TRY_DONE) {
        printf("%s\n", o->verdict);
        print_reading(o);
        status = exit_status(o->row.status);
    } else if (rc == AL_TRY_INTERRUPTED) {
        fprintf(stderr, "autoinfer try: interrupted; the experiment was reverted and logged%s%s\n",
                err.msg[0] ? ": " : "", err.msg);
        status = TRY_INTERRUPTED;
    } else {
        fprintf(stderr, "autoinfer try: %s\n", err.msg);
        status = rc == AL_TRY_REFUSED ? TRY_REFUSED : TRY_ERROR;
    }
    fflush(stdout);
    free(o);
    return status;
}
