/* config.c - gathering and validating the server's settings.
 *
 * A setting is gathered as text from four layers applied in order of
 * precedence (defaults, config file, environment, flags); each layer
 * overwrites the text and records where it came from ("env STORAGE_PORT",
 * "sutra.conf:12", "flag --port"). Only once everything is gathered is each
 * value parsed and checked, so the error for a bad value names the setting,
 * the value, where it came from and the allowed range, and a bad value that
 * a higher layer overrides is never an error. Engine options are kept as an
 * ordered list of key=value pairs (lower layers first) and handed to the
 * engine's own sutra_options_set, whose messages already name key, value
 * and range. The environment variables of the Rust server are accepted
 * under their old names; settings for features this server does not have
 * yet either fail clearly (secure mode) or are logged as unused (memory
 * threshold, embedding service).
 */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "proto/proto.h"
#include "server/log.h"

#define KiB (1024ull)
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)

/* ---- value parsers ------------------------------------------------------- */

/* Decimal unsigned number with an optional K/M/G (binary) suffix when
 * sizes are allowed. */
static int parse_u64(const char *v, bool sizes, uint64_t *out)
{
	uint64_t mult = 1;
	char *end;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (sizes && (*end == 'K' || *end == 'k'))
		mult = KiB, end++;
	else if (sizes && (*end == 'M' || *end == 'm'))
		mult = MiB, end++;
	else if (sizes && (*end == 'G' || *end == 'g'))
		mult = GiB, end++;
	if (errno || *end || n > UINT64_MAX / mult)
		return -1;
	*out = n * mult;
	return 0;
}

static int parse_range(const char *v, bool sizes, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (parse_u64(v, sizes, out) < 0)
		return -1;
	return *out >= lo && *out <= hi ? 0 : -1;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off", ""};

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (strcasecmp(v, yes[i]) == 0)
			return *out = true, 0;
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (strcasecmp(v, no[i]) == 0)
			return *out = false, 0;
	return -1;
}

static int copy_text(char *dst, size_t n, const char *v)
{
	size_t len = strlen(v);

	if (len == 0 || len >= n)
		return -1;
	memcpy(dst, v, len + 1);
	return 0;
}

/* ---- the settings table -------------------------------------------------- */

/* An apply function parses v into c; on failure it returns -1 and may put a
 * specific reason in why (otherwise the error shows the allowed range). */
typedef int (*apply_fn)(struct config *c, const char *v, char *why, size_t n);

struct setting {
	const char *name;  /* config key; the flag is --name with '-' for '_' */
	const char *arg;   /* metavariable in --help */
	const char *envs;  /* space-separated, lowest precedence first */
	const char *deflt; /* NULL: computed (workers) or none */
	const char *range; /* the allowed values, shown in --help and errors */
	apply_fn apply;
};

static int apply_host(struct config *c, const char *v, char *why, size_t n)
{
	struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;

	if (copy_text(c->host, sizeof c->host, v) < 0)
		return -1;
	int rc = getaddrinfo(v, NULL, &hints, &res);
	if (rc != 0) {
		snprintf(why, n, "cannot resolve it: %s", gai_strerror(rc));
		return -1;
	}
	freeaddrinfo(res);
	return 0;
}

static int apply_port(struct config *c, const char *v, char *why, size_t n)
{
	uint64_t x;

	if (parse_range(v, false, 0, 65535, &x) < 0)
		return -1;
	c->port = (uint16_t)x;
	return 0;
}

static int apply_data_dir(struct config *c, const char *v, char *why, size_t n)
{
	return copy_text(c->data_dir, sizeof c->data_dir, v);
}

static int apply_engine(struct config *c, const char *key, const char *v, char *why, size_t n)
{
	if (sutra_options_set(&c->engine, key, v) == 0)
		return 0;
	snprintf(why, n, "%s", sutra_last_error());
	return -1;
}

