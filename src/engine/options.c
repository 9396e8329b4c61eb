/* options.c - store options: defaults, parsing from text, validation.
 *
 * Every check names the setting, the value and the allowed range, so a bad
 * configuration fails at open with a message the operator can act on.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sutra/sutra.h"
#include "util/err.h"

#define KiB (1024ull)
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)

void sutra_options_init(sutra_options *o)
{
	memset(o, 0, sizeof *o);
	o->dimension = 768;
	o->durability = SUTRA_DURABILITY_ALWAYS;
	o->interval_ms = 1000;
	o->wal_segment_bytes = 64 * MiB;
	o->checkpoint_wal_bytes = 256 * MiB;
	o->max_pending_bytes = 64 * MiB;
	o->busy_timeout_ms = 5000;
	o->max_content_bytes = 10 * MiB;
	o->max_batch_ops = 1000000;
	o->max_batch_bytes = 256 * MiB;
	o->max_meta_bytes = 64 * KiB;
	o->sched_min_interval_ms = 1;
	o->sched_base_interval_ms = 10;
	o->sched_max_interval_ms = 100;
	o->vector_index = 1;
	o->index_m = 16;
	o->index_ef_construction = 200;
	o->vector_metric = SUTRA_METRIC_COSINE;
	o->create_if_missing = 1;
	o->repair = 0;
	o->shards = 0;
	o->txn_timeout_ms = 5000;
	o->vector_index_per_shard = 1;
}

static int range(const char *key, uint64_t v, uint64_t lo, uint64_t hi)
{
	if (v >= lo && v <= hi)
		return 0;
	return err_set(SUTRA_EINVAL,
	               "option %s = %" PRIu64 " is out of range (%" PRIu64 "..%" PRIu64 ")", key, v,
	               lo, hi);
}

int sutra_options_validate(const sutra_options *o)
{
	int rc;

	if (!o)
		return err_set(SUTRA_EINVAL, "options: NULL");
	if (o->durability < SUTRA_DURABILITY_ALWAYS || o->durability > SUTRA_DURABILITY_NONE)
		return err_set(
		    SUTRA_EINVAL,
		    "option durability = %d is not one of always (0), interval (1), none (2)",
		    o->durability);
	if ((rc = range("dimension", o->dimension, 1, 4096)) < 0 ||
	    (rc = range("interval_ms", o->interval_ms, 1, 60000)) < 0 ||
	    (rc = range("wal_segment_bytes", o->wal_segment_bytes, MiB, GiB)) < 0 ||
	    (o->checkpoint_wal_bytes &&
	     (rc = range("checkpoint_wal_bytes", o->checkpoint_wal_bytes, MiB, 64 * GiB)) < 0) ||
	    (rc = range("max_pending_bytes", o->max_pending_bytes, 64 * KiB, 4 * GiB)) < 0 ||
	    (rc = range("busy_timeout_ms", o->busy_timeout_ms, 0, 600000)) < 0 ||
	    (rc = range("max_content_bytes", o->max_content_bytes, 0, 10 * MiB)) < 0 ||
	    (rc = range("max_batch_ops", o->max_batch_ops, 1, 10000000)) < 0 ||
	    (rc = range("max_batch_bytes", o->max_batch_bytes, KiB, GiB)) < 0 ||
	    (rc = range("max_meta_bytes", o->max_meta_bytes, 0, MiB)) < 0 ||
	    (rc = range("sched_min_interval_ms", o->sched_min_interval_ms, 1, 100)) < 0 ||
	    (rc = range("sched_max_interval_ms", o->sched_max_interval_ms, o->sched_min_interval_ms,
	                1000)) < 0 ||
	    (rc = range("sched_base_interval_ms", o->sched_base_interval_ms,
	                o->sched_min_interval_ms, o->sched_max_interval_ms)) < 0 ||
	    (rc = range("vector_index", (uint64_t)o->vector_index, 0, 1)) < 0 ||
	    (rc = range("index_m", o->index_m, 2, 128)) < 0 ||
	    (rc = range("index_ef_construction", o->index_ef_construction, o->index_m, 4096)) < 0 ||
	    (rc = range("vector_metric", (uint64_t)(unsigned)o->vector_metric, 0, 2)) < 0 ||
	    (rc = range("create_if_missing", (uint64_t)o->create_if_missing, 0, 1)) < 0 ||
	    (rc = range("repair", (uint64_t)o->repair, 0, 1)) < 0 ||
	    (rc = range("shards", o->shards, 0, 256)) < 0 ||
	    (rc = range("txn_timeout_ms", o->txn_timeout_ms, 1, 600000)) < 0 ||
	    (rc = range("vector_index_per_shard", (uint64_t)o->vector_index_per_shard, 0, 1)) < 0)
		return rc;
	return 0;
}

/* Parses an unsigned number with an optional K/M/G suffix. */
static int parse_size(const char *key, const char *v, uint64_t *out)
{
	char *end;
	uint64_t mult = 1;

	errno = 0;
	if (!v || !*v || *v == '-')
		return err_set(SUTRA_EINVAL, "option %s = '%s' is not a number", key, v ? v : "");
	unsigned long long n = strtoull(v, &end, 10);
	if (*end == 'K' || *end == 'k')
		mult = KiB, end++;
	else if (*end == 'M' || *end == 'm')
		mult = MiB, end++;
	else if (*end == 'G' || *end == 'g')
		mult = GiB, end++;
	if (errno || end == v || *end || (mult > 1 && n > UINT64_MAX / mult))
		return err_set(SUTRA_EINVAL, "option %s = '%s' is not a number", key, v);
	*out = n * mult;
	return 0;
}

