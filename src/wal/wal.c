/* wal.c - appending to the write-ahead log: pending buffer, group commit,
 * segment rotation (formats and rules in wal.h).
 *
 * Appenders hold the engine's writer lock and copy the record into the
 * pending buffer under the WAL mutex; the CRC is computed later by the
 * thread that writes the buffer, because only then is the segment (and its
 * salt) known. At most one thread writes at a time (the "flushing" flag);
 * it swaps the pending buffer with a spare, drops the mutex for the I/O,
 * and wakes the waiters it covered when done.
 */
#include "wal/wal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "io/io.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/clock.h"
#include "util/crc32c.h"
#include "util/err.h"

/* A thread waiting for its lsn to be written (and synced). Each has its own
 * condition variable so that a finished flush wakes exactly the threads it
 * covered, plus one more to lead the next flush, not every waiter. */
struct waiter {
	uint64_t lsn;
	bool sync;
	bool woken;
	pthread_cond_t cv;
	struct waiter *next;
};

struct segment {
	uint64_t first_lsn;
	uint64_t bytes;
};

struct wal {
	char *dir;
	struct wal_config cfg;
	pthread_mutex_t mu;
	pthread_cond_t space;   /* the pending buffer was taken */
	struct waiter *waiters; /* threads waiting for a flush, oldest first */
	/* under mu */
	uint8_t *pend, *spare;
	size_t pend_len, pend_cap, spare_cap;
	uint64_t pend_records;
	uint64_t next_lsn, written_lsn, durable_lsn;
	bool flushing;
	int sticky;
	struct segment *segs;
	size_t nsegs, segs_cap;
	struct wal_stats st;
	void (*kick)(void *);
	void *kick_arg;
	/* owned by the flushing thread */
	int fd;
	uint64_t salt;
	uint64_t seg_bytes;
	char path[4096];
};

bool wal_segment_name(const char *name, uint64_t *first_lsn)
{
	char *end;

	if (strlen(name) != 24 || strncmp(name, "wal-", 4) != 0 || strcmp(name + 20, ".log") != 0)
		return false;
	for (int i = 4; i < 20; i++)
		if (!isxdigit((unsigned char)name[i]))
			return false;
	*first_lsn = strtoull(name + 4, &end, 16);
	return end == name + 20;
}

static void seg_path(const struct wal *w, uint64_t first_lsn, char *out, size_t n)
{
	snprintf(out, n, "%s/wal-%016" PRIx64 ".log", w->dir, first_lsn);
}

static int segs_push(struct wal *w, uint64_t first_lsn, uint64_t bytes)
{
	if (w->nsegs == w->segs_cap) {
		size_t ncap = w->segs_cap ? w->segs_cap * 2 : 16;
		struct segment *s = sutra_realloc(w->segs, ncap * sizeof(*s));
		if (!s)
			return err_set(SUTRA_ENOMEM, "out of memory for the segment list");
		w->segs = s;
		w->segs_cap = ncap;
	}
	w->segs[w->nsegs].first_lsn = first_lsn;
	w->segs[w->nsegs].bytes = bytes;
	w->nsegs++;
	return 0;
}

