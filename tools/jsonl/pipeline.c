/* pipeline.c - reader, parsers and in-order hand-back for sutra-import (see
 * pipeline.h).
 *
 * Blocks are numbered by the reader and kept in a ring of PL_INFLIGHT(N)
 * slots, indexed by number: the parsers take the oldest unparsed block, the
 * caller the oldest block, once it is parsed. Three counters under one
 * mutex say where everyone is (next_read >= next_parse >= next_commit), and
 * the reader may run ahead of the caller by at most the ring's size. A
 * block is a few hundred kilobytes of lines, so the mutex is taken a few
 * times per block, not per line.
 *
 * The reader cuts after the last newline of what it read (or after the
 * PL_BLOCK_LINES-th, then reads less for the next block, so that short
 * lines do not make huge item arrays) and carries the partial line into the
 * next block; a buffer holding no newline grows up to max_line + 1 bytes,
 * and past that the line is skipped to its end and becomes a block of its
 * own that says so. Standard input and pipes are polled, so that stopping
 * early never waits for a writer that has gone quiet. Line numbers are counted by the
 * parsers, relative to their block, and made absolute by the caller, which
 * sees the blocks of a file in order.
 *
 * A parsed block keeps its records' strings, vectors and metadata in its
 * arena; the caller's records point there (rec.owner), so a block is
 * recycled when the caller is done with its items and the last of its
 * records has been freed (reference count, touched by the calling thread
 * only).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "pipeline.h"
#include "recfast.h"

enum blk_kind { BLK_TEXT, BLK_TOO_LONG, BLK_OPEN_ERROR, BLK_READ_ERROR };

struct block {
	struct rec_owner owner; /* first: rec.owner points here */
	struct pipeline *pl;
	struct block *next_free;
	/* set by the reader */
	int kind; /* enum blk_kind */
	const char *file;
	bool first;     /* starts at line 1 of its file */
	char *text;     /* BLK_TEXT: whole lines, the last one maybe without '\n' */
	size_t len;     /* bytes of lines in text */
	size_t cap;     /* allocated */
	uint64_t bytes; /* input it stands for (progress) */
	int err;        /* BLK_OPEN_ERROR, BLK_READ_ERROR: errno */
	/* set by a parser */
	bool parsed;
	struct pl_item *items;
	size_t n_items, cap_items;
	uint64_t lines;     /* lines it holds */
	struct pl_item oom; /* reported after the items when err is set */
	struct arena arena; /* the records' strings, vectors, metadata; messages */
	/* the caller's */
	unsigned refs; /* iteration + records handed out and not yet freed */
};

struct worker {
	struct pipeline *pl;
	struct recfast fast;
	pthread_t tid;
	bool started;
};

struct pipeline {
	struct pl_config cfg;
	size_t target; /* bytes per block */
	pthread_mutex_t mu;
	pthread_cond_t cv_read;  /* reader: room in the ring */
	pthread_cond_t cv_parse; /* parsers: a block to parse */
	pthread_cond_t cv_done;  /* caller: a block parsed, or the reader done */
	struct block **ring;
	size_t ring_n;
	uint64_t next_read, next_parse, next_commit; /* block numbers */
	size_t inflight_bytes;
	bool reader_done, stop;
	struct block *free_list;
	size_t n_free;
	struct block *spare; /* for the reader to report running out of memory */
	/* this pass */
	char *const *files;
	int n_files, want;
	pthread_t reader;
	bool reader_started;
	struct worker *workers;
	/* the caller's */
	struct block *cur;
	size_t idx;
	uint64_t base; /* lines of the current file before cur */
	uint64_t bytes_done;
};

static const char oom_text[] = "out of memory";

/* ---- blocks ------------------------------------------------------------ */

static void block_destroy(struct block *b)
{
	free(b->text);
	free(b->items);
	arena_free(&b->arena);
	free(b);
}

