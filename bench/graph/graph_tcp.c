/* graph_tcp.c - the TCP section: FindPath through the release sutra-server over loopback.
 *
 * The server is started as sutra-bench-net starts it (net/net_server.c: a
 * child process on a free loopback port, a fresh data directory in the
 * scratch area, default settings: durability always, workers = online
 * CPUs) and loaded with the built sutra-import --host/--port from the same
 * JSONL file (timed: the import_server figure). Then one connection of the
 * project's C client (src/client) sends FindPath{start_id, end_id,
 * max_depth 20} one request at a time (c = 1, no pipelining): each
 * request's latency runs from building the frame to the decoded reply, so
 * it includes the client's encoding and decoding as well as both kernels'
 * loopback paths. An untimed pass first checks every returned path against
 * the answer key (as the in-process section does); o->reps timed passes
 * follow, each followed by a pass of zero-hop requests (FindPath from each
 * pair's start to itself: no search, so its latency is the round trip of
 * the protocol and the loopback, rtt_p50_us). The ratios: against the in-process median and
 * SQLite's median handed over by the in-process section (on the same pairs: SQLite's sample, with
 * Sutra's per-pair medians over the passes).
 */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "net/net.h"

#define BENCH "graph"

typedef struct trun {
	const gb_opts *o;
	const gb_data *d;
	net_server srv;
	struct sc_conn conn;
	struct sc_reply reply;
	char (*hex)[2][SUTRA_ID_HEX]; /* the pairs' ids as 32 hex characters */
} trun;

/* ---- the server and the import ----------------------------------------------------------- */

static int start_server(trun *t)
{
	char bin[1100];
	const char *extra[] = {"--log-level", "warn", NULL};

	snprintf(bin, sizeof(bin), "%s/sutra-server", t->o->bindir);
	if (ns_start_sutra(&t->srv, bin, t->o->scratch, extra, 30) < 0) {
		ns_print_log_tail(&t->srv, 10);
		return bu_err("sutra-server did not start: %s", t->srv.status);
	}
	return 0;
}

static void emit_import(const trun *t, double seconds)
{
	bench_result r;
	uint64_t n = t->d->nc + t->d->na;
	char v[128];

	bu_result_init(&r, BENCH, "import_server", "sutra-import");
	r.ops = n;
	r.seconds = seconds;
	r.ops_per_s = (double)n / seconds;
	bu_result_emit(&r);
	snprintf(v, sizeof(v), "%.0f records/s (%.2f s)", r.ops_per_s, seconds);
	bu_summary_add("import via sutra-server (always)", v, NULL, -1);
}

static int import(trun *t)
{
	char bin[1100], port[16], log[1200], line[512] = "";
	char *argv[] = {bin,  "--host",        "127.0.0.1",         "--port",
	                port, "--no-progress", (char *)t->d->jsonl, NULL};
	double s;
	int rc;

	snprintf(bin, sizeof(bin), "%s/sutra-import", t->o->bindir);
	snprintf(port, sizeof(port), "%d", t->srv.port);
	snprintf(log, sizeof(log), "%s/import-server.log", t->o->scratch);
	bu_settle();
	rc = gu_run(argv, log, &s);
	gu_grep(log, "sutra-import:", line, sizeof(line));
	if (rc != 0)
		return bu_err("sutra-import --host failed (%d): %s", rc,
		              rc < 0 ? bu_lasterr() : line);
	printf("  %s\n", line);
	emit_import(t, s);
	return 0;
}

static int connect_client(trun *t)
{
	if (sc_connect(&t->conn, "127.0.0.1", (unsigned)t->srv.port, 10000) < 0)
		return bu_err("connect: %s", t->conn.err);
	t->hex = malloc(t->d->npairs * sizeof(*t->hex));
	if (!t->hex)
		return bu_err("out of memory");
	for (size_t i = 0; i < t->d->npairs; i++) {
		sutra_id_format(&t->d->c[t->d->pair[i].a].id, t->hex[i][0]);
		sutra_id_format(&t->d->c[t->d->pair[i].b].id, t->hex[i][1]);
	}
	return 0;
}

