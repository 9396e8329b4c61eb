/* sutra-cli - command-line client of sutra-server: one-shot commands and an
 * interactive shell with line editing and history.
 *
 * Every command is one entry of a table (name, argument counts, allowed
 * options, handler) shared by both modes: `sutra-cli get ID` runs one
 * command and exits; with no command it reads lines with libedit's
 * readline-compatible API (history in ~/.sutra_history), splits them
 * shell-style and runs the same handlers on one kept connection. Replies are
 * printed readably, or with --json as exactly one JSON object per reply,
 * written by hand here (any MessagePack value -> JSON, strings escaped and
 * invalid UTF-8 replaced by U+FFFD). Exit status: 0 ok, 1 the server
 * answered an error (or "not found"), 2 usage or connection error.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "client/client.h"

#define EXIT_SERVER 1
#define EXIT_USAGE  2
#define MAX_ARGS    64
#define MAX_DIM     65536

struct opts {
	const char *host;
	unsigned port;
	int timeout_ms;
	bool json;
	/* command options */
	uint32_t max_depth, k, ef, limit;
	int type; /* -1: not given */
	float confidence, strength;
	int direction; /* 0: not given (neighbours walk both ways) */
	bool all;
	/* search filter options (NULL / 0: not given) */
	const char *meta, *reach, *ids;
	uint32_t depth;
	bool depth_given;
	bool filter; /* any of them, or --type / --direction, was given */
	/* graph query options */
	uint64_t max_visited; /* 0: not given */
	uint32_t paths;       /* path --paths N; 0: not given */
	bool k_shortest, best;
};

struct cli {
	struct opts o;
	struct sc_conn conn;
	struct sc_reply reply;
	bool connected;
	bool used; /* the connection has answered before (the shell keeps it) */
};

static void usage(FILE *f);

/* ---- JSON output ------------------------------------------------------------------ */

/* Length of the UTF-8 sequence starting with byte c, 0 if c cannot start one. */
static size_t utf8_lead(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c < 0xe0)
		return 2;
	if (c >= 0xe0 && c < 0xf0)
		return 3;
	return c >= 0xf0 && c < 0xf5 ? 4 : 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = utf8_lead(s[0]);

	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (len == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0)))
		return 0; /* overlong, surrogate */
	if (len == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90)))
		return 0; /* overlong, past U+10FFFF */
	return len;
}

static void json_str(FILE *f, const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;

	fputc('"', f);
	for (size_t i = 0; i < n;) {
		size_t l = utf8_len(s + i, n - i);
		if (!l) {
			fputs("\\ufffd", f), i++;
		} else if (s[i] == '"' || s[i] == '\\') {
			fputc('\\', f), fputc(s[i], f), i++;
		} else if (s[i] == '\n') {
			fputs("\\n", f), i++;
		} else if (s[i] == '\t') {
			fputs("\\t", f), i++;
		} else if (s[i] == '\r') {
			fputs("\\r", f), i++;
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			fprintf(f, "\\u%04x", s[i]), i++;
		} else {
			fwrite(s + i, 1, l, f), i += l;
		}
	}
	fputc('"', f);
}

static void json_num(FILE *f, double d)
{
	if (isfinite(d))
		fprintf(f, "%.9g", d);
	else
		fputs("null", f);
}

static void json_val(FILE *f, const struct sc_val *v);

static void json_key(FILE *f, const struct sc_val *k)
{
	if (k->type == SC_STR || k->type == SC_BIN) {
		json_str(f, k->v.s, k->n);
	} else {
		fputc('"', f);
		if (k->type == SC_UINT)
			fprintf(f, "%" PRIu64, k->v.u);
		else if (k->type == SC_INT)
			fprintf(f, "%" PRId64, k->v.i);
		fputc('"', f);
	}
}

static void json_val(FILE *f, const struct sc_val *v)
{
	switch (v->type) {
	case SC_BOOL:
		fputs(v->v.b ? "true" : "false", f);
		break;
	case SC_UINT:
		fprintf(f, "%" PRIu64, v->v.u);
		break;
	case SC_INT:
		fprintf(f, "%" PRId64, v->v.i);
		break;
	case SC_FLOAT:
		json_num(f, v->v.f);
		break;
	case SC_STR:
	case SC_BIN:
		json_str(f, v->v.s, v->n);
		break;
	case SC_ARRAY:
		fputc('[', f);
		for (uint32_t i = 0; i < v->n; i++)
			fputs(i ? "," : "", f), json_val(f, &v->v.items[i]);
		fputc(']', f);
		break;
	case SC_MAP:
		fputc('{', f);
		for (uint32_t i = 0; i < v->n; i++) {
			fputs(i ? "," : "", f);
			json_key(f, &v->v.items[2 * i]);
			fputc(':', f);
			json_val(f, &v->v.items[2 * i + 1]);
		}
		fputc('}', f);
		break;
	default:
		fputs("null", f);
	}
}