/* Back to the free list (or freed when it is long enough). */
static void recycle(struct pipeline *pl, struct block *b)
{
	pthread_mutex_lock(&pl->mu);
	if (pl->n_free < pl->ring_n + 2) {
		b->next_free = pl->free_list;
		pl->free_list = b;
		pl->n_free++;
		b = NULL;
	}
	pthread_mutex_unlock(&pl->mu);
	if (b)
		block_destroy(b);
}

static void block_release(struct rec_owner *o)
{
	struct block *b = (struct block *)o;

	if (--b->refs == 0)
		recycle(b->pl, b);
}

/* A block ready to be filled, with room for at least need bytes of text;
 * NULL when out of memory. */
static struct block *get_block(struct pipeline *pl, size_t need)
{
	struct block *b;

	pthread_mutex_lock(&pl->mu);
	if ((b = pl->free_list) != NULL) {
		pl->free_list = b->next_free;
		pl->n_free--;
	}
	pthread_mutex_unlock(&pl->mu);
	if (!b) {
		if (!(b = calloc(1, sizeof *b)))
			return NULL;
		b->owner.release = block_release;
		b->pl = pl;
		arena_init(&b->arena);
	}
	size_t cap = need > pl->target ? need : pl->target;
	if (b->cap < cap || b->cap > 4 * cap) { /* a long line's buffer is not kept */
		free(b->text);
		b->cap = 0;
		if (!(b->text = malloc(cap))) {
			block_destroy(b);
			return NULL;
		}
		b->cap = cap;
	}
	if (arena_size(&b->arena) > 8 * cap) { /* nor the arena of a long line */
		arena_free(&b->arena);
		arena_init(&b->arena);
	}
	b->kind = BLK_TEXT;
	b->file = NULL;
	b->first = b->parsed = false;
	b->len = b->n_items = 0;
	b->bytes = b->lines = 0;
	b->err = 0;
	b->refs = 0;
	b->oom.err = NULL;
	return b;
}

/* ---- the reader -------------------------------------------------------- */

static bool stopped(struct pipeline *pl)
{
	pthread_mutex_lock(&pl->mu);
	bool s = pl->stop;
	pthread_mutex_unlock(&pl->mu);
	return s;
}

/* Hands b to the parsers once the ring has room. False (b recycled) when
 * the caller stopped. */
static bool publish(struct pipeline *pl, struct block *b)
{
	pthread_mutex_lock(&pl->mu);
	while (!pl->stop && (pl->next_read - pl->next_commit >= pl->ring_n ||
	                     (pl->next_read > pl->next_commit &&
	                      pl->inflight_bytes + b->cap > PL_INFLIGHT_BYTES)))
		pthread_cond_wait(&pl->cv_read, &pl->mu);
	bool ok = !pl->stop;
	if (ok) {
		pl->ring[pl->next_read++ % pl->ring_n] = b;
		pl->inflight_bytes += b->cap;
		pthread_cond_signal(&pl->cv_parse);
	}
	pthread_mutex_unlock(&pl->mu);
	if (!ok)
		recycle(pl, b);
	return ok;
}

/* The reader's state for one file. */
struct rd {
	struct pipeline *pl;
	int fd;
	bool regular; /* a regular file: read never blocks for long */
	const char *name;
	bool first;   /* the next block starts at line 1 */
	bool oom;     /* out of memory: reported, reading stops */
	size_t limit; /* bytes to read before cutting a block (fewer for short lines) */
	bool more;    /* the buffer holds no newline: read up to its size */
	struct block *b;
	size_t fill; /* bytes in b->text */
};

/* Publishes a block that stands for no text: an error, or a skipped line.
 * Out of memory, the spare block kept for that reports it. */
static bool publish_marker(struct rd *rd, int kind, int err, uint64_t bytes)
{
	struct pipeline *pl = rd->pl;
	struct block *b = get_block(pl, 0);

	if (!b) {
		b = pl->spare;
		pl->spare = NULL;
		kind = BLK_READ_ERROR;
		err = ENOMEM;
		rd->oom = true;
	}
	if (!b)
		return false;
	b->kind = kind;
	b->file = rd->name;
	b->first = rd->first;
	b->err = err;
	b->bytes = bytes;
	rd->first = false;
	return publish(pl, b);
}