/* Creates, syncs and opens a new segment whose first record is first_lsn. */
static int segment_create(struct wal *w, uint64_t first_lsn)
{
	uint8_t h[WAL_HEADER_SIZE] = {0};
	char path[4096];
	int fd = -1, rc;

	seg_path(w, first_lsn, path, sizeof path);
	if (getrandom(&w->salt, sizeof w->salt, 0) != sizeof w->salt)
		w->salt = clock_mono_ns() ^ (uint64_t)(uintptr_t)w;
	memcpy(h, WAL_MAGIC, 8);
	st32(h + 8, WAL_VERSION);
	st32(h + 12, WAL_HEADER_SIZE);
	st64(h + 16, w->salt);
	st64(h + 24, first_lsn);
	st32(h + 32, crc32c(h, 32));
	if ((rc = io_unlink(path)) < 0 ||
	    (rc = io_open(SUTRA_SITE_WAL_CREATE, path, O_WRONLY | O_CREAT | O_EXCL, 0644, &fd)) < 0)
		return rc;
	if ((rc = io_write_all(SUTRA_SITE_WAL_WRITE, fd, h, sizeof h, path)) < 0 ||
	    (rc = io_fdatasync(SUTRA_SITE_WAL_FSYNC, fd, path)) < 0 ||
	    (rc = io_fsync_dir(w->dir)) < 0) {
		io_close(fd);
		return rc;
	}
	w->fd = fd;
	w->seg_bytes = WAL_HEADER_SIZE;
	memcpy(w->path, path, sizeof path);
	pthread_mutex_lock(&w->mu);
	rc = segs_push(w, first_lsn, WAL_HEADER_SIZE);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* Finishes the current segment (synced, so only the last one can be torn)
 * and starts the next. */
static int segment_rotate(struct wal *w, uint64_t first_lsn)
{
	int rc = io_fdatasync(SUTRA_SITE_WAL_FSYNC, w->fd, w->path);

	if (rc < 0)
		return rc;
	io_close(w->fd);
	w->fd = -1;
	return segment_create(w, first_lsn);
}

/* Computes the CRC of every record in buf with the current salt. */
static void seal_records(const struct wal *w, uint8_t *buf, size_t len)
{
	uint32_t seed = crc32c(&w->salt, sizeof w->salt);

	for (size_t pos = 0; pos < len;) {
		uint32_t plen = ld32(buf + pos + 4);
		st32(buf + pos, crc32c_extend(seed, buf + pos + 4, WAL_RECORD_HEADER - 4 + plen));
		pos += align8(WAL_RECORD_HEADER + (size_t)plen);
	}
}

static void set_sticky(struct wal *w, int rc)
{
	if (!w->sticky)
		w->sticky = rc;
}

static bool reached(const struct wal *w, uint64_t lsn, bool sync)
{
	return (sync ? w->durable_lsn : w->written_lsn) >= lsn;
}

/* After a flush (mu held): wakes the waiters it satisfied, and the oldest
 * remaining one to lead the next flush. */
static void wake_waiters(struct wal *w)
{
	struct waiter **pp = &w->waiters, *leader = NULL;

	while (*pp) {
		struct waiter *x = *pp;
		if (w->sticky || reached(w, x->lsn, x->sync)) {
			*pp = x->next;
			x->woken = true;
			pthread_cond_signal(&x->cv);
		} else {
			if (!leader)
				leader = x;
			pp = &x->next;
		}
	}
	if (leader) {
		w->waiters = w->waiters == leader ? leader->next : w->waiters;
		for (struct waiter **q = &w->waiters; *q; q = &(*q)->next)
			if (*q == leader) {
				*q = leader->next;
				break;
			}
		leader->woken = true;
		pthread_cond_signal(&leader->cv);
	}
}

/* Sleeps (mu held) until a flush wakes this thread. */
static void wait_for_flush(struct wal *w, uint64_t lsn, bool sync)
{
	struct waiter me = {.lsn = lsn, .sync = sync};
	struct waiter **pp = &w->waiters;

	pthread_cond_init(&me.cv, NULL);
	while (*pp)
		pp = &(*pp)->next;
	*pp = &me;
	while (!me.woken)
		pthread_cond_wait(&me.cv, &w->mu);
	pthread_cond_destroy(&me.cv);
}

/* Writes (and syncs) everything pending. Called with mu held and no flush
 * running; returns with mu held. */
static int flush_locked(struct wal *w, bool sync)
{
	uint8_t *buf = w->pend;
	size_t len = w->pend_len, cap = w->pend_cap;
	uint64_t last = w->next_lsn - 1, first = w->written_lsn + 1, nrec = w->pend_records;
	int rc = 0;

	w->flushing = true;
	w->pend = w->spare;
	w->pend_cap = w->spare_cap;
	w->pend_len = 0;
	w->pend_records = 0;
	pthread_cond_broadcast(&w->space);
	pthread_mutex_unlock(&w->mu);

	if (len > 0 && w->seg_bytes >= w->cfg.segment_bytes)
		rc = segment_rotate(w, first);
	if (rc == 0 && len > 0) {
		seal_records(w, buf, len);
		rc = io_write_all(SUTRA_SITE_WAL_WRITE, w->fd, buf, len, w->path);
		w->seg_bytes += len;
	}
	bool need_sync = sync && (len > 0 || w->durable_lsn < w->written_lsn);
	if (rc == 0 && need_sync)
		rc = io_fdatasync(SUTRA_SITE_WAL_FSYNC, w->fd, w->path);

	pthread_mutex_lock(&w->mu);
	w->spare = buf;
	w->spare_cap = cap;
	if (rc < 0) {
		set_sticky(w, rc);
	} else {
		w->written_lsn = last;
		if (sync)
			w->durable_lsn = last;
		w->st.writes += len > 0;
		w->st.fsyncs += need_sync;
		w->st.records += nrec;
		w->st.written_bytes += len;
		if (w->nsegs)
			w->segs[w->nsegs - 1].bytes = w->seg_bytes;
	}
	w->flushing = false;
	wake_waiters(w);
	return rc;
}

int wal_open(const char *dir, const struct wal_config *cfg, uint64_t next_lsn, struct wal **out)
{
	struct wal *w = sutra_calloc(1, sizeof *w);
	char **names = NULL;
	size_t n = 0;
	int rc;

	if (!w || !(w->dir = sutra_memdup0(dir, strlen(dir)))) {
		sutra_free(w);
		return err_set(SUTRA_ENOMEM, "out of memory opening the WAL");
	}
	w->cfg = *cfg;
	w->fd = -1;
	w->next_lsn = next_lsn;
	w->written_lsn = w->durable_lsn = next_lsn - 1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->space, NULL);
	if ((rc = io_list(dir, "wal-", &names, &n)) < 0)
		goto fail;
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint64_t first;
		if (wal_segment_name(names[i], &first) && first < next_lsn)
			rc = segs_push(w, first, 0);
	}
	io_list_free(names, n);
	if (rc < 0 || (rc = segment_create(w, next_lsn)) < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	wal_close(w);
	return rc;
}