/* {"reply": name, field: value...} with the declared field names. */
static void json_reply(FILE *f, const struct sc_reply *r)
{
	const char *const *fields = sc_resp_fields(r->kind);

	fputs("{\"reply\":", f);
	json_str(f, sc_resp_name(r->kind), strlen(sc_resp_name(r->kind)));
	if (r->payload && r->payload->type == SC_MAP) {
		for (uint32_t i = 0; i < r->payload->n; i++) {
			fputc(',', f);
			json_key(f, &r->payload->v.items[2 * i]);
			fputc(':', f);
			json_val(f, &r->payload->v.items[2 * i + 1]);
		}
	} else if (r->payload) {
		for (uint32_t i = 0; fields && fields[i] && i < r->payload->n; i++) {
			fputc(',', f);
			json_str(f, fields[i], strlen(fields[i]));
			fputc(':', f);
			json_val(f, &r->payload->v.items[i]);
		}
	}
	fputs("}\n", f);
}

/* ---- readable output -------------------------------------------------------------- */

/* A value on one line: strings bare at the top level, JSON inside. */
static void text_val(const struct sc_val *v)
{
	if (v->type == SC_STR || v->type == SC_BIN)
		printf("%.*s", (int)v->n, v->v.s);
	else
		json_val(stdout, v);
}

/* "field: value" for every field of the reply. */
static void text_fields(const struct sc_reply *r)
{
	const char *const *fields = sc_resp_fields(r->kind);

	for (uint32_t i = 0; fields && fields[i]; i++) {
		const struct sc_val *v = sc_field(r, fields[i]);
		if (!v)
			continue;
		printf("%-22s ", fields[i]);
		text_val(v);
		putchar('\n');
	}
}

static const char *type_name(uint64_t t)
{
	static const char *const names[] = {"semantic", "causal", "temporal", "hierarchical",
	                                    "compositional"};
	return t < 5 ? names[t] : "?";
}

/* ---- connection and calls ---------------------------------------------------------- */

static int ensure_connected(struct cli *c)
{
	int rc;

	if (c->connected)
		return 0;
	if ((rc = sc_connect(&c->conn, c->o.host, c->o.port, c->o.timeout_ms))) {
		fprintf(stderr, "sutra-cli: cannot connect: %s\n", c->conn.err);
		return EXIT_USAGE;
	}
	c->connected = true;
	return 0;
}

/* sc_call for the one queued request; when a kept connection turns out to
 * have been closed by the server (its idle timeout) the request is sent
 * again, once, on a new connection. */
static int call_retry(struct cli *c)
{
	size_t n = c->conn.out.len;
	uint8_t *saved = c->used && n > 4 ? malloc(n) : NULL;
	int rc;

	if (saved)
		memcpy(saved, c->conn.out.p, n);
	rc = sc_call(&c->conn, &c->reply);
	if (saved && (rc == SC_ECLOSED || rc == SC_EIO)) {
		sc_close(&c->conn);
		c->connected = c->used = false;
		if (ensure_connected(c) == 0 && sc_req_raw(&c->conn, saved + 4, n - 4) == 0)
			rc = sc_call(&c->conn, &c->reply);
	}
	free(saved);
	return rc;
}

/* Sends the queued request and reads the reply. 0, or the exit status after
 * printing what went wrong (the server's message for an Error). */
static int call(struct cli *c, int want)
{
	int rc = call_retry(c);

	if (rc == SC_ESERVER) {
		c->used = true;
		if (c->o.json)
			json_reply(stdout, &c->reply);
		else
			fprintf(stderr, "error: %s\n", c->reply.message);
		return EXIT_SERVER;
	}
	if (rc) {
		fprintf(stderr, "sutra-cli: %s: %s\n", sc_strerror(rc), c->conn.err);
		sc_close(&c->conn);
		c->connected = c->used = false;
		return EXIT_USAGE;
	}
	c->used = true;
	if (c->reply.kind != want) {
		fprintf(stderr, "sutra-cli: unexpected reply %s\n", sc_resp_name(c->reply.kind));
		return EXIT_USAGE;
	}
	if (c->o.json)
		json_reply(stdout, &c->reply);
	return 0;
}

static uint64_t field_u64(const struct sc_reply *r, const char *f)
{
	uint64_t v = 0;

	sc_field_u64(r, f, &v);
	return v;
}

static bool field_bool(const struct sc_reply *r, const char *f)
{
	bool v = false;

	sc_field_bool(r, f, &v);
	return v;
}

/* ---- commands ------------------------------------------------------------------------- */

static int cmd_learn(struct cli *c, int argc, char **argv)
{
	struct sc_learn_options o;
	int rc;

	sc_learn_options_default(&o);
	o.strength = c->o.strength, o.confidence = c->o.confidence;
	sc_req_learn_v2(&c->conn, argv[0], strlen(argv[0]), &o);
	if ((rc = call(c, SC_R_LEARN_CONCEPT_V2_OK)) || c->o.json)
		return rc;
	text_val(sc_field(&c->reply, "concept_id"));
	putchar('\n');
	return 0;
}

