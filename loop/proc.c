/* proc.c — child processes for the driver: argv (never a shell string),
 * optional own process group, wall-clock timeout, RLIMIT_AS / RLIMIT_CPU,
 * captured or logged output, and a stop flag (Ctrl-C) that kills the child.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

/* In the child: exec or report the failure on the error pipe and _exit. */
static void child_exec(const char *const *argv, const al_proc_opts *o,
                       int out_fd, int err_fd, int report_fd) {
    if (o->new_group) setpgid(0, 0);
    /* A child must not outlive a driver killed with -9. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int in = open(o->stdin_path ? o->stdin_path : "/dev/null", O_RDONLY);
    if (in >= 0) {
        dup2(in, 0);
        if (in != 0) close(in);
    }
    if (out_fd >= 0) dup2(out_fd, 1);
    if (err_fd >= 0) dup2(err_fd, 2);
    if (o->mem_mb > 0) {
        struct rlimit rl = {(rlim_t)o->mem_mb << 20, (rlim_t)o->mem_mb << 20};
        setrlimit(RLIMIT_AS, &rl);
    }
    if (o->cpu_s > 0) {
        struct rlimit rl = {(rlim_t)o->cpu_s, (rlim_t)o->cpu_s + 5};
        setrlimit(RLIMIT_CPU, &rl);
    }
    for (const char *const *e = o->env; e && *e; e++) putenv((char *)*e);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    if (o->cwd && chdir(o->cwd) != 0) {
        int e = errno;
        (void)!write(report_fd, &e, sizeof e);
        _exit(127);
    }
    execvp(argv[0], (char *const *)argv);
    int e = errno;
    (void)!write(report_fd, &e, sizeof e);
    _exit(127);
}

/* One read into buf; returns read()'s result (0 at end of file). */
static ssize_t drain(int fd, char *buf, size_t cap, size_t *len) {
    char tmp[4096];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r <= 0) return r;
    if (buf && cap > 1) {
        size_t take = (size_t)r;
        if (*len + take > cap - 1) take = cap - 1 - *len;
        memcpy(buf + *len, tmp, take);
        *len += take;
        buf[*len] = 0;
    }
    return r;
}

static void kill_child(pid_t pid, int group, int sig) {
    if (group) kill(-pid, sig);
    kill(pid, sig);
}

