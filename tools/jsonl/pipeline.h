/* pipeline.h - sutra-import's input pipeline: one reader thread cuts the
 * input files into blocks of whole lines, N parser threads turn blocks into
 * records and error messages, and the caller (the committing thread) takes
 * them back strictly in input order, one item at a time.
 *
 *   reader ──blocks──▶ parsers (N) ──parsed blocks, any order──▶ pl_next ─▶ in order
 *
 * Order: blocks are numbered as they are read and handed back by number,
 * so a later line still overrides an earlier one and errors come out in
 * line order, whatever the number of parsers. Memory: at most
 * PL_INFLIGHT(N) blocks are between the reader and the caller, each of at
 * most PL_BLOCK_LINES lines, and they hold at most PL_INFLIGHT_BYTES of
 * input unless a single line is longer (then that block alone); a block
 * also stays alive while a record taken from it is held (in a batch not
 * yet committed, released by rec_free).
 * Lines are bounded as lines.c bounded them: a line longer than max_line
 * is skipped without being held and reported as too long.
 *
 * Each line gets what sutra-import's one-line step gave it: a UTF-8 byte
 * order mark is dropped from a file's first line, blank lines are skipped,
 * records of the other kind are skipped in a two-pass import (want), and a
 * line is parsed by recfast_parse, or by rec_parse when the fast parser
 * declines it (rec_parse words every error).
 */
#ifndef SUTRA_TOOLS_PIPELINE_H
#define SUTRA_TOOLS_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define PL_BLOCK_BYTES    (512u << 10) /* input bytes per block (a long line: more) */
#define PL_BLOCK_LINES    4096         /* lines per block, at most */
#define PL_MIN_READ       4096         /* bytes read for a block, at least */
#define PL_INFLIGHT(n)    (2 * (n) + 2)
#define PL_INFLIGHT_BYTES (64u << 20)
#define PL_MAX_THREADS    64

struct pl_config {
	const struct rec_limits *lim;
	size_t max_line;    /* longest line kept (--max-line-bytes) */
	unsigned threads;   /* parser threads, 1..PL_MAX_THREADS */
	size_t block_bytes; /* 0: PL_BLOCK_BYTES (smaller in tests, to get many blocks) */
};

/* One thing for the caller, in input order. */
struct pl_item {
	const char *err;  /* NULL: r is a record to load; else a message to report */
	const char *file; /* "<stdin>" for "-" */
	uint64_t line;    /* 0: about the file itself (it could not be opened) */
	struct rec r;     /* r.file and r.line set; take it with ld_add or rec_free */
};

struct pipeline;

/* 0, or -1 (out of memory). */
int pl_new(const struct pl_config *cfg, struct pipeline **out);
/* Starts a pass over files ("-": standard input), keeping only records of
 * kind want (0: all). Returns 0, or -1 when the threads cannot start. */
int pl_start(struct pipeline *pl, char *const *files, int n_files, int want);
/* The next item, borrowed until the next call (its message) - its record is
 * the caller's. Returns false at the end of the pass. */
bool pl_next(struct pipeline *pl, struct pl_item **it);
/* Input bytes handed back so far (whole blocks), for the progress line. */
uint64_t pl_bytes(const struct pipeline *pl);
/* Ends the pass: stops reading if the caller stopped early, drops what was
 * not taken, joins the threads. */
void pl_end(struct pipeline *pl);
/* Frees it; records taken from it must have been freed (rec_free) first. */
void pl_free(struct pipeline *pl);

#endif