static void print_concept(const struct sc_reply *r)
{
	static const char *const order[] = {"concept_id", "content",   "strength",   "confidence",
	                                    "vector",     "metadata",  "out_degree", "in_degree",
	                                    "created_us", "updated_us"};

	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		const struct sc_val *v = sc_field(r, order[i]);
		if (!v)
			continue;
		printf("%-11s ", order[i]);
		if (v->type == SC_NIL)
			fputs("none", stdout);
		else
			text_val(v);
		putchar('\n');
	}
}

static int cmd_get(struct cli *c, int argc, char **argv)
{
	int rc;

	sc_req_get_concept(&c->conn, argv[0]);
	if ((rc = call(c, SC_R_GET_CONCEPT_OK)))
		return rc;
	if (!field_bool(&c->reply, "found")) {
		if (!c->o.json)
			fprintf(stderr, "not found: %s\n", argv[0]);
		return EXIT_SERVER;
	}
	if (!c->o.json)
		print_concept(&c->reply);
	return 0;
}

static int cmd_neighbors(struct cli *c, int argc, char **argv)
{
	const struct sc_val *list, *n;
	uint64_t type;
	double conf;
	int rc;

	sc_req_get_neighbors_detailed(&c->conn, argv[0],
	                              c->o.direction ? c->o.direction : SC_DIR_BOTH, c->o.type,
	                              c->o.limit);
	if ((rc = call(c, SC_R_GET_NEIGHBORS_DETAILED_OK)) || c->o.json)
		return rc;
	list = sc_field(&c->reply, "neighbors");
	for (uint32_t i = 0; (n = sc_val_at(list, i)); i++) {
		type = 0, conf = 0;
		sc_val_u64(sc_val_key(n, "assoc_type"), &type);
		sc_val_f64(sc_val_key(n, "confidence"), &conf);
		text_val(sc_val_key(n, "direction"));
		putchar(' ');
		text_val(sc_val_key(n, "concept_id"));
		printf("  %s  %.3g\n", type_name(type), conf);
	}
	printf("%" PRIu64 " neighbour(s)%s\n", field_u64(&c->reply, "total"),
	       field_bool(&c->reply, "truncated") ? ", list truncated" : "");
	return 0;
}

/* The GraphQuery options (--type, --direction, --max-visited; depth as
 * given) of path, khop and hybrid. */
static void graph_query(const struct opts *o, int64_t depth, struct sc_graph_query *q)
{
	sc_graph_query_default(q);
	q->type = o->type;
	q->direction = o->direction;
	q->max_depth = depth < 0 ? -1 : depth > INT32_MAX ? INT32_MAX : (int)depth;
	q->max_visited = o->max_visited;
}

static void print_path(const struct sc_val *path)
{
	for (uint32_t i = 0; i < sc_val_len(path); i++) {
		fputs(i ? " -> " : "", stdout);
		text_val(sc_val_at(path, i));
	}
	putchar('\n');
}

/* Which request `path` sends: FindPath unless an extension option asks
 * for more (several paths, the most confident one, a type or direction). */
static int queue_path(struct cli *c, char **argv, int *want)
{
	const struct opts *o = &c->o;
	struct sc_graph_query q;

	graph_query(o, o->max_depth, &q);
	if (o->best) {
		*want = SC_R_FIND_BEST_PATH_OK;
		return sc_req_find_best_path(&c->conn, argv[0], argv[1], &q);
	}
	if (o->paths || o->k_shortest) {
		*want = SC_R_FIND_PATHS_OK;
		return sc_req_find_paths(&c->conn, argv[0], argv[1], &q, o->paths, o->k_shortest);
	}
	*want = SC_R_FIND_PATH_OK;
	if (o->type >= 0 || o->direction || o->max_visited)
		return sc_req_find_path_ex(&c->conn, argv[0], argv[1], &q);
	return sc_req_find_path(&c->conn, argv[0], argv[1], o->max_depth);
}

static int print_paths(const struct sc_reply *r)
{
	const struct sc_val *paths = sc_field(r, "paths");

	for (uint32_t i = 0; i < sc_val_len(paths); i++)
		print_path(sc_val_at(paths, i));
	if (field_bool(r, "truncated"))
		puts("(more paths exist: list truncated)");
	return 0;
}

