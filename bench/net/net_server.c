/* net_server.c - the benchmark's servers: start on a free loopback port, probe, watch, stop.
 *
 * Each server is a child process (fork + execv) in a fresh directory of the
 * scratch area, with stdout and stderr in a log file there and
 * PR_SET_PDEATHSIG so it cannot outlive the benchmark. The port is one the
 * kernel just handed out for a throw-away socket (a tiny race with other
 * programs, reported as a start-up failure if lost). A server counts as up
 * when it answers PING (Redis) or HealthCheck (Sutra) on a fresh
 * connection. Stopping is SIGTERM and a bounded wait: a server that does not
 * exit in time is killed and reported, as is a non-zero exit status. CPU
 * time comes from /proc/<pid>/stat (all threads), so the report can show how
 * much of the two cores each side used during a measurement.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

volatile pid_t ns_running[NS_MAX_RUNNING];

static void track(pid_t pid, int on)
{
	for (int i = 0; i < NS_MAX_RUNNING; i++)
		if (on ? ns_running[i] == 0 : ns_running[i] == pid) {
			ns_running[i] = on ? pid : 0;
			return;
		}
}

void ns_kill_all(void)
{
	for (int i = 0; i < NS_MAX_RUNNING; i++)
		if (ns_running[i] > 0)
			kill(ns_running[i], SIGKILL);
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* ---- process ------------------------------------------------------------------ */

static void child_exec(const char *log, char *const *argv)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int null = open("/dev/null", O_RDONLY);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (fd < 0 || null < 0 || !argv[0])
		_exit(126);
	dup2(null, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	execv(argv[0], argv);
	dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int spawn(net_server *s, char *const *argv)
{
	fflush(stdout);
	s->pid = fork();
	if (s->pid < 0) {
		snprintf(s->status, sizeof(s->status), "fork: %s", strerror(errno));
		return -1;
	}
	if (s->pid == 0)
		child_exec(s->log, argv);
	track(s->pid, 1);
	return 0;
}

static void describe_exit(net_server *s, int status)
{
	if (WIFEXITED(status))
		snprintf(s->status, sizeof(s->status), "exited with status %d",
		         WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(s->status, sizeof(s->status), "killed by signal %d (%s)%s",
		         WTERMSIG(status), strsignal(WTERMSIG(status)),
		         WCOREDUMP(status) ? ", core dumped" : "");
}

int ns_alive(net_server *s)
{
	int status;

	if (s->pid <= 0)
		return 0;
	if (waitpid(s->pid, &status, WNOHANG) != s->pid)
		return 1;
	track(s->pid, 0);
	s->pid = -1;
	describe_exit(s, status);
	return 0;
}

static double now_s(void)
{
	return (double)bu_now_ns() / 1e9;
}

static void nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000l};

	nanosleep(&ts, NULL);
}

int ns_stop(net_server *s, double timeout_s)
{
	double deadline = now_s() + timeout_s;
	int rc = -1, status = 0;
	pid_t r = 0;

	if (s->pid > 0 && ns_alive(s)) {
		kill(s->pid, SIGTERM);
		while ((r = waitpid(s->pid, &status, WNOHANG)) == 0 && now_s() < deadline)
			nap_ms(10);
		if (r == s->pid) {
			describe_exit(s, status);
			rc = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
		} else {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &status, 0);
			snprintf(s->status, sizeof(s->status),
			         "did not exit within %.0f s of SIGTERM; killed", timeout_s);
		}
		track(s->pid, 0);
		s->pid = -1;
	}
	if (s->dir[0])
		bu_rmrf(s->dir);
	return rc;
}

/* ---- probing ------------------------------------------------------------------ */

/* One request/reply on a fresh connection; 0 when the reply is the expected one. */
static int probe(const net_server *s, const net_tmpl *t, char *why, size_t whyn)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok = 0;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char buf[512];
	ssize_t n = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, t->buf, t->len) != (ssize_t)t->len) {
		snprintf(why, whyn, "connect: %s", strerror(errno));
		goto out;
	}
	if (poll(&pfd, 1, 2000) == 1)
		n = read(fd, buf, sizeof(buf));
	if (n > 0)
		np_scan(t->proto, t->expect, buf, (size_t)n, &ok, why, whyn);
	if (!ok && !why[0])
		snprintf(why, whyn, "no complete reply to the probe");
out:
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

static int wait_ready(net_server *s, const net_tmpl *t, double timeout_s)
{
	double deadline = now_s() + timeout_s;
	char why[160] = "";

	while (now_s() < deadline) {
		if (!ns_alive(s))
			return -1;
		why[0] = 0;
		if (probe(s, t, why, sizeof(why)) == 0)
			return 0;
		nap_ms(20);
	}
	snprintf(s->status, sizeof(s->status), "not answering after %.0f s (%.160s)", timeout_s,
	         why);
	return -1;
}

