/* recfast.h - the fast path of sutra-import's record parsing: one JSONL line
 * of the Sutra format (record.h) decoded in a single pass straight into a
 * struct rec, with no allocation per value.
 *
 * It is an optimisation of rec_parse, never a second opinion: it takes only
 * lines that it can prove rec_parse would accept, and returns exactly the
 * record rec_parse would make (same ids, floats, strings, metadata order,
 * cost). Anything else - any error, and unusual but valid input such as
 * escaped keys or numbers that need more than a plain strtod - is declined,
 * and the caller hands the line to rec_parse, which decides and words the
 * error (file:line:field messages come from one place). The differential
 * test tests/tools/test_recfast.c holds it to that.
 */
#ifndef SUTRA_TOOLS_RECFAST_H
#define SUTRA_TOOLS_RECFAST_H

#include <stddef.h>

#include "arena.h"
#include "record.h"

enum { RECFAST_OK = 0, RECFAST_BLANK = 1, RECFAST_DECLINE = -1 };

/* Per-thread state: MD5 context for text ids, scratch arrays. */
struct recfast {
	void *md5_ctx; /* EVP_MD_CTX *, NULL: use sutra_id_parse */
	void *md5;     /* EVP_MD *, fetched once */
	float *vec;    /* scratch vector */
	size_t vec_cap;
	sutra_meta_entry *meta; /* scratch metadata */
	size_t meta_cap;
};

/* 0, or -1 when out of memory. */
int recfast_init(struct recfast *f);
void recfast_free(struct recfast *f);

/* Parses line[0..len) (no newline). RECFAST_BLANK: a blank line (as
 * rec_parse's 1). RECFAST_OK: *r is filled as rec_parse would fill it, with
 * its strings, vector and metadata in a (r->root and r->owner NULL: the
 * caller sets the owner). RECFAST_DECLINE: not taken; *r and what was added
 * to a are garbage (rewind a), call rec_parse. */
int recfast_parse(struct recfast *f, const char *line, size_t len, const struct rec_limits *lim,
                  struct arena *a, struct rec *r);

/* sutra_id_parse, with the MD5 of text ids through f's reusable context
 * (EVP_Digest fetches the algorithm on every call, which cost as much as the
 * hashing). A cache of recent ids was tried and was slower: a miss in it
 * costs about what MD5 of a short id does. */
void recfast_id(struct recfast *f, const char *s, size_t len, sutra_id *out);

#endif
