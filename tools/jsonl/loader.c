/* loader.c - batching, commits and error isolation for sutra-import (see
 * loader.h).
 *
 * Splitting a refused batch in halves finds b bad records among n with
 * about 2 b log2(n) commits, so a file with a few mistakes costs a few
 * dozen extra commits, not one commit per record. An association refused
 * because an endpoint is missing gets a hint: concepts must come first in
 * the input (or --two-pass).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

void ld_init(struct loader *l, struct sink *s, uint64_t max_errors, struct progress *p)
{
	*l = (struct loader){.sink = s, .progress = p, .max_errors = max_errors};
}

/* Room for one more record: the batch array grows with use, so a large
 * --batch costs memory only if the batches really fill up. */
static bool room(struct loader *l)
{
	if (l->n < l->cap)
		return true;
	size_t cap = l->cap ? l->cap * 2 : 1024;
	if (cap > l->sink->max_batch)
		cap = l->sink->max_batch;
	struct rec *r = realloc(l->recs, cap * sizeof *r);
	if (!r)
		return false;
	l->recs = r;
	l->cap = cap;
	return true;
}

void ld_free(struct loader *l)
{
	for (size_t i = 0; i < l->n; i++)
		rec_free(&l->recs[i]);
	free(l->recs);
	l->recs = NULL;
	l->n = 0;
}

void ld_error(struct loader *l, const char *file, uint64_t line, const char *fmt, ...)
{
	va_list ap;

	progress_clear(l->progress);
	if (line)
		fprintf(stderr, "%s:%llu: ", file, (unsigned long long)line);
	else
		fprintf(stderr, "%s: ", file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (++l->errors == l->max_errors && !l->stop) {
		fprintf(stderr, "sutra-import: stopping after %llu errors (--max-errors)\n",
		        (unsigned long long)l->errors);
		l->stop = true;
	}
}

/* An engine refusal of one record, with the ids as written in the input
 * when the message is about a missing endpoint. */
static void record_error(struct loader *l, const struct rec *r, const char *msg)
{
	if (r->kind == REC_ASSOC && strncmp(msg, "no such ", 8) == 0) {
		bool src = strstr(msg, "source") != NULL;
		ld_error(l, r->file, r->line,
		         "%s (\"%s\": \"%s\"); concepts must come before the associations that "
		         "name them (or use --two-pass)",
		         msg, src ? "source" : "target", src ? r->source_text : r->target_text);
	} else if (r->kind == REC_CONCEPT) {
		ld_error(l, r->file, r->line, "concept \"%s\": %s", r->id_text, msg);
	} else {
		ld_error(l, r->file, r->line, "%s", msg);
	}
}

static void commit_range(struct loader *l, struct rec *r, size_t n)
{
	char msg[1024];

	if (l->fatal)
		return;
	int rc = l->sink->ops->commit(l->sink, r, n, msg, sizeof msg);
	if (rc == SINK_OK) {
		for (size_t i = 0; i < n; i++)
			r[i].kind == REC_CONCEPT ? l->concepts++ : l->assocs++;
	} else if (rc == SINK_EFATAL) {
		ld_error(l, "sutra-import", 0, "%s: %s", l->sink->what, msg);
		l->fatal = l->stop = true;
	} else if (n == 1) {
		record_error(l, r, msg);
	} else {
		commit_range(l, r, n / 2);
		commit_range(l, r + n / 2, n - n / 2);
	}
}

void ld_flush(struct loader *l)
{
	if (l->n)
		commit_range(l, l->recs, l->n);
	for (size_t i = 0; i < l->n; i++)
		rec_free(&l->recs[i]);
	l->n = 0;
	l->bytes = 0;
}

void ld_add(struct loader *l, struct rec *r)
{
	if (l->n > 0 &&
	    (l->n == l->sink->max_batch || l->bytes + r->cost > l->sink->max_batch_bytes ||
	     (!l->sink->mixed && r->kind != l->recs[0].kind)))
		ld_flush(l);
	if (!room(l)) {
		ld_error(l, r->file, r->line, "out of memory for a batch of %zu records", l->n + 1);
		rec_free(r);
		l->fatal = l->stop = true;
		return;
	}
	l->recs[l->n++] = *r;
	l->bytes += r->cost;
	memset(r, 0, sizeof *r);
}
