/* writer.h - writing records of the Sutra JSONL format (sutra-export,
 * wordnet2jsonl).
 *
 * Lines are written by hand rather than through a JSON tree: the field
 * order is fixed (so two exports of the same data are byte-identical) and
 * a float is printed as the shortest decimal that reads back as the same
 * 32-bit float (0.1, not 0.10000000149011612), so export -> import ->
 * export reproduces every line exactly.
 */
#ifndef SUTRA_TOOLS_WRITER_H
#define SUTRA_TOOLS_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "sutra/sutra.h"

/* A concept to write; every pointer is borrowed for the call. */
struct jw_concept {
	const char *id; /* as it should appear (text or 32 hex) */
	const char *content;
	size_t content_len;
	const float *vector; /* NULL: the field is left out */
	uint32_t dim;
	bool scores; /* write strength and confidence (else the defaults apply) */
	float strength, confidence;
	const sutra_meta_entry *meta; /* none: the field is left out */
	size_t meta_count;
};

/* True if s[0..n) is valid UTF-8 (JSON text must be). */
bool jw_utf8_valid(const char *s, size_t n);

/* The shortest decimal that reads back (through a double, as jansson reads
 * it) as f. out needs 32 bytes. f must be finite. */
void jw_float_str(float f, char out[32]);

/* Writes s[0..n) as a JSON string (quotes included). s must be valid UTF-8;
 * control characters and NUL are escaped. */
void jw_string(FILE *f, const char *s, size_t n);

/* One line each, newline included. The caller checks ferror(f). */
void jw_concept(FILE *f, const struct jw_concept *c);
void jw_assoc(FILE *f, const char *source, const char *target, unsigned type, float confidence);

#endif