static int apply_dimension(struct config *c, const char *v, char *why, size_t n)
{
	uint64_t x;

	/* The wire caps embeddings at 2048 (proto limit); a larger store
	 * dimension could never receive a vector. */
	if (parse_range(v, false, 1, 2048, &x) < 0)
		return -1;
	return apply_engine(c, "dimension", v, why, n);
}

static int apply_durability(struct config *c, const char *v, char *why, size_t n)
{
	return apply_engine(c, "durability", v, why, n);
}

static int apply_u32(uint32_t *dst, const char *v, bool sizes, uint64_t lo, uint64_t hi)
{
	uint64_t x;

	if (parse_range(v, sizes, lo, hi, &x) < 0)
		return -1;
	*dst = (uint32_t)x;
	return 0;
}

static int apply_workers(struct config *c, const char *v, char *why, size_t n)
{
	return apply_u32(&c->workers, v, false, 1, 256);
}

static int apply_max_connections(struct config *c, const char *v, char *why, size_t n)
{
	return apply_u32(&c->max_connections, v, false, 1, 1000000);
}

static int apply_idle_timeout(struct config *c, const char *v, char *why, size_t n)
{
	return apply_u32(&c->idle_timeout_ms, v, false, 0, 86400000);
}

static int apply_max_frame(struct config *c, const char *v, char *why, size_t n)
{
	return apply_u32(&c->max_frame_bytes, v, true, KiB, 100 * MiB);
}

static int apply_max_buffer(struct config *c, const char *v, char *why, size_t n)
{
	return parse_range(v, true, 2 * KiB, 4 * GiB, &c->max_buffer_bytes);
}

static int apply_max_inflight(struct config *c, const char *v, char *why, size_t n)
{
	return apply_u32(&c->max_inflight, v, false, 1, 1024);
}

static int apply_encoding(struct config *c, const char *v, char *why, size_t n)
{
	if (strcmp(v, "compact") == 0)
		c->response_encoding = ENC_COMPACT;
	else if (strcmp(v, "named") == 0)
		c->response_encoding = ENC_NAMED;
	else
		return -1;
	return 0;
}

static int apply_log_level(struct config *c, const char *v, char *why, size_t n)
{
	int l = log_level_parse(v);

	if (l < 0)
		return -1;
	c->log_level = l;
	return 0;
}

static int apply_storage_mode(struct config *c, const char *v, char *why, size_t n)
{
	(void)why;
	(void)n;
	if (strcmp(v, "single") != 0 && strcmp(v, "sharded") != 0)
		return -1;
	c->sharded = strcmp(v, "sharded") == 0;
	return 0;
}

static int apply_num_shards(struct config *c, const char *v, char *why, size_t n)
{
	return apply_u32(&c->num_shards, v, false, 1, 256);
}

static int apply_memory_threshold(struct config *c, const char *v, char *why, size_t n)
{
	return apply_u32(&c->memory_threshold, v, false, 1000, 10000000);
}

static int apply_not_yet(const char *v, char *why, size_t n)
{
	bool on;

	if (parse_bool(v, &on) < 0)
		return -1;
	if (on)
		snprintf(why, n, "secure mode is not available yet");
	return on ? -1 : 0;
}

static int apply_secure_mode(struct config *c, const char *v, char *why, size_t n)
{
	return apply_not_yet(v, why, n);
}

static int apply_tls_enabled(struct config *c, const char *v, char *why, size_t n)
{
	return apply_not_yet(v, why, n);
}

static int apply_embedding_url(struct config *c, const char *v, char *why, size_t n)
{
	size_t len = strlen(v);

	if (len >= sizeof c->embedding_service_url)
		return -1;
	memcpy(c->embedding_service_url, v, len + 1);
	return 0;
}

static int apply_semantic(struct config *c, const char *v, char *why, size_t n)
{
	return parse_bool(v, &c->semantic_analysis);
}

