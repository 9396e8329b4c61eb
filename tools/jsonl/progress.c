/* progress.c - the progress line of sutra-import and sutra-export (see
 * progress.h). Rates are averages since the start: imports run at a steady
 * pace, and an average does not jump around like an instantaneous rate.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

#define TTY_PERIOD 0.1 /* seconds between redraws on a terminal */
#define LOG_PERIOD 5.0 /* seconds between lines in a log */
#define BAR_WIDTH  24

double progress_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_init(struct progress *p, bool on, uint64_t total, bool by_bytes)
{
	*p = (struct progress){.on = on,
	                       .tty = isatty(STDERR_FILENO) == 1,
	                       .by_bytes = by_bytes,
	                       .total = total,
	                       .start = progress_now()};
	p->last = p->start;
}

double progress_elapsed(const struct progress *p)
{
	return progress_now() - p->start;
}

static void put_eta(double seconds)
{
	unsigned s = seconds > 359999 ? 359999 : (unsigned)seconds;

	if (s >= 3600)
		fprintf(stderr, "  ETA %u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
	else
		fprintf(stderr, "  ETA %u:%02u", s / 60, s % 60);
}

static void put_bar(double frac)
{
	int full = (int)(frac * BAR_WIDTH);

	putc('[', stderr);
	for (int i = 0; i < BAR_WIDTH; i++)
		putc(i < full ? '#' : '.', stderr);
	fprintf(stderr, "] %3d%%", (int)(frac * 100));
}

static void draw(struct progress *p, double now, bool final)
{
	double el = now - p->start, rate = el > 0 ? (double)p->records / el : 0;
	uint64_t done = p->by_bytes ? p->bytes : p->records;
	double frac = p->total ? (double)done / (double)p->total : 0;

	if (frac > 1)
		frac = 1;
	fputs(p->tty ? "\r" : "progress: ", stderr);
	if (p->total)
		put_bar(frac);
	fprintf(stderr, "  %llu records  %.0f rec/s", (unsigned long long)p->records, rate);
	if (p->by_bytes && p->total)
		fprintf(stderr, "  %.1f/%.1f MB", (double)p->bytes / 1e6, (double)p->total / 1e6);
	else if (p->by_bytes)
		fprintf(stderr, "  %.1f MB", (double)p->bytes / 1e6);
	if (p->total && !final && frac > 0)
		put_eta(el / frac - el);
	fputs(p->tty ? "\033[K" : "\n", stderr);
	if (final && p->tty)
		putc('\n', stderr);
	fflush(stderr);
	p->drawn = p->tty && !final;
	p->last = now;
}

void progress_update(struct progress *p, uint64_t bytes, uint64_t records)
{
	if (!p->on)
		return;
	p->bytes = bytes;
	p->records = records;
	double now = progress_now();
	if (now - p->last >= (p->tty ? TTY_PERIOD : LOG_PERIOD))
		draw(p, now, false);
}

void progress_clear(struct progress *p)
{
	if (p->on && p->drawn) {
		fputs("\r\033[K", stderr);
		p->drawn = false;
	}
}

void progress_done(struct progress *p)
{
	if (p->on)
		draw(p, progress_now(), true);
}