/* Directory, log, port; then argv = base + extra; spawn; probe. */
static int start(net_server *s, char **base, int nbase, const char *const *extra,
                 const net_tmpl *probe_t, double timeout_s)
{
	char *argv[48];
	int n = 0;

	for (; n < nbase; n++)
		argv[n] = base[n];
	for (; extra && *extra && n < 47; extra++)
		argv[n++] = (char *)*extra;
	argv[n] = NULL;
	if (spawn(s, argv) < 0 || wait_ready(s, probe_t, timeout_s) < 0) {
		ns_stop(s, 5);
		return -1;
	}
	return 0;
}

static int prepare(net_server *s, const char *scratch, const char *name, enum net_proto proto)
{
	char *dir = bu_mkdtemp(scratch, name);

	memset(s, 0, sizeof(*s));
	s->name = name;
	s->proto = proto;
	s->pid = -1;
	s->port = free_port();
	if (!dir || s->port <= 0) {
		snprintf(s->status, sizeof(s->status), "no scratch directory or free port: %s",
		         bu_lasterr());
		free(dir);
		return -1;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	snprintf(s->log, sizeof(s->log), "%s.log", dir);
	free(dir);
	return 0;
}

int ns_start_redis(net_server *s, const char *bin, const char *scratch, const char *const *extra,
                   double timeout_s)
{
	char port[16];
	char *base[] = {(char *)bin, "--port",      port,     "--bind",    "127.0.0.1",
	                "--dir",     s->dir,        "--save", "",          "--io-threads",
	                "1",         "--daemonize", "no",     "--logfile", ""};
	net_tmpl t;
	int rc;

	if (prepare(s, scratch, "redis", NP_REDIS) < 0 || np_redis_ping(&t) < 0)
		return -1;
	snprintf(port, sizeof(port), "%d", s->port);
	rc = start(s, base, (int)(sizeof(base) / sizeof(base[0])), extra, &t, timeout_s);
	np_free(&t);
	return rc;
}

int ns_start_sutra(net_server *s, const char *bin, const char *scratch, const char *const *extra,
                   double timeout_s)
{
	char port[16];
	char *base[] = {(char *)bin, "--host", "127.0.0.1", "--port", port, "--data-dir", s->dir};
	net_tmpl t;
	int rc;

	if (prepare(s, scratch, "sutra", NP_SUTRA) < 0 || np_sutra_health(&t) < 0)
		return -1;
	if (access(bin, X_OK) != 0) {
		snprintf(s->status, sizeof(s->status), "%s: %s", bin, strerror(errno));
		np_free(&t);
		bu_rmrf(s->dir);
		return -1;
	}
	snprintf(port, sizeof(port), "%d", s->port);
	rc = start(s, base, (int)(sizeof(base) / sizeof(base[0])), extra, &t, timeout_s);
	np_free(&t);
	return rc;
}

/* ---- CPU ---------------------------------------------------------------------- */

double ns_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p, *end;
	unsigned long long ticks = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* After "pid (comm)": field 3 is the state; utime and stime are 14, 15. */
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 14; field++)
		p = strchr(p + 1, ' ');
	for (int i = 0; p && i < 2; i++, p = end) {
		ticks += strtoull(p + 1, &end, 10);
		if (end == p + 1)
			return -1;
	}
	return p ? (double)ticks / (double)sysconf(_SC_CLK_TCK) : -1;
}

double ns_wait_idle(pid_t a, pid_t b, double max_s)
{
	double t0 = now_s();

	while (now_s() - t0 < max_s) {
		double a0 = a > 0 ? ns_cpu_s(a) : 0, b0 = b > 0 ? ns_cpu_s(b) : 0;

		nap_ms(300);
		if ((a <= 0 || ns_cpu_s(a) - a0 < 0.006) && (b <= 0 || ns_cpu_s(b) - b0 < 0.006))
			break;
	}
	return now_s() - t0;
}

/* ---- reporting ---------------------------------------------------------------- */

void ns_print_log_tail(const net_server *s, int lines)
{
	FILE *f = fopen(s->log, "r");
	char(*ring)[256] = calloc((size_t)lines, 256);
	long n = 0;

	if (!f || !ring) {
		if (f)
			fclose(f);
		free(ring);
		return;
	}
	while (fgets(ring[n % lines], 1024, f))
		n++;
	fclose(f);
	printf("  last lines of %s:\n", s->log);
	for (long i = n > lines ? n - lines : 0; i < n; i++)
		printf("  | %s%s", ring[i % lines], strchr(ring[i % lines], '\n') ? "" : "\n");
	free(ring);
}

void ns_version(const char *bin, char *out, size_t n)
{
	char cmd[1200];
	FILE *p;

	snprintf(out, n, "unknown");
	snprintf(cmd, sizeof(cmd), "'%s' --version 2>/dev/null", bin);
	p = popen(cmd, "r");
	if (!p)
		return;
	if (fgets(out, (int)n, p))
		out[strcspn(out, "\n")] = 0;
	else
		snprintf(out, n, "unknown");
	pclose(p);
}