static int cmd_path(struct cli *c, int argc, char **argv)
{
	double conf = 0;
	int want, rc;

	if (c->o.best && (c->o.paths || c->o.k_shortest)) {
		fprintf(stderr, "sutra-cli: path: --best does not go with --paths/--k-shortest\n");
		return EXIT_USAGE;
	}
	if ((rc = queue_path(c, argv, &want))) {
		fprintf(stderr, "sutra-cli: %s\n", sc_strerror(rc));
		return EXIT_USAGE;
	}
	if ((rc = call(c, want)))
		return rc;
	bool found = want == SC_R_FIND_PATHS_OK ? sc_val_len(sc_field(&c->reply, "paths")) > 0
	                                        : field_bool(&c->reply, "found");
	if (!found) {
		if (!c->o.json)
			fprintf(stderr, "no path within %u hops\n", c->o.max_depth);
		return EXIT_SERVER;
	}
	if (c->o.json)
		return 0;
	if (want == SC_R_FIND_PATHS_OK)
		return print_paths(&c->reply);
	print_path(sc_field(&c->reply, "path"));
	if (want == SC_R_FIND_BEST_PATH_OK && sc_field_f64(&c->reply, "confidence", &conf) == 0)
		printf("confidence %.6g\n", conf);
	return 0;
}

static int cmd_khop(struct cli *c, int argc, char **argv)
{
	const struct sc_val *list, *h;
	struct sc_graph_query q;
	uint64_t depth;
	double conf;
	int rc;

	graph_query(&c->o, c->o.depth_given ? (int64_t)c->o.depth : -1, &q);
	if ((rc = sc_req_khop(&c->conn, argv[0], &q, c->o.limit))) {
		fprintf(stderr, "sutra-cli: %s\n", sc_strerror(rc));
		return EXIT_USAGE;
	}
	if ((rc = call(c, SC_R_KHOP_OK)) || c->o.json)
		return rc;
	list = sc_field(&c->reply, "results");
	for (uint32_t i = 0; (h = sc_val_at(list, i)); i++) {
		depth = 0, conf = 0;
		sc_val_u64(sc_val_key(h, "depth"), &depth);
		sc_val_f64(sc_val_key(h, "confidence"), &conf);
		printf("%2" PRIu64 "  ", depth);
		text_val(sc_val_key(h, "concept_id"));
		printf("  %.6g\n", conf);
	}
	printf("%u concept(s)%s\n", sc_val_len(list),
	       field_bool(&c->reply, "truncated") ? ", list truncated" : "");
	return 0;
}

/* "0.1,0.2,..." into a new array (caller frees); NULL on a bad list. */
static float *parse_vector(const char *s, uint32_t *dim)
{
	size_t cap = 16, n = 0;
	float *v = malloc(cap * sizeof *v);
	char *end;

	while (v && *s) {
		errno = 0;
		float x = strtof(s, &end);
		if (end == s || errno || (*end != ',' && *end) || n == MAX_DIM)
			break;
		if (n == cap) {
			float *nv = realloc(v, (cap *= 2) * sizeof *v);
			if (!nv)
				break;
			v = nv;
		}
		v[n++] = x;
		s = *end ? end + 1 : end;
		if (!*s) {
			*dim = (uint32_t)n;
			return v;
		}
	}
	free(v);
	return NULL;
}

/* The --meta/--reach/--ids/... options as a filter. The strings live in
 * *mem (caller frees); false when out of memory. */
static bool search_filter(const struct opts *o, struct sc_vector_filter *f, char **mem)
{
	size_t meta = o->meta ? strlen(o->meta) + 1 : 0, ids = o->ids ? strlen(o->ids) + 1 : 0;
	size_t nids = 0;
	char *text;

	for (const char *p = o->ids; p && *p; p++)
		nids += *p == ',';
	nids += o->ids && *o->ids; /* "" is the empty list */
	if (!(*mem = malloc(nids * sizeof(char *) + meta + ids + 1)))
		return false;
	*f = (struct sc_vector_filter){.reachable_from = o->reach,
	                               .type = o->type,
	                               .direction = o->direction,
	                               .max_depth = o->depth};
	text = *mem + nids * sizeof(char *);
	if (o->meta) { /* KEY=VALUE, checked when parsed */
		char *eq = strchr(memcpy(text, o->meta, meta), '=');
		*eq = '\0';
		f->meta_key = text, f->meta_value = eq + 1;
		text += meta;
	}
	if (o->ids) {
		const char **v = (const char **)*mem;
		char *tok = memcpy(text, o->ids, ids);
		for (size_t i = 0; i < nids; i++) {
			char *comma = strchr(tok, ',');
			v[i] = tok;
			if (comma)
				*comma = '\0', tok = comma + 1;
		}
		f->ids = v, f->id_count = nids;
	}
	return true;
}

/* VectorSearchFiltered when a filter option was given, else VectorSearch. */
static int queue_search(struct cli *c, const float *q, uint32_t dim)
{
	struct sc_vector_filter f;
	char *mem = NULL;
	int rc;

	if (!c->o.filter)
		return sc_req_vector_search(&c->conn, q, dim, c->o.k, c->o.ef);
	if (!search_filter(&c->o, &f, &mem))
		return SC_ENOMEM;
	rc = sc_req_vector_search_filtered(&c->conn, q, dim, c->o.k, c->o.ef, &f);
	free(mem);
	return rc;
}