static const struct setting settings[] = {
    {"host", "ADDR", "STORAGE_HOST SUTRA_HOST", "127.0.0.1",
     "an IPv4/IPv6 address or host name (0.0.0.0 for every interface)", apply_host},
    {"port", "N", "STORAGE_PORT SUTRA_PORT", "50051", "0..65535 (0: any free port)", apply_port},
    {"data_dir", "DIR", "STORAGE_PATH SUTRA_DATA_DIR", "./data", "a directory (created if missing)",
     apply_data_dir},
    {"dimension", "N", "VECTOR_DIMENSION SUTRA_DIMENSION", "768",
     "1..2048 (fixed when the store is created)", apply_dimension},
    {"durability", "MODE", "SUTRA_DURABILITY", "always",
     "always | none | interval:MS (MS 1..60000)", apply_durability},
    {"workers", "N", "SUTRA_WORKERS", NULL, "1..256 (default: online CPUs)", apply_workers},
    {"max_connections", "N", "SUTRA_MAX_CONNECTIONS", "10000", "1..1000000", apply_max_connections},
    {"idle_timeout_ms", "MS", "SUTRA_IDLE_TIMEOUT_MS", "300000", "0..86400000 (0: never)",
     apply_idle_timeout},
    {"max_frame_bytes", "BYTES", "SUTRA_MAX_FRAME_BYTES", "104857600",
     "1024..104857600 (K/M/G suffixes accepted)", apply_max_frame},
    {"max_buffer_bytes", "BYTES", "SUTRA_MAX_BUFFER_BYTES", "134217728",
     "max_frame_bytes+4..4G: input buffered per connection", apply_max_buffer},
    {"max_inflight_per_connection", "N", "SUTRA_MAX_INFLIGHT_PER_CONNECTION", "64",
     "1..1024: pipelined writes of one connection in flight at once", apply_max_inflight},
    {"response_encoding", "ENC", "SUTRA_RESPONSE_ENCODING", "compact", "compact | named",
     apply_encoding},
    {"log_level", "LEVEL", "SUTRA_LOG_LEVEL", "info", "error | warn | info | debug",
     apply_log_level},
    {"storage_mode", "MODE", "SUTRA_STORAGE_MODE", "single",
     "single or sharded (a new store only: an existing one keeps its layout)", apply_storage_mode},
    {"num_shards", "N", "SUTRA_NUM_SHARDS", "16", "1..256 (sharded mode)", apply_num_shards},
    {"memory_threshold", "N", "MEMORY_THRESHOLD", NULL, "1000..10000000 (accepted, unused)",
     apply_memory_threshold},
    {"secure_mode", "BOOL", "SUTRA_SECURE_MODE", "false", "false (not available yet)",
     apply_secure_mode},
    {"tls_enabled", "BOOL", "SUTRA_TLS_ENABLED", "false", "false (not available yet)",
     apply_tls_enabled},
    {"embedding_service_url", "URL", "SUTRA_EMBEDDING_SERVICE_URL", NULL,
     "a URL (accepted, not used yet)", apply_embedding_url},
    {"semantic_analysis", "BOOL", "SUTRA_SEMANTIC_ANALYSIS", "false",
     "true | false (accepted; semantic queries are not available yet)", apply_semantic},
};

#define NSETTINGS (sizeof settings / sizeof settings[0])

/* Engine options as sutra_options_set knows them (dimension and durability
 * are settings of their own above). */
enum eopt_kind { EOPT_U32, EOPT_U64, EOPT_FLAG, EOPT_METRIC };

struct eopt_def {
	const char *key;
	size_t off;
	int kind;
	const char *range;
};

#define EOPT(f, k, r)                                                                              \
	{                                                                                          \
#f, offsetof(sutra_options, f), k, r                                               \
	}