int wal_close(struct wal *w)
{
	int rc = 0;

	if (!w)
		return 0;
	if (w->fd >= 0 && !w->sticky)
		rc = wal_flush(w, true);
	if (w->sticky)
		rc = w->sticky; /* the original cause, e.g. SUTRA_EIO */
	io_close(w->fd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->space);
	sutra_free(w->pend);
	sutra_free(w->spare);
	sutra_free(w->segs);
	sutra_free(w->dir);
	sutra_free(w);
	return rc;
}

static int sticky_error(struct wal *w)
{
	return err_set(SUTRA_EREADONLY,
	               "the store is read-only after a failed WAL write or fsync (%s); reopen it "
	               "after fixing the disk",
	               sutra_strerror(w->sticky));
}

/* Waits (mu held) until the pending buffer has room for n bytes. */
static int wait_room(struct wal *w, size_t n, uint32_t timeout_ms)
{
	struct timespec until;
	uint64_t ns = (uint64_t)timeout_ms * 1000000ull;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(ns / 1000000000ull);
	until.tv_nsec += (long)(ns % 1000000000ull);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (w->pend_len > 0 && w->pend_len + n > w->cfg.max_pending_bytes) {
		if (w->sticky)
			return sticky_error(w);
		if (!w->flushing) {
			flush_locked(w, false); /* errors become sticky */
			continue;
		}
		if (pthread_cond_timedwait(&w->space, &w->mu, &until) == ETIMEDOUT) {
			w->st.busy++;
			return err_set(
			    SUTRA_EBUSY,
			    "write queue full (%zu bytes queued, max_pending_bytes %" PRIu64
			    ") for %u ms",
			    w->pend_len, w->cfg.max_pending_bytes, timeout_ms);
		}
	}
	return 0;
}

static int reserve(struct wal *w, size_t n)
{
	size_t need;

	if (!add_ok(w->pend_len, n, &need))
		return err_set(SUTRA_ETOOBIG, "WAL record of %zu bytes", n);
	if (need <= w->pend_cap)
		return 0;
	size_t cap = w->pend_cap ? w->pend_cap : 64 * 1024;
	while (cap < need)
		if (!mul_ok(cap, 2, &cap))
			return err_set(SUTRA_ETOOBIG, "WAL record of %zu bytes", n);
	uint8_t *p = sutra_realloc(w->pend, cap);
	if (!p)
		return err_set(SUTRA_ENOMEM, "out of memory queueing %zu WAL bytes", n);
	w->pend = p;
	w->pend_cap = cap;
	return 0;
}

int wal_append(struct wal *w, const void *payload, size_t len, uint64_t *lsn)
{
	return wal_append_parts(w, NULL, 0, payload, len, w->cfg.busy_timeout_ms, lsn);
}