static int cmd_search(struct cli *c, int argc, char **argv)
{
	const struct sc_val *hits, *h;
	uint32_t dim;
	float *q = parse_vector(argv[0], &dim);
	double sim = 0;
	int rc;

	if (!q) {
		fprintf(stderr, "sutra-cli: bad vector '%s' (want 0.1,0.2,...)\n", argv[0]);
		return EXIT_USAGE;
	}
	if (c->o.depth_given && c->o.depth == 0) { /* 0 would mean "not given" in a filter */
		fprintf(stderr, "sutra-cli: search: bad or missing value for --depth (1..20)\n");
		free(q);
		return EXIT_USAGE;
	}
	rc = queue_search(c, q, dim);
	free(q);
	if (rc) {
		fprintf(stderr, "sutra-cli: %s\n", sc_strerror(rc));
		return EXIT_USAGE;
	}
	if ((rc = call(c, SC_R_VECTOR_SEARCH_OK)) || c->o.json)
		return rc;
	hits = sc_field(&c->reply, "results");
	for (uint32_t i = 0; (h = sc_val_at(hits, i)); i++) {
		sc_val_f64(sc_val_at(h, 1), &sim);
		printf("%3u. ", i + 1);
		text_val(sc_val_at(h, 0));
		printf("  %.6f\n", sim);
	}
	if (!sc_val_len(hits))
		puts(c->o.filter ? "no matching vectors" : "no vectors");
	return 0;
}

static void print_hybrid_hit(uint32_t rank, const struct sc_val *h)
{
	double score = 0, sim = 0, conf = 0;
	uint64_t hops = 0;

	sc_val_f64(sc_val_key(h, "score"), &score);
	sc_val_f64(sc_val_key(h, "similarity"), &sim);
	sc_val_f64(sc_val_key(h, "path_confidence"), &conf);
	sc_val_u64(sc_val_key(h, "hops"), &hops);
	printf("%3u. ", rank);
	text_val(sc_val_key(h, "concept_id"));
	printf("  score %.6f  similarity %.6f  confidence %.6g  hops %" PRIu64 "\n", score, sim,
	       conf, hops);
}

static int cmd_hybrid(struct cli *c, int argc, char **argv)
{
	const struct sc_val *hits, *h;
	struct sc_graph_query q;
	uint32_t dim;
	float *v = parse_vector(argv[0], &dim);
	int rc;

	if (!v) {
		fprintf(stderr, "sutra-cli: bad vector '%s' (want 0.1,0.2,...)\n", argv[0]);
		return EXIT_USAGE;
	}
	graph_query(&c->o, c->o.depth_given ? (int64_t)c->o.depth : -1, &q);
	rc = sc_req_hybrid_search(&c->conn, v, dim, c->o.k, c->o.ef, &q, c->o.limit);
	free(v);
	if (rc) {
		fprintf(stderr, "sutra-cli: %s\n", sc_strerror(rc));
		return EXIT_USAGE;
	}
	if ((rc = call(c, SC_R_HYBRID_SEARCH_OK)) || c->o.json)
		return rc;
	hits = sc_field(&c->reply, "results");
	for (uint32_t i = 0; (h = sc_val_at(hits, i)); i++)
		print_hybrid_hit(i + 1, h);
	if (!sc_val_len(hits))
		puts("no results");
	else if (field_bool(&c->reply, "truncated"))
		puts("(more results exist: list truncated)");
	return 0;
}

static int cmd_stats(struct cli *c, int argc, char **argv)
{
	int rc;

	if (c->o.all)
		sc_req_stats_extended(&c->conn);
	else
		sc_req_get_stats(&c->conn);
	if ((rc = call(c, c->o.all ? SC_R_STATS_EXTENDED_OK : SC_R_STATS_OK)) || c->o.json)
		return rc;
	text_fields(&c->reply);
	return 0;
}

static int cmd_health(struct cli *c, int argc, char **argv)
{
	bool healthy;
	int rc;

	sc_req_health_check(&c->conn);
	if ((rc = call(c, SC_R_HEALTH_CHECK_OK)))
		return rc;
	healthy = field_bool(&c->reply, "healthy");
	if (!c->o.json) {
		fputs(healthy ? "healthy: " : "UNHEALTHY: ", stdout);
		text_val(sc_field(&c->reply, "status"));
		printf(" (up %" PRIu64 " s)\n", field_u64(&c->reply, "uptime_seconds"));
	}
	return healthy ? 0 : EXIT_SERVER;
}

static int cmd_delete(struct cli *c, int argc, char **argv)
{
	int rc;

	sc_req_delete_concept(&c->conn, argv[0]);
	if ((rc = call(c, SC_R_DELETE_CONCEPT_OK)) || c->o.json)
		return rc;
	printf("deleted (sequence %" PRIu64 ")\n", field_u64(&c->reply, "sequence"));
	return 0;
}