static const struct eopt_def eopt_defs[] = {
    EOPT(interval_ms, EOPT_U32, "1..60000 (durability interval)"),
    EOPT(wal_segment_bytes, EOPT_U64, "1M..1G"),
    EOPT(checkpoint_wal_bytes, EOPT_U64, "0 (on demand) or 1M..64G"),
    EOPT(max_pending_bytes, EOPT_U64, "64K..4G (write queue cap)"),
    EOPT(busy_timeout_ms, EOPT_U32, "0..600000"),
    EOPT(max_content_bytes, EOPT_U32, "0..10485760"),
    EOPT(max_batch_ops, EOPT_U32, "1..10000000"),
    EOPT(max_batch_bytes, EOPT_U64, "1K..1G"),
    EOPT(max_meta_bytes, EOPT_U32, "0..1048576"),
    EOPT(sched_min_interval_ms, EOPT_U32, "1..100"),
    EOPT(sched_base_interval_ms, EOPT_U32, "min..max (env RECONCILE_BASE_INTERVAL_MS)"),
    EOPT(sched_max_interval_ms, EOPT_U32, "min..1000"),
    EOPT(vector_index, EOPT_FLAG, "true | false (HNSW index; off: exact search)"),
    EOPT(vector_metric, EOPT_METRIC, "cosine | l2 | ip"),
    EOPT(index_m, EOPT_U32, "2..128 (HNSW links per node)"),
    EOPT(index_ef_construction, EOPT_U32, "index_m..4096 (HNSW build candidates)"),
    EOPT(create_if_missing, EOPT_FLAG, "true | false"),
    EOPT(repair, EOPT_FLAG, "true | false"),
    EOPT(txn_timeout_ms, EOPT_U32, "1..600000 (cross-shard write prepare timeout)"),
    EOPT(vector_index_per_shard, EOPT_FLAG,
         "true | false (sharded: an index per shard, or one for all)"),
};

#define NEOPTS (sizeof eopt_defs / sizeof eopt_defs[0])

/* ---- gathering ----------------------------------------------------------- */

struct engine_pair {
	char *kv; /* "key=value", owned */
	char src[128];
};

struct loader {
	char *val[NSETTINGS]; /* owned text, NULL when unset */
	char src[NSETTINGS][128];
	struct engine_pair *pairs;
	size_t npairs, cap;
	bool help, print, version;
	const char *config_path;
};

static void loader_free(struct loader *l)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		free(l->val[i]);
	for (size_t i = 0; i < l->npairs; i++)
		free(l->pairs[i].kv);
	free(l->pairs);
}

static int find_setting(const char *name)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strcmp(settings[i].name, name) == 0)
			return (int)i;
	return -1;
}

static bool is_engine_key(const char *key)
{
	for (size_t i = 0; i < NEOPTS; i++)
		if (strcmp(eopt_defs[i].key, key) == 0)
			return true;
	return false;
}

static int set_value(struct loader *l, int i, const char *v, const char *src)
{
	char *dup = strdup(v);

	if (!dup) {
		fprintf(stderr, "sutra-server: out of memory reading the configuration\n");
		return -1;
	}
	free(l->val[i]);
	l->val[i] = dup;
	snprintf(l->src[i], sizeof l->src[i], "%s", src);
	return 0;
}

/* Adds one engine option "key=value"; dimension and durability are routed
 * to their settings so that precedence stays the same for both spellings. */
static int add_engine_pair(struct loader *l, const char *kv, const char *src)
{
	const char *eq = strchr(kv, '=');
	char key[64];

	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key) {
		fprintf(stderr, "sutra-server: engine option '%s' (%s) is not key=value\n", kv,
		        src);
		return -1;
	}
	memcpy(key, kv, (size_t)(eq - kv));
	key[eq - kv] = 0;
	int i = find_setting(key);
	if (i >= 0 && (strcmp(key, "dimension") == 0 || strcmp(key, "durability") == 0))
		return set_value(l, i, eq + 1, src);
	if (l->npairs == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct engine_pair *p = realloc(l->pairs, cap * sizeof *p);
		if (!p)
			return -1;
		l->pairs = p;
		l->cap = cap;
	}
	struct engine_pair *p = &l->pairs[l->npairs];
	if (!(p->kv = strdup(kv)))
		return -1;
	snprintf(p->src, sizeof p->src, "%s", src);
	l->npairs++;
	return 0;
}

