/* lines.h - reading an input file line by line with a bound on the line
 * length (sutra-import).
 *
 * A line longer than the bound is not kept in memory: the reader skips to
 * its end and reports it as too long, so a file without newlines (a JSON
 * array, a binary file) costs one error, not an allocation of its size.
 * Bytes consumed are counted for the progress line.
 */
#ifndef SUTRA_TOOLS_LINES_H
#define SUTRA_TOOLS_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct lines {
	FILE *f;
	size_t max; /* longest line kept */
	char *buf;  /* the current line, NUL-terminated */
	size_t len, cap;
	uint64_t line;  /* number of the current line, from 1 */
	uint64_t bytes; /* consumed so far */
	bool too_long;  /* the current line was longer than max (buf is empty) */
};

void lines_init(struct lines *r, FILE *f, size_t max);
/* Reads the next line (without its newline) into r->buf/r->len. Returns 1,
 * 0 at the end of the file, -1 on a read error (errno set). */
int lines_next(struct lines *r);
void lines_free(struct lines *r);

#endif