static void reader_oom(struct rd *rd)
{
	rd->oom = true;
	publish_marker(rd, BLK_READ_ERROR, ENOMEM, 0);
}

/* Waits until fd has something to read or the caller stopped (a pipe or a
 * terminal may stay silent: stopping must not wait for it). */
static bool wait_readable(struct rd *rd)
{
	struct pollfd p = {.fd = rd->fd, .events = POLLIN};

	while (!stopped(rd->pl)) {
		int n = poll(&p, 1, 200);
		if (n > 0 || (n < 0 && errno != EINTR))
			return true; /* read says what it is */
	}
	return false;
}

/* Reads into b->text until it holds want bytes (at most its size). Returns
 * 1 done, 0 end of file, -1 read error (errno), 2 stopped. */
static int fill_block(struct rd *rd, size_t want)
{
	struct block *b = rd->b;

	while (rd->fill < want) {
		if (!rd->regular && !wait_readable(rd))
			return 2;
		ssize_t n = read(rd->fd, b->text + rd->fill, b->cap - rd->fill);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		rd->fill += (size_t)n;
	}
	return stopped(rd->pl) ? 2 : 1;
}

/* The buffer holds the start of a line longer than max_line (no newline):
 * reads on to the end of that line, keeping in b only what follows it. The
 * line's bytes (with its newline) go to *bytes. Returns 1 newline found, 0
 * end of file, -1 read error, 2 stopped. */
static int skip_line(struct rd *rd, uint64_t *bytes)
{
	struct block *b = rd->b;

	*bytes = 0;
	for (;;) {
		char *nl = memchr(b->text, '\n', rd->fill);
		if (nl) {
			size_t used = (size_t)(nl - b->text) + 1;
			*bytes += used;
			memmove(b->text, nl + 1, rd->fill - used);
			rd->fill -= used;
			return 1;
		}
		*bytes += rd->fill;
		rd->fill = 0;
		int rc = fill_block(rd, b->cap);
		if (rc != 1 && (rc != 0 || rd->fill == 0))
			return rc;
	}
}

/* Where to cut text[0..n): after its last newline, or after its
 * PL_BLOCK_LINES-th (*capped then); 0 if it holds no newline. */
static size_t cut_point(const char *text, size_t n, bool *capped)
{
	const char *p = text, *end = text + n, *nl;
	size_t lines = 0;

	while (lines < PL_BLOCK_LINES && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		p = nl + 1;
		lines++;
	}
	*capped = lines == PL_BLOCK_LINES;
	return (size_t)(p - text);
}

/* A full buffer without a newline: more room, up to max_line + 1 bytes. */
static bool grow_block(struct rd *rd)
{
	struct block *b = rd->b;
	size_t cap = b->cap * 2;

	if (cap > rd->pl->cfg.max_line + 1)
		cap = rd->pl->cfg.max_line + 1;
	char *t = realloc(b->text, cap);
	if (!t)
		return false;
	b->text = t;
	b->cap = cap;
	return true;
}

/* Publishes the lines in b->text[0..cut) and goes on with the rest in a new
 * block. Returns 1, 0 when the caller stopped, -1 out of memory. */
static int emit(struct rd *rd, size_t cut)
{
	struct block *b = rd->b, *nb = NULL;
	size_t rest = rd->fill - cut;

	if (rest > 0) {
		if (!(nb = get_block(rd->pl, rest)))
			return -1;
		memcpy(nb->text, b->text + cut, rest);
		nb->file = rd->name;
	}
	b->len = b->bytes = cut;
	b->file = rd->name;
	b->first = rd->first;
	rd->first = false;
	rd->b = nb;
	rd->fill = rest;
	if (rest > 0 && cut < rd->pl->target) /* cut by the line count: read less */
		rd->limit = cut < PL_MIN_READ ? PL_MIN_READ : cut;
	else
		rd->limit = rd->pl->target;
	return publish(rd->pl, b) ? 1 : 0;
}