/* A config-file or flag key: a setting, engine_opt, or a bare engine key. */
static int set_key(struct loader *l, const char *key, const char *v, const char *src)
{
	int i = find_setting(key);
	char kv[4096];

	if (i >= 0)
		return set_value(l, i, v, src);
	if (strcmp(key, "engine_opt") == 0)
		return add_engine_pair(l, v, src);
	if (is_engine_key(key)) {
		snprintf(kv, sizeof kv, "%s=%s", key, v);
		return add_engine_pair(l, kv, src);
	}
	fprintf(stderr, "sutra-server: unknown setting '%s' (%s); see --help\n", key, src);
	return -1;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* Cuts a trailing "# comment" that follows whitespace, then quotes. */
static char *clean_value(char *v)
{
	for (char *p = v; *p; p++)
		if (*p == '#' && p > v && isspace((unsigned char)p[-1])) {
			*p = 0;
			break;
		}
	v = trim(v);
	size_t n = strlen(v);
	if (n >= 2 && ((v[0] == '"' && v[n - 1] == '"') || (v[0] == '\'' && v[n - 1] == '\''))) {
		v[n - 1] = 0;
		v++;
	}
	return v;
}

static int load_file_line(struct loader *l, char *line, const char *path, int lineno)
{
	char src[128];
	char *s = trim(line);
	char *eq;

	if (*s == 0 || *s == '#')
		return 0;
	snprintf(src, sizeof src, "%s:%d", path, lineno);
	if (!(eq = strchr(s, '='))) {
		fprintf(stderr, "sutra-server: %s: expected 'key = value'\n", src);
		return -1;
	}
	*eq = 0;
	char *key = trim(s);
	for (char *p = key; *p; p++)
		if (*p == '-')
			*p = '_';
	return set_key(l, key, clean_value(eq + 1), src);
}

static int load_file(struct loader *l, const char *path)
{
	char line[8192];
	int lineno = 0, rc = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "sutra-server: cannot read config file %s: %s\n", path,
		        strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof line, f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			fprintf(stderr, "sutra-server: %s:%d: line too long\n", path, lineno);
			rc = -1;
		} else {
			rc = load_file_line(l, line, path, lineno);
		}
	}
	fclose(f);
	return rc;
}

static int load_env(struct loader *l)
{
	char src[128], names[128];
	const char *v;

	for (size_t i = 0; i < NSETTINGS; i++) {
		snprintf(names, sizeof names, "%s", settings[i].envs);
		for (char *save = NULL, *e = strtok_r(names, " ", &save); e;
		     e = strtok_r(NULL, " ", &save)) {
			if (!(v = getenv(e)))
				continue;
			snprintf(src, sizeof src, "env %s", e);
			if (set_value(l, (int)i, v, src) < 0)
				return -1;
		}
	}
	if ((v = getenv("RECONCILE_BASE_INTERVAL_MS"))) {
		snprintf(names, sizeof names, "sched_base_interval_ms=%s", v);
		if (add_engine_pair(l, names, "env RECONCILE_BASE_INTERVAL_MS") < 0)
			return -1;
	}
	if ((v = getenv("SUTRA_ENGINE_OPTS"))) {
		char *copy = strdup(v);
		int rc = copy ? 0 : -1;
		for (char *save = NULL, *kv = copy ? strtok_r(copy, ", ", &save) : NULL;
		     kv && rc == 0; kv = strtok_r(NULL, ", ", &save))
			rc = add_engine_pair(l, kv, "env SUTRA_ENGINE_OPTS");
		free(copy);
		return rc;
	}
	return 0;
}

/* Splits "--name=value" / "--name value"; returns the index of the next
 * unread argument or -1. */