int wal_append_parts(struct wal *w, const void *head, size_t head_len, const void *payload,
                     size_t len, uint32_t timeout_ms, uint64_t *lsn)
{
	void (*kick)(void *) = NULL;
	void *kick_arg = NULL;
	size_t total = head_len + len;
	size_t rec = align8(WAL_RECORD_HEADER + total);
	int rc;

	if (len > UINT32_MAX - 64 || total > UINT32_MAX - 64)
		return err_set(SUTRA_ETOOBIG, "WAL record of %zu bytes (max: 4 GiB)", total);
	pthread_mutex_lock(&w->mu);
	if (w->sticky) {
		rc = sticky_error(w);
		goto out;
	}
	if ((rc = wait_room(w, rec, timeout_ms)) < 0 || (rc = reserve(w, rec)) < 0)
		goto out;
	uint8_t *p = w->pend + w->pend_len;
	st32(p, 0);
	st32(p + 4, (uint32_t)total);
	st64(p + 8, w->next_lsn);
	st64(p + 16, w->durable_lsn);
	if (head_len)
		memcpy(p + WAL_RECORD_HEADER, head, head_len);
	if (len)
		memcpy(p + WAL_RECORD_HEADER + head_len, payload, len);
	memset(p + WAL_RECORD_HEADER + total, 0, rec - WAL_RECORD_HEADER - total);
	w->pend_len += rec;
	w->pend_records++;
	*lsn = w->next_lsn++;
	/* The kick takes the scheduler's lock, which the scheduler holds while
	 * it reads WAL figures: call it only after dropping ours. */
	if (w->kick && w->pend_len > w->cfg.max_pending_bytes / 4) {
		kick = w->kick;
		kick_arg = w->kick_arg;
	}
out:
	pthread_mutex_unlock(&w->mu);
	if (kick)
		kick(kick_arg);
	return rc;
}

/* Waits until lsn is written (and synced when sync), leading a flush when
 * nobody else is. */
static int wait_lsn(struct wal *w, uint64_t lsn, bool sync)
{
	int rc = 0;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		if (w->sticky) {
			rc = sticky_error(w);
			break;
		}
		if (reached(w, lsn, sync))
			break;
		if (w->flushing)
			wait_for_flush(w, lsn, sync);
		else
			flush_locked(w, sync);
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int wal_sync_to(struct wal *w, uint64_t lsn)
{
	return wait_lsn(w, lsn, w->cfg.sync);
}

int wal_flush(struct wal *w, bool sync)
{
	pthread_mutex_lock(&w->mu);
	uint64_t last = w->next_lsn - 1;
	pthread_mutex_unlock(&w->mu);
	return wait_lsn(w, last, sync);
}

int wal_truncate_before(struct wal *w, uint64_t lsn)
{
	char path[4096];
	size_t drop = 0;
	int rc = 0;

	pthread_mutex_lock(&w->mu);
	while (drop + 1 < w->nsegs && w->segs[drop + 1].first_lsn <= lsn)
		drop++;
	for (size_t i = 0; i < drop && rc == 0; i++) {
		seg_path(w, w->segs[i].first_lsn, path, sizeof path);
		rc = io_unlink(path);
	}
	if (rc == 0 && drop > 0) {
		memmove(w->segs, w->segs + drop, (w->nsegs - drop) * sizeof(w->segs[0]));
		w->nsegs -= drop;
	}
	pthread_mutex_unlock(&w->mu);
	return rc == 0 && drop > 0 ? io_fsync_dir(w->dir) : rc;
}

int wal_error(struct wal *w)
{
	pthread_mutex_lock(&w->mu);
	int rc = w->sticky;
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void wal_stats_get(struct wal *w, struct wal_stats *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->st;
	out->next_lsn = w->next_lsn;
	out->durable_lsn = w->durable_lsn;
	out->written_lsn = w->written_lsn;
	out->pending_records = w->pend_records;
	out->pending_bytes = w->pend_len;
	out->segments = w->nsegs;
	out->bytes = 0;
	for (size_t i = 0; i < w->nsegs; i++)
		out->bytes += w->segs[i].bytes;
	pthread_mutex_unlock(&w->mu);
}

void wal_set_kick(struct wal *w, void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&w->mu);
	w->kick = fn;
	w->kick_arg = arg;
	pthread_mutex_unlock(&w->mu);
}
