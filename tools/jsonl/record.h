/* record.h - one line of the Sutra JSONL format, parsed and checked against
 * the limits of the store it is going to (sutra-import).
 *
 * The format (docs/IMPORT.md): one JSON object per line, either a concept
 *
 *   {"id": "...", "content": "...", "vector": [f32...], "strength": 1.0,
 *    "confidence": 1.0, "metadata": {"k": "v", ...}}
 *
 * (id required, everything else optional: "", no vector, 1.0, 1.0, none) or an
 * association
 *
 *   {"source": "...", "target": "...", "type": "hierarchical" | 0..4,
 *    "confidence": 0.9}
 *
 * (type defaults to semantic, confidence to 1.0). Ids go through
 * sutra_id_parse: 32 hex characters, shorter hex zero-padded, other text
 * hashed. Unknown fields are refused (a misspelt "confidance" would
 * otherwise be dropped silently), and so is anything the engine would
 * refuse, so that an error names the field and the limit instead of
 * failing a whole batch later: every message is "field \"name\": why",
 * the caller prefixes file:line.
 *
 * A record parsed here owns its JSON tree (strings point into it) and the
 * arrays made for the engine; rec_free releases them. A record made by the
 * fast parser (recfast.h) has no tree: its strings, vector and metadata
 * live in memory held by r->owner, and rec_free drops the record's
 * reference to it instead.
 */
#ifndef SUTRA_TOOLS_RECORD_H
#define SUTRA_TOOLS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sutra/sutra.h"

/* What the destination accepts. A zero limit is not checked here (the
 * destination checks it and its message is reported instead). */
struct rec_limits {
	uint32_t dimension;        /* a vector must have exactly this many numbers */
	uint32_t max_content;      /* content bytes */
	uint32_t max_meta_bytes;   /* metadata as the engine encodes it (op.h) */
	uint32_t max_meta_entries; /* metadata entries (the wire's 256; 0: none) */
};

/* Longest line read, in bytes: a 10 MiB content written entirely as \uXXXX
 * escapes, plus a large vector and metadata, fits. */
#define REC_MAX_LINE (96u << 20)

enum rec_kind { REC_CONCEPT = 1, REC_ASSOC = 2 };

/* Holder of the memory of records that do not own theirs (the parsed
 * blocks of the import pipeline): rec_free calls release once per record. */
struct rec_owner {
	void (*release)(struct rec_owner *o);
};

struct rec {
	int kind; /* enum rec_kind */
	const char *file;
	uint64_t line;
	json_t *root;            /* owns the strings below (rec_parse) */
	struct rec_owner *owner; /* or holds them (recfast_parse) */
	/* concept */
	sutra_id id;
	char id_hex[SUTRA_ID_HEX];
	const char *id_text; /* as written */
	const char *content;
	size_t content_len;
	float *vector; /* NULL: none */
	uint32_t dim;
	float strength, confidence;
	sutra_meta_entry *meta;
	size_t meta_count;
	uint32_t meta_bytes; /* encoded size, as the engine counts it */
	/* association (confidence above) */
	sutra_id source, target;
	char source_hex[SUTRA_ID_HEX], target_hex[SUTRA_ID_HEX];
	const char *source_text, *target_text;
	unsigned type;
	size_t cost; /* approximate bytes it adds to a batch */
};

/* Parses line[0..len) (no newline). Returns 1 for a blank line (nothing to
 * do), 0 with *r filled (free it with rec_free), or -1 with the reason in
 * err and only r->kind set (0 when the line was not recognised as either). */
int rec_parse(const char *line, size_t len, const struct rec_limits *lim, struct rec *r, char *err,
              size_t errlen);
void rec_free(struct rec *r);

/* "semantic", "causal", "temporal", "hierarchical", "compositional". */
const char *rec_type_name(unsigned type);

#endif