static int flag_value(int argc, char **argv, int i, char *name, size_t n, const char **val)
{
	const char *a = argv[i] + 2;
	const char *eq = strchr(a, '=');
	size_t len = eq ? (size_t)(eq - a) : strlen(a);

	if (len == 0 || len >= n) {
		fprintf(stderr, "sutra-server: bad flag '%s'; see --help\n", argv[i]);
		return -1;
	}
	for (size_t k = 0; k < len; k++)
		name[k] = a[k] == '-' ? '_' : a[k];
	name[len] = 0;
	if (strcmp(name, "help") == 0 || strcmp(name, "print_config") == 0 ||
	    strcmp(name, "version") == 0) {
		*val = NULL;
		return i + 1;
	}
	if (eq) {
		*val = eq + 1;
		return i + 1;
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "sutra-server: flag --%s needs a value; see --help\n", a);
		return -1;
	}
	*val = argv[i + 1];
	return i + 2;
}

/* First pass: the flags that decide what to do and where the file is. */
static int scan_flags(struct loader *l, int argc, char **argv, bool apply)
{
	char name[64], src[96];
	const char *v;

	for (int i = 1; i < argc;) {
		if (strcmp(argv[i], "-h") == 0) {
			l->help = true;
			i++;
			continue;
		}
		if (strncmp(argv[i], "--", 2) != 0) {
			fprintf(stderr, "sutra-server: unexpected argument '%s'; see --help\n",
			        argv[i]);
			return -1;
		}
		int next = flag_value(argc, argv, i, name, sizeof name, &v);
		if (next < 0)
			return -1;
		i = next;
		l->help |= strcmp(name, "help") == 0;
		l->print |= strcmp(name, "print_config") == 0;
		l->version |= strcmp(name, "version") == 0;
		if (!v)
			continue;
		if (strcmp(name, "config") == 0) {
			l->config_path = v;
			continue;
		}
		snprintf(src, sizeof src, "flag --%s", name);
		for (char *p = src + 7; *p; p++)
			*p = *p == '_' ? '-' : *p;
		if (apply && set_key(l, name, v, src) < 0)
			return -1;
	}
	return 0;
}

/* ---- validation ---------------------------------------------------------- */

static void defaults(struct loader *l, struct config *c)
{
	char workers[16];
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof *c);
	sutra_options_init(&c->engine);
	for (size_t i = 0; i < NSETTINGS; i++)
		if (settings[i].deflt)
			set_value(l, (int)i, settings[i].deflt, "default");
	snprintf(workers, sizeof workers, "%ld", n < 1 ? 1 : n > 256 ? 256 : n);
	set_value(l, find_setting("workers"), workers, "default");
}

static int check_settings(struct loader *l, struct config *c)
{
	char why[512];

	for (size_t i = 0; i < NSETTINGS; i++) {
		if (!l->val[i])
			continue;
		why[0] = 0;
		if (settings[i].apply(c, l->val[i], why, sizeof why) == 0)
			continue;
		fprintf(stderr, "sutra-server: invalid setting %s = '%s' (from %s): %s%s\n",
		        settings[i].name, l->val[i], l->src[i],
		        why[0] ? "" : "allowed: ", why[0] ? why : settings[i].range);
		return -1;
	}
	if (c->max_buffer_bytes < (uint64_t)c->max_frame_bytes + 4) {
		int i = find_setting("max_buffer_bytes");
		fprintf(stderr,
		        "sutra-server: invalid setting max_buffer_bytes = %llu (from %s): must be "
		        "at least max_frame_bytes + 4 = %llu\n",
		        (unsigned long long)c->max_buffer_bytes, l->src[i],
		        (unsigned long long)c->max_frame_bytes + 4);
		return -1;
	}
	return 0;
}

/* Where the engine option a validation message names was set (the last
 * layer that set it), or NULL when it was not set explicitly. */
static const char *engine_source(const struct loader *l, const char *msg)
{
	char key[96];

	for (size_t i = l->npairs; i-- > 0;) {
		const char *kv = l->pairs[i].kv;
		snprintf(key, sizeof key, "option %.*s ", (int)strcspn(kv, "="), kv);
		if (strstr(msg, key))
			return l->pairs[i].src;
	}
	return NULL;
}