/* ---- FindPath -------------------------------------------------------------------------- */

/* FindPath for pair i; self: from its start to itself (no search: the round trip). */
static int call(trun *t, size_t i, int self)
{
	int rc = sc_req_find_path(&t->conn, t->hex[i][0], t->hex[i][self ? 0 : 1], GB_MAX_DEPTH);

	if (rc == 0)
		rc = sc_call(&t->conn, &t->reply);
	if (rc == 0 && t->reply.kind != SC_R_FIND_PATH_OK)
		return bu_err("FindPath answered %s", sc_resp_name(t->reply.kind));
	if (rc != 0)
		return bu_err("FindPath: %s (%s)", sc_strerror(rc),
		              t->reply.message ? t->reply.message : t->conn.err);
	return 0;
}

/* Checks the reply to pair i against the answer key; 0 when it matches. */
static int check_reply(trun *t, size_t i, char *why, size_t whyn)
{
	const struct sc_val *path = sc_field(&t->reply, "path");
	sutra_id ids[GB_MAX_DEPTH + 1];
	bool found = false;
	uint32_t n = sc_val_len(path);

	if (sc_field_bool(&t->reply, "found", &found) != 0 || n > GB_MAX_DEPTH + 1) {
		snprintf(why, whyn, "malformed reply");
		return -1;
	}
	if (!found) {
		snprintf(why, whyn, "not found, the answer key says %d hops", t->d->pair[i].hops);
		return t->d->pair[i].hops == GB_NO_PATH ? 0 : -1;
	}
	for (uint32_t k = 0; k < n; k++) {
		const char *s;
		uint32_t len;
		if (!sc_val_str(sc_val_at(path, k), &s, &len)) {
			snprintf(why, whyn, "path item %u is not a string", k);
			return -1;
		}
		sutra_id_parse(s, len, &ids[k]);
	}
	return gd_check_path(t->d, &t->d->pair[i], ids, n, why, whyn);
}

static int verify(trun *t, size_t *bad)
{
	char why[160];

	*bad = 0;
	for (size_t i = 0; i < t->d->npairs; i++) {
		if (call(t, i, 0) < 0)
			return -1;
		if (check_reply(t, i, why, sizeof(why)) != 0 && (*bad)++ < 5)
			printf("  tcp FindPath mismatch, pair %zu: %s\n", i, why);
	}
	return 0;
}

/* o->reps passes of FindPath over the pairs (lat[i * reps + r]), each pass
 * followed by one of the zero-hop requests (rtt[r * npairs + i]). */
static int timed(trun *t, uint64_t *lat, uint64_t *rtt)
{
	size_t reps = (size_t)t->o->reps, np = t->d->npairs;

	for (size_t r = 0; r < reps; r++)
		for (int self = 0; self < 2; self++)
			for (size_t i = 0; i < np; i++) {
				uint64_t t0 = bu_now_ns();
				if (call(t, i, self) < 0)
					return -1;
				if (self)
					rtt[r * np + i] = bu_now_ns() - t0;
				else
					lat[i * reps + r] = bu_now_ns() - t0;
			}
	return 0;
}

/* Median over the passes per pair, then the median over SQLite's sample. */
static double sample_p50_us(const trun *t, const uint64_t *lat, size_t n)
{
	size_t reps = (size_t)t->o->reps;
	uint64_t *med = malloc((n ? n : 1) * sizeof(*med)), tmp[16];
	double p50;

	if (!med || n == 0) {
		free(med);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(tmp, &lat[i * reps], reps * sizeof(*tmp));
		med[i] = bu_quantile(tmp, reps, 0.5);
	}
	p50 = (double)bu_quantile(med, n, 0.5) / 1e3;
	free(med);
	return p50;
}