static int cmd_associate(struct cli *c, int argc, char **argv)
{
	int rc;

	sc_req_learn_association(&c->conn, argv[0], argv[1],
	                         c->o.type < 0 ? 0 : (uint32_t)c->o.type, c->o.confidence);
	if ((rc = call(c, SC_R_LEARN_ASSOCIATION_OK)) || c->o.json)
		return rc;
	printf("associated (sequence %" PRIu64 ")\n", field_u64(&c->reply, "sequence"));
	return 0;
}

static int cmd_info(struct cli *c, int argc, char **argv)
{
	int rc;

	sc_req_server_info(&c->conn);
	if ((rc = call(c, SC_R_SERVER_INFO_OK)) || c->o.json)
		return rc;
	text_fields(&c->reply);
	return 0;
}

static int cmd_help(struct cli *c, int argc, char **argv)
{
	usage(stdout);
	return 0;
}

struct command {
	const char *name;
	int nargs;
	const char *options; /* allowed, space-separated */
	const char *synopsis;
	int (*run)(struct cli *c, int argc, char **argv);
	bool needs_server;
};

static const struct command commands[] = {
    {"learn", 1, "--strength --confidence", "learn TEXT [--strength X] [--confidence X]", cmd_learn,
     true},
    {"get", 1, "", "get ID", cmd_get, true},
    {"neighbors", 1, "--direction --type --limit",
     "neighbors ID [--direction out|in|both] [--type N] [--limit N]", cmd_neighbors, true},
    {"path", 2, "--max-depth --type --direction --max-visited --paths --k-shortest --best",
     "path A B [--max-depth N] [--type N] [--direction out|in|both] [--max-visited N]\n"
     "         [--paths N [--k-shortest] | --best]",
     cmd_path, true},
    {"khop", 1, "--depth --type --direction --limit --max-visited",
     "khop ID [--depth N] [--type N] [--direction out|in|both] [--limit N] [--max-visited N]",
     cmd_khop, true},
    {"search", 1, "--k --ef --meta --reach --type --direction --depth --ids",
     "search 0.1,0.2,... [--k N] [--ef N] [--meta KEY=VALUE] [--ids A,B,...]\n"
     "         [--reach ID [--type N] [--direction out|in|both] [--depth N]]",
     cmd_search, true},
    {"hybrid", 1, "--k --ef --depth --limit --type --direction --max-visited",
     "hybrid 0.1,0.2,... [--k N] [--ef N] [--depth N] [--limit N] [--type N]\n"
     "         [--direction out|in|both] [--max-visited N]",
     cmd_hybrid, true},
    {"stats", 0, "--all", "stats [--all]", cmd_stats, true},
    {"health", 0, "", "health", cmd_health, true},
    {"delete", 1, "", "delete ID", cmd_delete, true},
    {"associate", 2, "--type --confidence", "associate A B [--type N] [--confidence X]",
     cmd_associate, true},
    {"info", 0, "", "info", cmd_info, true},
    {"help", 0, "", "help", cmd_help, false},
};

static void usage(FILE *f)
{
	fputs("usage: sutra-cli [--host H] [--port P] [--timeout MS] [--json] [COMMAND ...]\n"
	      "With no command, starts an interactive shell (quit with 'quit' or Ctrl-D).\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %s\n", commands[i].synopsis);
	fputs("search filters: hits must match every one given: metadata KEY=VALUE, one of\n"
	      "  the ids, reachable from ID within --depth hops (default 1, at most 20) along\n"
	      "  associations of --type (default any) in --direction (default both).\n"
	      "Graph queries follow associations of --type (default any) in --direction\n"
	      "  (default both) and give up after visiting --max-visited concepts (default\n"
	      "  1000000). path: the shortest path within --max-depth hops (default 6); with\n"
	      "  --paths N every shortest path (at most N), --k-shortest then longer simple\n"
	      "  paths too, --best the most confident path (greatest product of confidences).\n"
	      "  khop: the concepts within --depth hops (default 20), nearest first, at most\n"
	      "  --limit (default 1000). hybrid: the --k nearest vectors (default 10) expanded\n"
	      "  --depth hops (default 2) through the graph, ranked by similarity x path\n"
	      "  confidence x 0.85^hops, at most --limit (default 100).\n"
	      "Association types: 0 semantic, 1 causal, 2 temporal, 3 hierarchical, "
	      "4 compositional.\n"
	      "Exit status: 0 ok, 1 server error or not found, 2 usage or connection error.\n",
	      f);
}

/* ---- option parsing ---------------------------------------------------------------------- */

static bool parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || v > max || *s == '-')
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return *s && !*end && !errno && *s != '-';
}

static bool parse_float(const char *s, float *out)
{
	char *end;

	errno = 0;
	*out = strtof(s, &end);
	return *s && !*end && !errno && isfinite(*out);
}