static int check_engine(struct loader *l, struct config *c)
{
	char key[64];

	for (size_t i = 0; i < l->npairs; i++) {
		const char *kv = l->pairs[i].kv, *eq = strchr(kv, '=');
		size_t len = (size_t)(eq - kv);
		memcpy(key, kv, len < sizeof key ? len : sizeof key - 1);
		key[len < sizeof key ? len : sizeof key - 1] = 0;
		if (sutra_options_set(&c->engine, key, eq + 1) < 0) {
			fprintf(stderr, "sutra-server: invalid engine option (from %s): %s\n",
			        l->pairs[i].src, sutra_last_error());
			return -1;
		}
	}
	if (sutra_options_validate(&c->engine) < 0) {
		const char *msg = sutra_last_error(), *src = engine_source(l, msg);
		fprintf(stderr, "sutra-server: invalid engine options: %s%s%s%s\n", msg,
		        src ? " (from " : "", src ? src : "", src ? ")" : "");
		return -1;
	}
	return 0;
}

/* ---- output -------------------------------------------------------------- */

void config_durability_text(const sutra_options *o, char *out, size_t n)
{
	if (o->durability == SUTRA_DURABILITY_NONE)
		snprintf(out, n, "none");
	else if (o->durability == SUTRA_DURABILITY_INTERVAL)
		snprintf(out, n, "interval:%u", o->interval_ms);
	else
		snprintf(out, n, "always");
}

static void eopt_text(const sutra_options *o, const struct eopt_def *d, char *out, size_t n)
{
	const char *p = (const char *)o + d->off;
	uint64_t v64;
	uint32_t v32;
	int flag;

	if (d->kind == EOPT_U64) {
		memcpy(&v64, p, sizeof v64);
		snprintf(out, n, "%llu", (unsigned long long)v64);
	} else if (d->kind == EOPT_U32) {
		memcpy(&v32, p, sizeof v32);
		snprintf(out, n, "%u", v32);
	} else if (d->kind == EOPT_METRIC) {
		memcpy(&flag, p, sizeof flag);
		snprintf(out, n, "%s", sutra_metric_name(flag));
	} else {
		memcpy(&flag, p, sizeof flag);
		snprintf(out, n, "%s", flag ? "true" : "false");
	}
}

static void usage(void)
{
	sutra_options o;
	char flag[64], def[64];

	sutra_options_init(&o);
	printf("usage: sutra-server [--config FILE] [--SETTING VALUE ...] [--engine-opt KEY=VALUE "
	       "...]\n"
	       "       sutra-server --print-config | --help | --version\n\n"
	       "Serves a Sutra store over TCP (4-byte big-endian length + MessagePack).\n"
	       "Precedence: flags > environment > config file > defaults. The config file\n"
	       "(--config FILE or env SUTRA_CONFIG) holds 'key = value' lines with # comments;\n"
	       "keys are the flag names with underscores. Where two environment variables\n"
	       "are listed, the second wins.\n\nSettings:\n");
	for (size_t i = 0; i < NSETTINGS; i++) {
		snprintf(flag, sizeof flag, "--%s %s", settings[i].name, settings[i].arg);
		for (char *p = flag + 2; *p && *p != ' '; p++)
			*p = *p == '_' ? '-' : *p;
		printf("  %-32s default %s; env %s\n  %-32s %s\n", flag,
		       settings[i].deflt                          ? settings[i].deflt
		       : strcmp(settings[i].name, "workers") == 0 ? "online CPUs"
		                                                  : "unset",
		       settings[i].envs, "", settings[i].range);
	}
	printf("\nEngine options (--engine-opt KEY=VALUE, config file 'KEY = VALUE' or\n"
	       "'engine_opt = KEY=VALUE', env SUTRA_ENGINE_OPTS=\"k=v,k=v\"):\n");
	for (size_t i = 0; i < NEOPTS; i++) {
		eopt_text(&o, &eopt_defs[i], def, sizeof def);
		printf("  %-32s default %s; %s\n", eopt_defs[i].key, def, eopt_defs[i].range);
	}
	printf(
	    "\nOther flags: --config FILE (env SUTRA_CONFIG), --print-config (print the\n"
	    "effective configuration as a config file and exit), --help, --version.\n"
	    "Exit status: 0 after a clean shutdown (SIGTERM/SIGINT), 1 on a runtime failure\n"
	    "(port, store, or a store that had turned read-only), 2 on a bad configuration.\n"
	    "Test hook: SUTRA_TEST_FAULT=SITE:NTH:KIND arms one engine I/O fault (tests only).\n");
}