static void emit(const trun *t, const bu_lat *l, const bu_lat *rtt, size_t bad, double sample_p50)
{
	double inproc = gu_shared_get("fp_inproc_p50_us"), sq = gu_shared_get("fp_sqlite_p50_us");
	bench_result r;
	char v[160];

	bu_result_init(&r, BENCH, "findpath_tcp", "sutra");
	r.ops = l->n;
	r.seconds = l->mean_us * (double)l->n / 1e6;
	r.ops_per_s = r.seconds > 0 ? (double)r.ops / r.seconds : -1;
	r.target = "p50<=150us";
	r.met = l->p50_us <= GB_FP_TCP_P50_US;
	bu_result_extra(&r, "p50_us", l->p50_us);
	bu_result_extra(&r, "p99_us", l->p99_us);
	bu_result_extra(&r, "mean_us", l->mean_us);
	bu_result_extra(&r, "max_us", l->max_us);
	bu_result_extra(&r, "mismatches", (double)bad);
	bu_result_extra(&r, "rtt_p50_us", rtt->p50_us);
	bu_result_extra(&r, "rtt_p99_us", rtt->p99_us);
	bu_result_extra(&r, "vs_inproc", inproc > 0 ? l->p50_us / inproc : -1);
	bu_result_extra(&r, "vs_sqlite", sq > 0 && sample_p50 > 0 ? sq / sample_p50 : -1);
	bu_result_emit(&r);
	snprintf(v, sizeof(v), "p50 %.1f us, p99 %.1f us (0-hop %.1f us)", l->p50_us, l->p99_us,
	         rtt->p50_us);
	if (sq > 0 && sample_p50 > 0)
		snprintf(v + strlen(v), sizeof(v) - strlen(v), ", x%.0f vs SQLite",
		         sq / sample_p50);
	bu_summary_add("FindPath over TCP (c=1)", v, "p50 <= 150 us", r.met);
}

static int findpath(trun *t)
{
	size_t n = t->d->npairs * (size_t)t->o->reps, bad = 0;
	double sq_n = gu_shared_get("fp_sqlite_pairs");
	uint64_t *lat = malloc(n * sizeof(*lat)), *rtt = malloc(n * sizeof(*rtt));
	bu_lat l, lr;
	int rc = -1;

	if (!lat || !rtt)
		rc = bu_err("out of memory");
	else if (verify(t, &bad) == 0 && timed(t, lat, rtt) == 0) {
		bu_lat_of(&l, lat, n);
		bu_lat_of(&lr, rtt, n);
		emit(t, &l, &lr, bad, sample_p50_us(t, lat, sq_n > 0 ? (size_t)sq_n : 0));
		rc = 0;
	}
	free(lat);
	free(rtt);
	return rc;
}

/* ---- the section ----------------------------------------------------------------------- */

int gt_run(void *arg)
{
	const gb_ctx *c = arg;
	trun t = {.o = c->o, .d = c->d};
	int rc;

	sc_init(&t.conn);
	sc_reply_init(&t.reply);
	t.srv.pid = -1;
	rc = start_server(&t);
	if (rc == 0)
		rc = import(&t);
	if (rc == 0)
		rc = connect_client(&t);
	if (rc == 0)
		rc = findpath(&t);
	sc_close(&t.conn);
	sc_reply_free(&t.reply);
	free(t.hex);
	if (t.srv.pid > 0 && ns_stop(&t.srv, 30) < 0 && rc == 0) {
		ns_print_log_tail(&t.srv, 10);
		rc = bu_err("sutra-server: %s", t.srv.status);
	}
	if (rc < 0) {
		bench_result r;
		bu_result_init(&r, BENCH, "findpath_tcp", "sutra");
		r.error = bu_lasterr();
		bu_result_emit(&r);
	}
	return rc < 0;
}
