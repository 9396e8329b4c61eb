/* bench_util.c - helpers shared by the benchmark programs (see bench_util.h).
 *
 * Nothing here is clever on purpose: the clocks are clock_gettime, the PRNG is
 * splitmix64, scratch directories are mkdtemp + nftw, RSS comes from
 * /proc/self/statm after malloc_trim(0), and results are written with stdio.
 * The results file is opened with O_APPEND and each JSON line is written with
 * one write(2), so forked benchmark children can append to it safely and a
 * crash never leaves half a line behind.
 */
#include "bench_util.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <ftw.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- time ---------------------------------------------------------------- */

uint64_t bu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t bu_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- deterministic data ----------------------------------------------------- */

uint64_t bu_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void bu_fill_printable(uint64_t *state, char *out, size_t n)
{
	static const char alpha[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .";
	size_t i = 0;

	while (i < n) {
		uint64_t r = bu_rand(state);

		for (int k = 0; k < 10 && i < n; k++, r >>= 6)
			out[i++] = alpha[r & 63];
	}
}

void bu_fill_id(uint64_t *state, sutra_id *out)
{
	uint64_t a = bu_rand(state), b = bu_rand(state);

	memcpy(out->b, &a, 8);
	memcpy(out->b + 8, &b, 8);
}

int bu_set_make(bench_set *s, size_t n, size_t content_len, uint32_t dim, uint64_t seed)
{
	uint64_t st = seed;

	memset(s, 0, sizeof(*s));
	s->n = n;
	s->recs = calloc(n ? n : 1, sizeof(*s->recs));
	s->content = malloc(n * content_len + 1);
	if (dim)
		s->vecs = malloc((size_t)BU_VEC_POOL * dim * sizeof(float));
	if (!s->recs || !s->content || (dim && !s->vecs)) {
		bu_set_free(s);
		return bu_err("out of memory generating %zu records", n);
	}
	for (size_t i = 0; dim && i < (size_t)BU_VEC_POOL * dim; i++)
		s->vecs[i] = (float)((double)(bu_rand(&st) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
	for (size_t i = 0; i < n; i++) {
		bench_rec *r = &s->recs[i];

		bu_fill_id(&st, &r->id);
		r->content = s->content + i * content_len;
		bu_fill_printable(&st, s->content + i * content_len, content_len);
		r->content_len = content_len;
		r->vector = dim ? s->vecs + (i % BU_VEC_POOL) * dim : NULL;
		r->dim = dim;
		r->strength = 1.0f;
		r->confidence = 0.5f + (float)(i % 50) / 100.0f;
	}
	return 0;
}

void bu_set_free(bench_set *s)
{
	free(s->recs);
	free(s->content);
	free(s->vecs);
	memset(s, 0, sizeof(*s));
}

/* ---- errors -------------------------------------------------------------- */

static _Thread_local char errbuf[512];

int bu_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return -1;
}

const char *bu_lasterr(void)
{
	return errbuf;
}

/* ---- files and processes --------------------------------------------------- */

char *bu_mkdtemp(const char *base, const char *tag)
{
	char *path;

	if (asprintf(&path, "%s/%s-XXXXXX", base, tag) < 0)
		return NULL;
	if (!mkdtemp(path)) {
		bu_err("mkdtemp %s: %s", path, strerror(errno));
		free(path);
		return NULL;
	}
	return path;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

void bu_rmrf(const char *path)
{
	if (path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void bu_rss(uint64_t *resident, uint64_t *anon)
{
	unsigned long size = 0, res = 0, shared = 0;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f;

	malloc_trim(0);
	f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%lu %lu %lu", &size, &res, &shared) != 3)
			res = shared = 0;
		fclose(f);
	}
	*resident = (uint64_t)res * (uint64_t)page;
	*anon = (uint64_t)(res - shared) * (uint64_t)page;
}

void bu_settle(void)
{
	sync();
}

/* ---- statistics ---------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

uint64_t bu_quantile(uint64_t *v, size_t n, double q)
{
	size_t i;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

double bu_fsync_rate(const char *dir, double seconds, int append)
{
	char path[4096], buf[4096];
	uint64_t t0, t, n = 0;
	off_t off = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/fsync-probe", dir);
	memset(buf, 'x', sizeof(buf));
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return bu_err("open %s: %s", path, strerror(errno));
	if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) || fsync(fd) != 0) {
		bu_err("write %s: %s", path, strerror(errno));
		goto fail;
	}
	t0 = t = bu_now_ns();
	while ((double)(t - t0) < seconds * 1e9) {
		buf[n % sizeof(buf)]++;
		if (pwrite(fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf) || fdatasync(fd)) {
			bu_err("pwrite/fdatasync %s: %s", path, strerror(errno));
			goto fail;
		}
		if (append)
			off += (off_t)sizeof(buf);
		n++;
		t = bu_now_ns();
	}
	close(fd);
	unlink(path);
	return (double)n / ((double)(t - t0) / 1e9);
fail:
	close(fd);
	unlink(path);
	return -1;
}

double bu_append_rate(const char *dir, size_t total, double *synced)
{
	char path[4096];
	size_t chunk = 64 << 10, done = 0;
	char *buf = malloc(chunk);
	uint64_t t0, t1, t2;
	int fd;

	snprintf(path, sizeof(path), "%s/append-probe", dir);
	if (!buf)
		return bu_err("out of memory");
	memset(buf, 'y', chunk);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		free(buf);
		return bu_err("open %s: %s", path, strerror(errno));
	}
	t0 = bu_now_ns();
	for (; done < total; done += chunk)
		if (write(fd, buf, chunk) != (ssize_t)chunk)
			break;
	t1 = bu_now_ns();
	if (done == total && fdatasync(fd) != 0)
		done = 0;
	t2 = bu_now_ns();
	close(fd);
	unlink(path);
	free(buf);
	if (done < total)
		return bu_err("write/fdatasync %s: %s", path, strerror(errno));
	*synced = (double)total / ((double)(t2 - t0) / 1e9);
	return (double)total / ((double)(t1 - t0) / 1e9);
}

/* ---- results ------------------------------------------------------------- */

static int results_fd = -1;
static int results_quick = 1;
static char results_commit[64]; /* empty: no "commit" field (bu_results_commit) */
static char run_id[64];
static char cpu_model[128] = "unknown";
static long ncpu;

int bu_results_open(const char *path, int quick)
{
	time_t now = time(NULL);
	struct tm tm;

	results_quick = quick;
	gmtime_r(&now, &tm);
	strftime(run_id, sizeof(run_id), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(run_id + strlen(run_id), sizeof(run_id) - strlen(run_id), "-%d", (int)getpid());
	if (!path)
		return 0;
	results_fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (results_fd < 0)
		return bu_err("open %s: %s", path, strerror(errno));
	return 0;
}

void bu_results_commit(const char *commit)
{
	snprintf(results_commit, sizeof(results_commit), "%s", commit ? commit : "");
}

void bu_results_close(void)
{
	if (results_fd >= 0)
		close(results_fd);
	results_fd = -1;
}

void bu_result_init(bench_result *r, const char *bench, const char *variant, const char *engine)
{
	memset(r, 0, sizeof(*r));
	r->bench = bench;
	r->variant = variant;
	r->engine = engine;
	r->seconds = -1;
	r->ops_per_s = -1;
	r->ratio = -1;
	r->met = -1;
}

void bu_result_extra(bench_result *r, const char *key, double val)
{
	if (r->nextra < (int)(sizeof(r->extra_key) / sizeof(r->extra_key[0]))) {
		r->extra_key[r->nextra] = key;
		r->extra_val[r->nextra++] = val;
	}
}

/* Appends s as a JSON string (quoted, escaped) to buf at *len. */
static void json_str(char *buf, size_t cap, size_t *len, const char *s)
{
	if (!s) {
		*len += (size_t)snprintf(buf + *len, *len < cap ? cap - *len : 0, "null");
		return;
	}
	if (*len < cap)
		buf[(*len)++] = '"';
	for (; *s && *len + 8 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			*len += (size_t)snprintf(buf + *len, cap - *len, "\\%c", c);
		else if (c < 0x20)
			*len += (size_t)snprintf(buf + *len, cap - *len, "\\u%04x", c);
		else
			buf[(*len)++] = (char)c;
	}
	if (*len < cap)
		buf[(*len)++] = '"';
}

/* Appends ,"key":num (null when num < 0) to buf at *len. */
static void json_num(char *buf, size_t cap, size_t *len, const char *key, double v)
{
	if (*len >= cap)
		return;
	if (v < 0)
		*len += (size_t)snprintf(buf + *len, cap - *len, ",\"%s\":null", key);
	else if (v == (double)(uint64_t)v && v < 1e15)
		*len += (size_t)snprintf(buf + *len, cap - *len, ",\"%s\":%llu", key,
		                         (unsigned long long)v);
	else
		*len += (size_t)snprintf(buf + *len, cap - *len, ",\"%s\":%.6g", key, v);
}

static void json_kstr(char *buf, size_t cap, size_t *len, const char *key, const char *v)
{
	if (*len >= cap)
		return;
	*len += (size_t)snprintf(buf + *len, cap - *len, ",\"%s\":", key);
	json_str(buf, cap, len, v);
}

/* The 1-minute load average (other work on the machine skews figures). */
static double load1(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

static void emit_json(const bench_result *r)
{
	char buf[4096];
	size_t cap = sizeof(buf) - 2, len = 0;
	time_t now = time(NULL);
	struct tm tm;
	char ts[32];

	if (results_fd < 0)
		return;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	len += (size_t)snprintf(buf, cap, "{\"bench\":");
	json_str(buf, cap, &len, r->bench);
	json_kstr(buf, cap, &len, "variant", r->variant);
	json_kstr(buf, cap, &len, "engine", r->engine);
	json_num(buf, cap, &len, "ops", (double)r->ops);
	json_num(buf, cap, &len, "seconds", r->seconds);
	json_num(buf, cap, &len, "ops_per_s", r->ops_per_s);
	json_kstr(buf, cap, &len, "ratio_vs", r->ratio_vs);
	json_num(buf, cap, &len, "ratio", r->ratio_vs ? r->ratio : -1);
	json_kstr(buf, cap, &len, "target", r->target);
	if (len < cap)
		len += (size_t)snprintf(buf + len, cap - len, ",\"met\":%s",
		                        r->met < 0 ? "null"
		                        : r->met   ? "true"
		                                   : "false");
	for (int i = 0; i < r->nextra; i++)
		json_num(buf, cap, &len, r->extra_key[i], r->extra_val[i]);
	json_kstr(buf, cap, &len, "error", r->error);
	json_kstr(buf, cap, &len, "timestamp", ts);
	json_kstr(buf, cap, &len, "run", run_id);
	json_kstr(buf, cap, &len, "cpu", cpu_model);
	json_num(buf, cap, &len, "nproc", (double)ncpu);
	json_num(buf, cap, &len, "load1", load1());
	if (results_commit[0])
		json_kstr(buf, cap, &len, "commit", results_commit);
	if (len > cap)
		len = cap;
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, ",\"quick\":%s}\n",
	                        results_quick ? "true" : "false");
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	if (write(results_fd, buf, len) != (ssize_t)len)
		fprintf(stderr, "warning: results file write failed: %s\n", strerror(errno));
}

void bu_result_emit(const bench_result *r)
{
	printf("%-7s %-24s %-10s", r->bench, r->variant, r->engine);
	if (r->error) {
		printf(" ERROR: %s\n", r->error);
	} else {
		if (r->ops)
			printf(" %9llu ops", (unsigned long long)r->ops);
		if (r->seconds >= 0)
			printf(" %8.3f s", r->seconds);
		if (r->ops_per_s >= 0)
			printf(" %11.0f ops/s", r->ops_per_s);
		for (int i = 0; i < r->nextra; i++) {
			double v = r->extra_val[i];

			if (v >= 1000 || v <= -1000 || v == (double)(long long)v)
				printf("  %s=%.0f", r->extra_key[i], v);
			else
				printf("  %s=%.3g", r->extra_key[i], v);
		}
		if (r->ratio_vs && r->ratio >= 0)
			printf("  x%.2f vs %s", r->ratio, r->ratio_vs);
		if (r->target)
			printf("  [target %s: %s]", r->target, r->met ? "met" : "MISSED");
		printf("\n");
	}
	fflush(stdout);
	emit_json(r);
}

/* ---- machine ------------------------------------------------------------- */

void bu_print_machine(const char *dir)
{
	struct utsname u;
	struct statfs sf;
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && c) {
			snprintf(cpu_model, sizeof(cpu_model), "%s", c + 2);
			cpu_model[strcspn(cpu_model, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	uname(&u);
	printf("machine: nproc=%ld cpu=\"%s\" kernel=%s %s %s\n", ncpu, cpu_model, u.sysname,
	       u.release, u.machine);
	printf("load: %.2f (1-min average before the run; other work skews the figures)\n",
	       load1());
	if (statfs(dir, &sf) == 0)
		printf("scratch: %s (fs type 0x%lx, %.1f GiB free)\n", dir,
		       (unsigned long)sf.f_type,
		       (double)sf.f_bavail * (double)sf.f_bsize / (1024.0 * 1024 * 1024));
}

/* ---- isolated runs ------------------------------------------------------- */

/* The process group of the running child, for the interrupt handler. */
static volatile sig_atomic_t child_pgid;

static void on_interrupt(int sig)
{
	if (child_pgid > 0)
		kill(-(pid_t)child_pgid, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

void bu_isolate_signals(void)
{
	signal(SIGINT, on_interrupt);
	signal(SIGTERM, on_interrupt);
}

static int isolated_error(const char *bench, const char *variant, const char *msg)
{
	bench_result r;

	bu_result_init(&r, bench, variant, "all");
	r.error = msg;
	bu_result_emit(&r);
	return 1;
}

int bu_run_isolated(const char *bench, const char *variant, unsigned watchdog_s,
                    int (*fn)(void *arg), void *arg)
{
	int status = 0;
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		setpgid(0, 0); /* its own group, so a hung grandchild can be killed too */
		if (watchdog_s)
			alarm(watchdog_s);
		int failed = fn(arg);
		fflush(stdout);
		_exit(failed ? 1 : 0);
	}
	child_pgid = pid > 0 ? pid : 0;
	if (pid > 0)
		setpgid(pid, pid); /* also here: no window where the group is missing */
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return isolated_error(bench, variant, strerror(errno));
	kill(-pid, SIGKILL); /* whatever the child left behind (none if it ended well) */
	child_pgid = 0;
	if (WIFSIGNALED(status)) {
		char msg[200];
		snprintf(msg, sizeof(msg), "process killed by signal %d (%s)%s", WTERMSIG(status),
		         strsignal(WTERMSIG(status)),
		         WTERMSIG(status) == SIGALRM ? ": watchdog, it hung" : "");
		return isolated_error(bench, variant, msg);
	}
	return WEXITSTATUS(status) ? 1 : 0;
}

unsigned bu_parse_names(const char *prog, const char *list, const char *const *names, int n)
{
	char buf[128], *save = NULL;
	unsigned mask = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int i = 0;
		while (i < n && strcmp(t, names[i]) != 0)
			i++;
		if (i == n) {
			fprintf(stderr, "%s: unknown name '%s' (--only)\n", prog, t);
			return 0;
		}
		mask |= 1u << i;
	}
	return mask;
}

/* ---- latency summaries ------------------------------------------------------ */

void bu_lat_of(bu_lat *l, const uint64_t *v, size_t n)
{
	uint64_t *s = malloc((n ? n : 1) * sizeof(*s)), sum = 0;

	memset(l, 0, sizeof(*l));
	l->n = n;
	if (!s || n == 0) {
		free(s);
		return;
	}
	memcpy(s, v, n * sizeof(*s));
	for (size_t i = 0; i < n; i++)
		sum += s[i];
	l->p50_us = (double)bu_quantile(s, n, 0.50) / 1e3;
	l->p99_us = (double)bu_quantile(s, n, 0.99) / 1e3;
	l->max_us = (double)s[n - 1] / 1e3; /* bu_quantile sorted s */
	l->mean_us = (double)sum / (double)n / 1e3;
	free(s);
}

/* ---- the summary table ------------------------------------------------------ */

#define BU_ROWS 64

struct bu_row {
	char figure[64], value[112], target[64];
	int met;
};

static struct bu_summary {
	int nrows;
	struct bu_row rows[BU_ROWS];
} * bu_sum;

void bu_summary_init(void)
{
	bu_sum =
	    mmap(NULL, sizeof(*bu_sum), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (bu_sum == MAP_FAILED)
		bu_sum = NULL;
	else
		memset(bu_sum, 0, sizeof(*bu_sum));
}

void bu_summary_add(const char *figure, const char *value, const char *target, int met)
{
	struct bu_row *r;

	if (!bu_sum || bu_sum->nrows >= BU_ROWS)
		return;
	r = &bu_sum->rows[bu_sum->nrows++];
	snprintf(r->figure, sizeof(r->figure), "%s", figure);
	snprintf(r->value, sizeof(r->value), "%s", value);
	snprintf(r->target, sizeof(r->target), "%s", target ? target : "");
	r->met = met;
}

void bu_summary_print(void)
{
	if (!bu_sum)
		return;
	printf("\nsummary\n");
	printf("  %-40s %-64s %-22s %s\n", "figure", "value", "target", "");
	for (int i = 0; i < bu_sum->nrows; i++) {
		const struct bu_row *r = &bu_sum->rows[i];
		printf("  %-40s %-64s %-22s %s\n", r->figure, r->value, r->target,
		       r->met < 0 ? ""
		       : r->met   ? "met"
		                  : "MISSED");
	}
}
