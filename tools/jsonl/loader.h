/* loader.h - sutra-import's batching: records go into a batch, a full
 * batch is committed to a sink, and a refused batch is split in halves
 * until the records at fault are found and reported with file and line
 * (the good ones are committed, in input order).
 *
 * A batch is flushed when it holds max_batch records, when the next record
 * would take it over the sink's byte budget, or when the kind of record
 * changes and the sink cannot mix kinds (the server: LearnConcepts and
 * LearnAssociations are separate requests). Order is kept, so an
 * association is always applied after every concept above it in the input.
 */
#ifndef SUTRA_TOOLS_LOADER_H
#define SUTRA_TOOLS_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "progress.h"
#include "record.h"
#include "sink.h"

struct loader {
	struct sink *sink;
	struct progress *progress; /* cleared before each message */
	struct rec *recs;          /* the batch being filled */
	size_t n, cap, bytes;
	uint64_t concepts, assocs; /* committed */
	uint64_t errors, max_errors;
	bool stop;  /* too many errors, or the sink failed */
	bool fatal; /* the sink failed */
};

/* max_errors: stop after that many (0: never). */
void ld_init(struct loader *l, struct sink *s, uint64_t max_errors, struct progress *p);
void ld_free(struct loader *l);
/* Takes *r (it is moved into the batch; do not free it). */
void ld_add(struct loader *l, struct rec *r);
void ld_flush(struct loader *l);
/* Reports one error at file:line (line 0: no line) and counts it. */
__attribute__((format(printf, 4, 5))) void ld_error(struct loader *l, const char *file,
                                                    uint64_t line, const char *fmt, ...);

#endif