/* One step on a buffer holding what was asked for: publish its lines,
 * read on, grow it, or skip a line that is too long. Returns false when
 * reading this file is over. */
static bool full_buffer(struct rd *rd)
{
	bool capped;
	size_t cut = cut_point(rd->b->text, rd->fill, &capped);
	uint64_t skipped;
	int rc;

	if (cut > 0) {
		rc = emit(rd, cut);
		if (rc < 0)
			reader_oom(rd);
		if (rc > 0 && !rd->b && !(rd->b = get_block(rd->pl, 0)))
			reader_oom(rd);
		return rc > 0 && rd->b;
	}
	rd->more = true; /* no newline yet: read up to the buffer's size */
	if (rd->fill < rd->b->cap)
		return true;
	if (rd->fill <= rd->pl->cfg.max_line) {
		if (!grow_block(rd))
			reader_oom(rd);
		return !rd->oom;
	}
	rd->more = false;
	rc = skip_line(rd, &skipped);
	if (rc == 2)
		return false;
	if (rc < 0) { /* as lines.c: the long line is lost, the error follows */
		publish_marker(rd, BLK_READ_ERROR, errno, 0);
		return false;
	}
	if (!publish_marker(rd, BLK_TOO_LONG, 0, skipped))
		return false;
	return rc == 1;
}

/* The end of the file: what is left, the last line maybe without newline. */
static void last_blocks(struct rd *rd)
{
	while (rd->b && rd->fill > 0) {
		bool capped;
		size_t cut = cut_point(rd->b->text, rd->fill, &capped);
		int rc = emit(rd, capped ? cut : rd->fill);
		if (rc < 0)
			reader_oom(rd);
		if (rc <= 0)
			return;
	}
}

/* The complete lines read before a read error, then the error. */
static void read_error(struct rd *rd, int err)
{
	for (;;) {
		bool capped;
		size_t cut = cut_point(rd->b->text, rd->fill, &capped);
		if (cut == 0)
			break;
		if (!capped)
			rd->fill = cut; /* the partial line is lost, as with lines.c */
		int rc = emit(rd, cut);
		if (rc < 0)
			reader_oom(rd);
		if (rc <= 0)
			return;
		if (!rd->b)
			break;
	}
	publish_marker(rd, BLK_READ_ERROR, err, 0);
}

/* The text of one open file as blocks. */
static void read_fd(struct rd *rd)
{
	if (!(rd->b = get_block(rd->pl, 0))) {
		reader_oom(rd);
		return;
	}
	for (;;) {
		size_t want = rd->more                 ? rd->b->cap
		              : rd->limit < rd->b->cap ? rd->limit
		                                       : rd->b->cap;
		int rc = rd->fill < want ? fill_block(rd, want) : 1;
		rd->more = false;
		if (rc == 2)
			break;
		if (rc < 0) {
			read_error(rd, errno);
			break;
		}
		if (rc == 0) {
			last_blocks(rd);
			break;
		}
		if (!full_buffer(rd))
			break;
	}
	if (rd->b)
		recycle(rd->pl, rd->b);
	rd->b = NULL;
}

static void *reader_main(void *arg)
{
	struct pipeline *pl = arg;
	bool oom = false;

	for (int i = 0; i < pl->n_files && !oom && !stopped(pl); i++) {
		const char *path = pl->files[i];
		bool std = strcmp(path, "-") == 0;
		struct rd rd = {.pl = pl, .name = std ? "<stdin>" : path, .first = true};
		/* a small first block: the caller need not wait long for its first lines */
		rd.limit = i == 0 && pl->target > PL_MIN_READ * 16 ? PL_MIN_READ * 16 : pl->target;
		struct stat st;
		rd.fd = std ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
		if (rd.fd < 0) {
			publish_marker(&rd, BLK_OPEN_ERROR, errno, 0);
		} else {
			rd.regular = fstat(rd.fd, &st) == 0 && S_ISREG(st.st_mode);
			read_fd(&rd);
			if (!std)
				close(rd.fd);
		}
		oom = rd.oom;
	}
	pthread_mutex_lock(&pl->mu);
	pl->reader_done = true;
	pthread_cond_broadcast(&pl->cv_parse);
	pthread_cond_broadcast(&pl->cv_done);
	pthread_mutex_unlock(&pl->mu);
	return NULL;
}