static bool parse_direction(const char *s, int *out)
{
	*out = strcmp(s, "out") == 0    ? SC_DIR_OUT
	       : strcmp(s, "in") == 0   ? SC_DIR_IN
	       : strcmp(s, "both") == 0 ? SC_DIR_BOTH
	                                : 0;
	return *out != 0;
}

/* --meta KEY=VALUE: a key of at least one byte before the first '='. */
static bool parse_meta(const char *s, const char **out)
{
	const char *eq = strchr(s, '=');

	if (!eq || eq == s)
		return false;
	*out = s;
	return true;
}

/* The options that only shape a search's filter; false if name is not one. */
static bool set_filter_option(struct opts *o, const char *name, const char *val, bool *ok)
{
	if (strcmp(name, "--meta") == 0)
		*ok = parse_meta(val, &o->meta);
	else if (strcmp(name, "--reach") == 0)
		*ok = (o->reach = val) != NULL;
	else if (strcmp(name, "--ids") == 0)
		*ok = (o->ids = val) != NULL;
	else if (strcmp(name, "--depth") == 0) /* search refuses 0 (khop, hybrid take it) */
		*ok = (o->depth_given = parse_u32(val, INT32_MAX, &o->depth));
	else
		return false;
	return true;
}

/* One command option with its value; false on a bad value. */
static bool set_option(struct opts *o, const char *name, const char *val)
{
	uint32_t u;
	bool ok;

	if (set_filter_option(o, name, val, &ok)) {
		o->filter = true;
		return ok;
	}
	if (strcmp(name, "--type") == 0 || strcmp(name, "--direction") == 0)
		o->filter = true; /* in a search they shape the --reach walk */
	if (strcmp(name, "--max-depth") == 0)
		return parse_u32(val, UINT32_MAX, &o->max_depth);
	if (strcmp(name, "--k") == 0)
		return parse_u32(val, UINT32_MAX, &o->k);
	if (strcmp(name, "--ef") == 0)
		return parse_u32(val, UINT32_MAX, &o->ef);
	if (strcmp(name, "--limit") == 0)
		return parse_u32(val, UINT32_MAX, &o->limit);
	if (strcmp(name, "--max-visited") == 0) /* 0 would mean "not given" */
		return parse_u64(val, &o->max_visited) && o->max_visited > 0;
	if (strcmp(name, "--paths") == 0)
		return parse_u32(val, UINT32_MAX, &o->paths) && o->paths > 0;
	if (strcmp(name, "--type") == 0) {
		if (!parse_u32(val, 255, &u))
			return false;
		o->type = (int)u;
		return true;
	}
	if (strcmp(name, "--confidence") == 0)
		return parse_float(val, &o->confidence);
	if (strcmp(name, "--strength") == 0)
		return parse_float(val, &o->strength);
	if (strcmp(name, "--direction") == 0)
		return parse_direction(val, &o->direction);
	return false;
}