static void print_config(const struct loader *l, const struct config *c)
{
	char text[64];

	printf("# sutra-server %s effective configuration\n", SUTRA_VERSION_STRING);
	for (size_t i = 0; i < NSETTINGS; i++) {
		if (strcmp(settings[i].name, "durability") == 0) {
			config_durability_text(&c->engine, text, sizeof text);
			printf("durability = %s\n", text);
		} else if (l->val[i]) {
			printf("%s = %s\n", settings[i].name, l->val[i]);
		}
	}
	for (size_t i = 0; i < NEOPTS; i++) {
		eopt_text(&c->engine, &eopt_defs[i], text, sizeof text);
		printf("%s = %s\n", eopt_defs[i].key, text);
	}
}

/* ---- entry points -------------------------------------------------------- */

static int gather(struct loader *l, struct config *c, int argc, char **argv)
{
	const char *path;

	defaults(l, c);
	if (scan_flags(l, argc, argv, false) < 0)
		return -1;
	if (l->help || l->version)
		return 0;
	path = l->config_path ? l->config_path : getenv("SUTRA_CONFIG");
	if (path && *path && load_file(l, path) < 0)
		return -1;
	if (load_env(l) < 0 || scan_flags(l, argc, argv, true) < 0)
		return -1;
	if (check_settings(l, c) < 0 || check_engine(l, c) < 0)
		return -1;
	/* The engine opens an existing store with the layout it was created
	 * with when shards = 0; sharded mode asks for num_shards. */
	c->engine.shards = c->sharded ? c->num_shards : 0;
	return 0;
}

int config_load(struct config *c, int argc, char **argv)
{
	struct loader l;
	int rc = CONFIG_RUN;

	memset(&l, 0, sizeof l);
	if (gather(&l, c, argc, argv) < 0) {
		rc = CONFIG_BAD;
	} else if (l.help) {
		usage();
		rc = CONFIG_EXIT;
	} else if (l.version) {
		printf("sutra-server %s (protocol 1)\n", SUTRA_VERSION_STRING);
		rc = CONFIG_EXIT;
	} else if (l.print) {
		print_config(&l, c);
		rc = CONFIG_EXIT;
	}
	loader_free(&l);
	fflush(stdout);
	return rc;
}

void config_log_notes(const struct config *c)
{
	static const char *const ignored[] = {
	    "SUTRA_TLS_CERT",          "SUTRA_TLS_KEY",
	    "SUTRA_AUTH_METHOD",       "SUTRA_AUTH_SECRET",
	    "SUTRA_TOKEN_TTL_SECONDS", "SUTRA_RATE_LIMIT_RPS",
	    "SUTRA_RATE_LIMIT_BURST",  "SUTRA_EMBEDDING_TIMEOUT_SEC"};

	if (c->memory_threshold)
		log_info("memory_threshold = %u accepted but unused: memory is not bounded by a "
		         "concept count in this server",
		         c->memory_threshold);
	if (c->embedding_service_url[0])
		log_info("embedding_service_url = %s accepted but not used yet: "
		         "generate_embedding learns without a vector",
		         c->embedding_service_url);
	if (c->semantic_analysis)
		log_info("semantic_analysis requested but not available yet: semantic queries "
		         "answer with an error");
	for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
		if (getenv(ignored[i]))
			log_info("%s is set but ignored: secure mode is not available yet",
			         ignored[i]);
}