int al_proc_run(const char *const *argv, const al_proc_opts *o,
                al_proc_result *r, ai_error *err) {
    memset(r, 0, sizeof *r);
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, rep[2] = {-1, -1};
    int log_fd = -1;
    if (o->out && o->out_cap) o->out[0] = 0;
    if (o->errbuf && o->err_cap) o->errbuf[0] = 0;
    if (o->log_path) {
        log_fd = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0)
            return ai_error_set(err, "%s: cannot open log: %s", o->log_path, strerror(errno));
    }
    if ((o->out && pipe2(out_pipe, O_CLOEXEC)) || (o->errbuf && pipe2(err_pipe, O_CLOEXEC)) ||
        pipe2(rep, O_CLOEXEC)) {
        int e = errno;
        if (log_fd >= 0) close(log_fd);
        return ai_error_set(err, "pipe: %s", strerror(e));
    }
    double t0 = al_now();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        if (log_fd >= 0) close(log_fd);
        return ai_error_set(err, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        int ofd = o->out ? out_pipe[1] : log_fd;
        int efd = o->errbuf ? err_pipe[1] : log_fd;
        /* dup2 clears FD_CLOEXEC on the copies; originals close at exec. */
        child_exec(argv, o, ofd, efd, rep[1]);
    }
    if (o->new_group) setpgid(pid, pid);
    close(rep[1]);
    if (out_pipe[1] >= 0) close(out_pipe[1]);
    if (err_pipe[1] >= 0) close(err_pipe[1]);
    if (log_fd >= 0) close(log_fd);

    size_t out_len = 0, err_len = 0;
    int status = 0, done = 0, killed_at = 0;
    double kill_deadline = 0;
    for (;;) {
        struct pollfd fds[2];
        int nf = 0;
        if (out_pipe[0] >= 0) fds[nf++] = (struct pollfd){out_pipe[0], POLLIN, 0};
        if (err_pipe[0] >= 0) fds[nf++] = (struct pollfd){err_pipe[0], POLLIN, 0};
        if (nf) {
            if (poll(fds, (nfds_t)nf, 50) > 0) {
                for (int i = 0; i < nf; i++) {
                    if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
                    if (fds[i].fd == out_pipe[0]) {
                        if (drain(out_pipe[0], o->out, o->out_cap, &out_len) == 0) {
                            close(out_pipe[0]);
                            out_pipe[0] = -1;
                        }
                    } else if (drain(err_pipe[0], o->errbuf, o->err_cap, &err_len) == 0) {
                        close(err_pipe[0]);
                        err_pipe[0] = -1;
                    }
                }
            }
        } else {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            done = 1;
            break;
        }
        if (w < 0 && errno != EINTR) break;
        double now = al_now();
        if (!killed_at) {
            if (o->timeout_s > 0 && now - t0 > o->timeout_s) {
                r->timed_out = 1;
                killed_at = 1;
            } else if (o->stop && *o->stop) {
                r->interrupted = 1;
                killed_at = 1;
            }
            if (killed_at) {
                kill_child(pid, o->new_group, SIGTERM);
                kill_deadline = now + 3.0;
            }
        } else if (now > kill_deadline) {
            kill_child(pid, o->new_group, SIGKILL);
            kill_deadline = now + 3600;
        }
    }
    /* Whatever is left in the pipes. */
    if (out_pipe[0] >= 0) {
        int fl = fcntl(out_pipe[0], F_GETFL);
        fcntl(out_pipe[0], F_SETFL, fl | O_NONBLOCK);
        while (drain(out_pipe[0], o->out, o->out_cap, &out_len) > 0) {}
        close(out_pipe[0]);
    }
    if (err_pipe[0] >= 0) {
        int fl = fcntl(err_pipe[0], F_GETFL);
        fcntl(err_pipe[0], F_SETFL, fl | O_NONBLOCK);
        while (drain(err_pipe[0], o->errbuf, o->err_cap, &err_len) > 0) {}
        close(err_pipe[0]);
    }
    /* Leftover grandchildren of a group we own. */
    if (o->new_group) kill(-pid, SIGKILL);
    r->wall_s = al_now() - t0;

    int exec_errno = 0;
    ssize_t got = read(rep[0], &exec_errno, sizeof exec_errno);
    close(rep[0]);
    if (got == (ssize_t)sizeof exec_errno)
        return ai_error_set(err, "cannot run '%s': %s", argv[0], strerror(exec_errno));
    if (!done) return ai_error_set(err, "waitpid(%s): %s", argv[0], strerror(errno));
    if (WIFEXITED(status)) {
        r->exited = 1;
        r->code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status) && !r->timed_out && !r->interrupted) {
        r->signaled = 1;
        r->sig = WTERMSIG(status);
    }
    return 0;
}

void al_proc_describe(const al_proc_result *r, char *out, size_t cap) {
    if (r->timed_out)
        snprintf(out, cap, "killed after the %.0f s time limit", r->wall_s);
    else if (r->interrupted)
        snprintf(out, cap, "interrupted");
    else if (r->signaled)
        snprintf(out, cap, "killed by signal %d (SIG%s)", r->sig,
                 sigabbrev_np(r->sig) ? sigabbrev_np(r->sig) : "?");
    else if (r->exited)
        snprintf(out, cap, "exit %d", r->code);
    else
        snprintf(out, cap, "ended abnormally");
}

/* The parent's pid from /proc/PID/stat ("pid (comm) state ppid ..."). */
static pid_t parent_of(const char *pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *close_paren = strrchr(buf, ')');
    int ppid = 0;
    char state;
    if (!close_paren || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2) return 0;
    return (pid_t)ppid;
}

int al_proc_reap_orphans(void) {
    pid_t self = getpid();
    int killed = 0;
    /* killing one hands its own children to us: repeat until none is left */
    for (int pass = 0; pass < 64; pass++) {
        DIR *d = opendir("/proc");
        if (!d) break;
        int found = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] < '1' || e->d_name[0] > '9' || parent_of(e->d_name) != self) continue;
            pid_t pid = (pid_t)atoi(e->d_name);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            found++;
        }
        closedir(d);
        killed += found;
        if (!found) break;
    }
    return killed;
}