/* ---- the parsers ------------------------------------------------------- */

/* A new item at line rel of b, or NULL (b->oom set) when out of memory. */
static struct pl_item *new_item(struct block *b, uint64_t rel)
{
	if (b->n_items == b->cap_items) {
		size_t cap = b->cap_items ? b->cap_items * 2 : 256;
		struct pl_item *it = realloc(b->items, cap * sizeof *it);
		if (!it) {
			b->oom = (struct pl_item){.err = oom_text, .file = b->file, .line = rel};
			return NULL;
		}
		b->items = it;
		b->cap_items = cap;
	}
	struct pl_item *it = &b->items[b->n_items];
	it->err = NULL;
	it->file = b->file;
	it->line = rel;
	return it;
}

/* Adds an error at line rel (0: the file itself). False when out of memory. */
__attribute__((format(printf, 3, 4))) static bool add_error(struct block *b, uint64_t rel,
                                                            const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	struct pl_item *it = new_item(b, rel);

	if (!it)
		return false;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof msg)
		n = sizeof msg - 1;
	memset(&it->r, 0, sizeof it->r);
	it->err = arena_strndup(&b->arena, msg, (size_t)n);
	if (!it->err)
		it->err = oom_text;
	b->n_items++;
	return true;
}

static bool mine(int want, int kind)
{
	return want == 0 || kind == want || (kind == 0 && want == REC_CONCEPT);
}

/* One line (rel: its number in b), as sutra-import's one-line step. */
static bool parse_line(struct pipeline *pl, struct worker *w, struct block *b, const char *text,
                       size_t len, uint64_t rel)
{
	int want = pl->want;
	char err[512];

	if (len > pl->cfg.max_line)
		return want == REC_ASSOC ||
		       add_error(b, rel, "line longer than %zu bytes (the limit, --max-line-bytes)",
		                 pl->cfg.max_line);
	if (rel == 1 && b->first && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3; /* a UTF-8 byte order mark, as some editors write */
		len -= 3;
	}
	struct pl_item *it = new_item(b, rel);
	if (!it)
		return false;
	struct arena_mark m = arena_mark(&b->arena);
	int rc = recfast_parse(&w->fast, text, len, pl->cfg.lim, &b->arena, &it->r);
	bool fast = rc != RECFAST_DECLINE;
	if (!fast) {
		arena_rewind(&b->arena, m);
		rc = rec_parse(text, len, pl->cfg.lim, &it->r, err, sizeof err);
	}
	if (rc == 1)
		return true; /* blank */
	if (!mine(want, it->r.kind)) {
		if (fast)
			arena_rewind(&b->arena, m);
		else
			rec_free(&it->r);
		return true;
	}
	if (rc < 0)
		return add_error(b, rel, "%s", err);
	b->n_items++;
	return true;
}

static void parse_text(struct pipeline *pl, struct worker *w, struct block *b)
{
	const char *p = b->text, *end = b->text + b->len;
	uint64_t rel = 0;
	bool ok = true; /* false after running out of memory: only count lines */

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		rel++;
		if (ok)
			ok = parse_line(pl, w, b, p, (size_t)(stop - p), rel);
		p = stop + 1;
	}
	b->lines = rel;
}

