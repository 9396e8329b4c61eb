/* progress.h - a one-line progress display on stderr for the bulk tools.
 *
 * On a terminal the line is redrawn in place (carriage return) at most ten
 * times a second: records, records/s and, when the total is known (bytes of
 * the input files, or records of a store), a bar, the percentage and the
 * ETA. Forced on when stderr is not a terminal (--progress), it prints a
 * plain line every few seconds instead, which reads well in a log. Off, it
 * costs one branch per update.
 */
#ifndef SUTRA_TOOLS_PROGRESS_H
#define SUTRA_TOOLS_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct progress {
	bool on, tty;
	bool by_bytes;  /* total counts bytes (else records) */
	uint64_t total; /* 0: unknown */
	uint64_t bytes, records;
	double start, last; /* seconds */
	bool drawn;         /* a line is on screen (to clear before a message) */
};

/* on: draw at all; total: bytes (by_bytes) or records expected, 0 if unknown. */
void progress_init(struct progress *p, bool on, uint64_t total, bool by_bytes);
/* Seconds since progress_init. */
double progress_elapsed(const struct progress *p);
void progress_update(struct progress *p, uint64_t bytes, uint64_t records);
/* Erases the line so a message can be printed; the next update redraws. */
void progress_clear(struct progress *p);
/* Draws the final figures and ends the line. */
void progress_done(struct progress *p);

/* Monotonic seconds. */
double progress_now(void);

#endif