static int parse_durability(sutra_options *o, const char *v)
{
	uint64_t ms = 0;

	if (strcmp(v, "always") == 0) {
		o->durability = SUTRA_DURABILITY_ALWAYS;
		return 0;
	}
	if (strcmp(v, "none") == 0) {
		o->durability = SUTRA_DURABILITY_NONE;
		return 0;
	}
	if (strncmp(v, "interval:", 9) == 0 && parse_size("durability", v + 9, &ms) == 0) {
		int rc = range("durability interval (ms)", ms, 1, 60000);
		if (rc < 0)
			return rc;
		o->durability = SUTRA_DURABILITY_INTERVAL;
		o->interval_ms = (uint32_t)ms;
		return 0;
	}
	return err_set(
	    SUTRA_EINVAL,
	    "option durability = '%s' is not one of always, none, interval:<1..60000 ms>", v);
}

static const char *const metric_names[] = {"cosine", "l2", "ip"};

static int parse_metric(sutra_options *o, const char *v)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(v, metric_names[i]) == 0) {
			o->vector_metric = i;
			return 0;
		}
	return err_set(SUTRA_EINVAL, "option vector_metric = '%s' is not one of cosine, l2, ip", v);
}

const char *sutra_metric_name(int metric)
{
	return metric >= 0 && metric < 3 ? metric_names[metric] : "?";
}

struct numeric_option {
	const char *key;
	size_t offset;
	int is64;
};

#define NUM(field, w)                                                                              \
	{                                                                                          \
#field, offsetof(sutra_options, field), w                                          \
	}
static const struct numeric_option numeric[] = {
    NUM(dimension, 0),
    NUM(index_m, 0),
    NUM(index_ef_construction, 0),
    NUM(interval_ms, 0),
    NUM(wal_segment_bytes, 1),
    NUM(checkpoint_wal_bytes, 1),
    NUM(max_pending_bytes, 1),
    NUM(busy_timeout_ms, 0),
    NUM(max_content_bytes, 0),
    NUM(max_batch_ops, 0),
    NUM(max_batch_bytes, 1),
    NUM(max_meta_bytes, 0),
    NUM(sched_min_interval_ms, 0),
    NUM(sched_base_interval_ms, 0),
    NUM(sched_max_interval_ms, 0),
    NUM(shards, 0),
    NUM(txn_timeout_ms, 0),
};

static int set_flag(int *field, const char *key, const char *v)
{
	if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0)
		*field = 1;
	else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0)
		*field = 0;
	else
		return err_set(SUTRA_EINVAL, "option %s = '%s' is not a boolean (true/false)", key,
		               v);
	return 0;
}

int sutra_options_set(sutra_options *o, const char *key, const char *value)
{
	uint64_t n = 0;
	int rc;

	if (!o || !key || !value)
		return err_set(SUTRA_EINVAL, "options_set: NULL argument");
	if (strcmp(key, "durability") == 0)
		return parse_durability(o, value);
	if (strcmp(key, "create_if_missing") == 0)
		return set_flag(&o->create_if_missing, key, value);
	if (strcmp(key, "repair") == 0)
		return set_flag(&o->repair, key, value);
	if (strcmp(key, "vector_index") == 0)
		return set_flag(&o->vector_index, key, value);
	if (strcmp(key, "vector_index_per_shard") == 0)
		return set_flag(&o->vector_index_per_shard, key, value);
	if (strcmp(key, "vector_metric") == 0)
		return parse_metric(o, value);
	for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++) {
		if (strcmp(key, numeric[i].key) != 0)
			continue;
		if ((rc = parse_size(key, value, &n)) < 0)
			return rc;
		char *field = (char *)o + numeric[i].offset;
		if (!numeric[i].is64 && n > UINT32_MAX)
			return err_set(SUTRA_EINVAL, "option %s = %s is out of range (max %u)", key,
			               value, UINT32_MAX);
		if (numeric[i].is64)
			memcpy(field, &n, sizeof(uint64_t));
		else {
			uint32_t v32 = (uint32_t)n;
			memcpy(field, &v32, sizeof v32);
		}
		return 0;
	}
	return err_set(SUTRA_EINVAL, "unknown option '%s'", key);
}