static void parse_block(struct pipeline *pl, struct worker *w, struct block *b)
{
	char buf[256];

	arena_reset(&b->arena);
	b->n_items = 0;
	switch (b->kind) {
	case BLK_TEXT:
		parse_text(pl, w, b);
		break;
	case BLK_TOO_LONG:
		b->lines = 1;
		if (pl->want != REC_ASSOC)
			add_error(b, 1, "line longer than %zu bytes (the limit, --max-line-bytes)",
			          pl->cfg.max_line);
		break;
	case BLK_OPEN_ERROR:
		add_error(b, 0, "%s", strerror_r(b->err, buf, sizeof buf));
		break;
	case BLK_READ_ERROR:
		add_error(b, 1, "read error: %s", strerror_r(b->err, buf, sizeof buf));
		break;
	}
}

static void *parser_main(void *arg)
{
	struct worker *w = arg;
	struct pipeline *pl = w->pl;

	pthread_mutex_lock(&pl->mu);
	for (;;) {
		while (pl->next_parse == pl->next_read && !pl->reader_done && !pl->stop)
			pthread_cond_wait(&pl->cv_parse, &pl->mu);
		if (pl->next_parse == pl->next_read)
			break;
		struct block *b = pl->ring[pl->next_parse++ % pl->ring_n];
		bool skip = pl->stop;
		pthread_mutex_unlock(&pl->mu);
		if (!skip)
			parse_block(pl, w, b);
		pthread_mutex_lock(&pl->mu);
		b->parsed = true;
		pthread_cond_broadcast(&pl->cv_done);
	}
	pthread_mutex_unlock(&pl->mu);
	return NULL;
}

/* ---- the caller -------------------------------------------------------- */

/* Done with the items of the current block. */
static void finish_block(struct pipeline *pl)
{
	struct block *b = pl->cur;

	pl->base += b->lines;
	pl->bytes_done += b->bytes;
	pthread_mutex_lock(&pl->mu);
	pl->next_commit++;
	pl->inflight_bytes -= b->cap;
	pthread_cond_signal(&pl->cv_read);
	pthread_mutex_unlock(&pl->mu);
	pl->cur = NULL;
	block_release(&b->owner); /* the iteration's reference */
}

/* Waits for the next block in order; false at the end of the pass. */
static bool next_block(struct pipeline *pl)
{
	struct block *b = NULL;

	pthread_mutex_lock(&pl->mu);
	for (;;) {
		if (pl->next_commit < pl->next_read) {
			b = pl->ring[pl->next_commit % pl->ring_n];
			if (b->parsed)
				break;
		} else if (pl->reader_done) {
			break;
		}
		pthread_cond_wait(&pl->cv_done, &pl->mu);
	}
	bool ok = pl->next_commit < pl->next_read;
	pthread_mutex_unlock(&pl->mu);
	if (!ok)
		return false;
	if (b->first)
		pl->base = 0;
	b->refs = 1;
	pl->cur = b;
	pl->idx = 0;
	return true;
}

bool pl_next(struct pipeline *pl, struct pl_item **out)
{
	for (;;) {
		if (!pl->cur && !next_block(pl))
			return false;
		struct block *b = pl->cur;
		struct pl_item *it = NULL;
		if (pl->idx < b->n_items)
			it = &b->items[pl->idx++];
		else if (b->oom.err && pl->idx++ == b->n_items)
			it = &b->oom;
		if (!it) {
			finish_block(pl);
			continue;
		}
		if (it->line)
			it->line += pl->base;
		if (!it->err) {
			it->r.file = it->file;
			it->r.line = it->line;
			if (!it->r.root) { /* made by recfast: its memory is b's */
				it->r.owner = &b->owner;
				b->refs++;
			}
		}
		*out = it;
		return true;
	}
}

uint64_t pl_bytes(const struct pipeline *pl)
{
	return pl->bytes_done;
}

/* ---- passes ------------------------------------------------------------ */