static bool allowed(const struct command *cmd, const char *opt)
{
	size_t n = strlen(opt);
	const char *p = cmd->options;

	while ((p = strstr(p, opt))) {
		if ((p == cmd->options || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

static void reset_command_options(struct opts *o)
{
	o->max_depth = 6, o->k = 10, o->ef = 64, o->limit = 0, o->type = -1;
	o->confidence = 1.0f, o->strength = 1.0f, o->direction = 0, o->all = false;
	o->meta = o->reach = o->ids = NULL, o->depth = 0, o->depth_given = false;
	o->filter = false, o->max_visited = 0, o->paths = 0, o->k_shortest = o->best = false;
}

/* Options without a value; false if name is not one. */
static bool set_flag(struct opts *o, const char *name)
{
	bool *flag = strcmp(name, "--all") == 0          ? &o->all
	             : strcmp(name, "--k-shortest") == 0 ? &o->k_shortest
	             : strcmp(name, "--best") == 0       ? &o->best
	                                                 : NULL;

	if (flag)
		*flag = true;
	return flag != NULL;
}

/* Splits argv into positionals (pos) and options; EXIT_USAGE on a bad one. */
static int parse_command_args(const struct command *cmd, struct opts *o, int argc, char **argv,
                              char **pos, int *npos)
{
	bool rest = false;

	*npos = 0;
	reset_command_options(o);
	for (int i = 0; i < argc; i++) {
		if (!rest && strcmp(argv[i], "--") == 0) {
			rest = true;
			continue;
		}
		if (rest || strncmp(argv[i], "--", 2) != 0) {
			pos[(*npos)++] = argv[i];
			continue;
		}
		if (!allowed(cmd, argv[i])) {
			fprintf(stderr, "sutra-cli: %s: unknown option %s\n", cmd->name, argv[i]);
			return EXIT_USAGE;
		}
		if (set_flag(o, argv[i])) {
			continue;
		} else if (i + 1 >= argc || !set_option(o, argv[i], argv[i + 1])) {
			fprintf(stderr, "sutra-cli: %s: bad or missing value for %s\n", cmd->name,
			        argv[i]);
			return EXIT_USAGE;
		} else {
			i++;
		}
	}
	return 0;
}

static int run_command(struct cli *c, int argc, char **argv)
{
	char *pos[MAX_ARGS];
	int npos, rc;

	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		const struct command *cmd = &commands[i];
		if (strcmp(argv[0], cmd->name) != 0)
			continue;
		if (argc - 1 > MAX_ARGS)
			return EXIT_USAGE;
		if ((rc = parse_command_args(cmd, &c->o, argc - 1, argv + 1, pos, &npos)))
			return rc;
		if (npos != cmd->nargs) {
			fprintf(stderr, "usage: %s\n", cmd->synopsis);
			return EXIT_USAGE;
		}
		if (cmd->needs_server && (rc = ensure_connected(c)))
			return rc;
		rc = cmd->run(c, npos, pos);
		fflush(stdout);
		return rc;
	}
	fprintf(stderr, "sutra-cli: unknown command '%s' (try 'help')\n", argv[0]);
	return EXIT_USAGE;
}

/* ---- interactive shell ---------------------------------------------------------------------- */

/* Splits line in place into words: whitespace-separated, "..." and '...'
 * quoting, backslash escapes. Returns the count, or -1 on an open quote. */
static int split_line(char *line, char **argv, int max)
{
	char *r = line, *w = line;
	int n = 0;

	for (;;) {
		while (*r == ' ' || *r == '\t')
			r++;
		if (!*r)
			return n;
		if (n == max)
			return -1;
		argv[n++] = w;
		for (char q = 0; *r && (q || (*r != ' ' && *r != '\t')); r++) {
			if (!q && (*r == '"' || *r == '\'')) {
				q = *r;
			} else if (q && *r == q) {
				q = 0;
			} else if (*r == '\\' && r[1] && q != '\'') {
				*w++ = *++r;
			} else {
				*w++ = *r;
			}
			if (!r[1] && q)
				return -1;
		}
		if (*r)
			r++;
		*w++ = '\0';
	}
}

static char *history_path(void)
{
	const char *home = getenv("HOME");
	char *p;

	if (!home || !*home || !(p = malloc(strlen(home) + 32)))
		return NULL;
	sprintf(p, "%s/.sutra_history", home);
	return p;
}

static int shell(struct cli *c)
{
	char *hist = history_path(), *line, *argv[MAX_ARGS];
	int argc, last = 0;

	if (hist)
		read_history(hist);
	if (isatty(STDIN_FILENO))
		printf("sutra-cli: %s:%u ('help' lists commands, 'quit' leaves)\n", c->o.host,
		       c->o.port);
	while ((line = readline(isatty(STDIN_FILENO) ? "sutra> " : ""))) {
		if (*line)
			add_history(line);
		argc = split_line(line, argv, MAX_ARGS);
		if (argc < 0)
			fprintf(stderr, "sutra-cli: unterminated quote or too many words\n");
		else if (argc > 0 && (!strcmp(argv[0], "quit") || !strcmp(argv[0], "exit"))) {
			free(line);
			break;
		} else if (argc > 0)
			last = run_command(c, argc, argv);
		free(line);
	}
	if (hist) {
		write_history(hist);
		free(hist);
	}
	return last;
}

/* ---- main ---------------------------------------------------------------------------------- */

/* Global options before the command; returns the index of the command or
 * -1 after printing a usage error (-2: --help handled). */
static int parse_globals(struct opts *o, int argc, char **argv)
{
	int i = 1;
	uint32_t u;

	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return -2;
		} else if (strcmp(argv[i], "--json") == 0) {
			o->json = true;
		} else if (i + 1 < argc && strcmp(argv[i], "--host") == 0) {
			o->host = argv[++i];
		} else if (i + 1 < argc && strcmp(argv[i], "--port") == 0 &&
		           parse_u32(argv[i + 1], 65535, &u) && u > 0) {
			o->port = u, i++;
		} else if (i + 1 < argc && strcmp(argv[i], "--timeout") == 0 &&
		           parse_u32(argv[i + 1], INT32_MAX, &u)) {
			o->timeout_ms = (int)u, i++;
		} else {
			fprintf(stderr, "sutra-cli: bad option '%s'\n", argv[i]);
			usage(stderr);
			return -1;
		}
	}
	return i;
}

int main(int argc, char **argv)
{
	struct cli c = {.o = {.host = "127.0.0.1", .port = SC_DEFAULT_PORT, .timeout_ms = 10000}};
	int first, rc;

	first = parse_globals(&c.o, argc, argv);
	if (first < 0)
		return first == -2 ? 0 : EXIT_USAGE;
	sc_init(&c.conn);
	sc_reply_init(&c.reply);
	rc = first < argc ? run_command(&c, argc - first, argv + first) : shell(&c);
	sc_reply_free(&c.reply);
	sc_close(&c.conn);
	return rc;
}
