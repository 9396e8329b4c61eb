/* sink.h - where sutra-import sends its batches: a store directory opened
 * with the library (sink_dir.c) or a running sutra-server reached with the
 * C client (sink_server.c).
 *
 * A sink commits a run of records as one atomic batch and says how a
 * failure should be taken: SINK_EREC when the batch was refused because of
 * what some record holds (the loader then splits the batch to find which
 * and reports it with its file and line), SINK_EFATAL when the destination
 * cannot take any more (read-only, gone, out of memory): stop.
 */
#ifndef SUTRA_TOOLS_SINK_H
#define SUTRA_TOOLS_SINK_H

#include <stdbool.h>
#include <stddef.h>

#include "record.h"

enum { SINK_OK = 0, SINK_EREC = -1, SINK_EFATAL = -2 };

struct sink;

struct sink_ops {
	/* Commits r[0..n) atomically. On failure msg gets why. */
	int (*commit)(struct sink *s, struct rec *r, size_t n, char *msg, size_t len);
	/* Makes everything durable and closes; returns 0 or SINK_EFATAL (msg). */
	int (*finish)(struct sink *s, char *msg, size_t len);
	void (*free)(struct sink *s);
};

struct sink {
	const struct sink_ops *ops;
	struct rec_limits limits; /* what the destination accepts */
	size_t max_batch;         /* records per batch it takes */
	size_t max_batch_bytes;   /* approximate encoded bytes per batch (rec.cost) */
	bool mixed;               /* concepts and associations may share a batch */
	char what[160];           /* "store DIR (dimension N, durability D)" for messages */
};

/* Budget of bytes per batch: well under the server's 100 MiB frame and the
 * engine's default max_batch_bytes, large enough for any single record. */
#define SINK_BATCH_BYTES (48u << 20)

struct sink_dir_config {
	const char *dir;
	const char *durability;       /* NULL: the engine's default (always) */
	const char *dimension;        /* NULL: the store's, or the engine's default */
	const char *const *engine_kv; /* "key=value" engine options */
	size_t n_engine_kv;
	size_t batch;    /* records per batch wanted */
	bool checkpoint; /* write a checkpoint when done */
};

struct sink_server_config {
	const char *host;
	unsigned port;
	int timeout_ms;
	size_t batch;
};

int sink_dir_open(const struct sink_dir_config *cfg, struct sink **out, char *msg, size_t len);
int sink_server_open(const struct sink_server_config *cfg, struct sink **out, char *msg,
                     size_t len);

#endif