int pl_new(const struct pl_config *cfg, struct pipeline **out)
{
	struct pipeline *pl = calloc(1, sizeof *pl);

	if (!pl)
		return -1;
	pl->cfg = *cfg;
	if (pl->cfg.threads < 1)
		pl->cfg.threads = 1;
	if (pl->cfg.threads > PL_MAX_THREADS)
		pl->cfg.threads = PL_MAX_THREADS;
	pl->target = cfg->block_bytes ? cfg->block_bytes : PL_BLOCK_BYTES;
	pl->ring_n = PL_INFLIGHT(pl->cfg.threads);
	pl->ring = calloc(pl->ring_n, sizeof *pl->ring);
	pl->workers = calloc(pl->cfg.threads, sizeof *pl->workers);
	if (!pl->ring || !pl->workers) {
		free(pl->ring);
		free(pl->workers);
		free(pl);
		return -1;
	}
	pthread_mutex_init(&pl->mu, NULL);
	pthread_cond_init(&pl->cv_read, NULL);
	pthread_cond_init(&pl->cv_parse, NULL);
	pthread_cond_init(&pl->cv_done, NULL);
	*out = pl;
	return 0;
}

int pl_start(struct pipeline *pl, char *const *files, int n_files, int want)
{
	pl->files = files;
	pl->n_files = n_files;
	pl->want = want;
	pl->next_read = pl->next_parse = pl->next_commit = 0;
	pl->inflight_bytes = 0;
	pl->reader_done = pl->stop = false;
	pl->cur = NULL;
	pl->base = 0;
	for (unsigned i = 0; i < pl->cfg.threads; i++) {
		struct worker *w = &pl->workers[i];
		w->pl = pl;
		if (recfast_init(&w->fast) < 0 ||
		    pthread_create(&w->tid, NULL, parser_main, w) != 0) {
			recfast_free(&w->fast);
			goto fail;
		}
		w->started = true;
	}
	if ((!pl->spare && !(pl->spare = get_block(pl, 0))) ||
	    pthread_create(&pl->reader, NULL, reader_main, pl) != 0)
		goto fail;
	pl->reader_started = true;
	return 0;
fail:
	pl_end(pl);
	return -1;
}

/* Frees the records of b's items that were not handed out (only rec_parse's
 * own memory: recfast's is in the arena). */
static void drop_items(struct block *b, size_t from)
{
	for (size_t i = from; i < b->n_items; i++)
		if (!b->items[i].err && b->items[i].r.root)
			rec_free(&b->items[i].r);
}

void pl_end(struct pipeline *pl)
{
	pthread_mutex_lock(&pl->mu);
	pl->stop = true; /* the caller is done: anything still coming is dropped */
	pthread_cond_broadcast(&pl->cv_read);
	pthread_cond_broadcast(&pl->cv_parse);
	pthread_mutex_unlock(&pl->mu);
	if (pl->reader_started)
		pthread_join(pl->reader, NULL);
	pl->reader_started = false;
	for (unsigned i = 0; i < pl->cfg.threads; i++) {
		struct worker *w = &pl->workers[i];
		if (!w->started)
			continue;
		pthread_join(w->tid, NULL);
		recfast_free(&w->fast);
		w->started = false;
	}
	if (pl->cur) {
		drop_items(pl->cur, pl->idx);
		pl->cur->n_items = 0;
		finish_block(pl);
	}
	for (; pl->next_commit < pl->next_read; pl->next_commit++) {
		struct block *b = pl->ring[pl->next_commit % pl->ring_n];
		drop_items(b, 0);
		recycle(pl, b);
	}
	if (pl->spare)
		recycle(pl, pl->spare);
	pl->spare = NULL;
}

void pl_free(struct pipeline *pl)
{
	if (!pl)
		return;
	while (pl->free_list) {
		struct block *b = pl->free_list;
		pl->free_list = b->next_free;
		block_destroy(b);
	}
	pthread_mutex_destroy(&pl->mu);
	pthread_cond_destroy(&pl->cv_read);
	pthread_cond_destroy(&pl->cv_parse);
	pthread_cond_destroy(&pl->cv_done);
	free(pl->ring);
	free(pl->workers);
	free(pl);
}
