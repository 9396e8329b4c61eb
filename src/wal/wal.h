/* wal.h - the write-ahead log: segments of CRC-framed records, group commit,
 * replay with torn-tail cutting.
 *
 * Segment file "wal-<first lsn, 16 hex>.log" starts with a 40-byte header:
 *
 *   offset size field
 *   0      8    magic "SUTRAWAL"
 *   8      4    format version (1)
 *   12     4    header size (40)
 *   16     8    salt (random per segment)
 *   24     8    first lsn (the lsn of the segment's first record)
 *   32     4    CRC32C of bytes 0..32
 *   36     4    reserved (0)
 *
 * followed by records, each starting at an 8-aligned offset:
 *
 *   0      4    CRC32C of (salt, bytes 4..24+len)
 *   4      4    len: payload bytes
 *   8      8    lsn
 *   16     8    synced: an lsn known durable when this record was queued
 *   24     len  payload (a batch of ops, store/op.h), then zeros to 8
 *
 * A record is valid if its CRC matches with this segment's salt and its lsn
 * is exactly one more than the previous record's. The salt makes bytes left
 * from an older file at the same place fail the CRC. At replay the first
 * invalid record of the last segment ends the log: if no valid record
 * follows it whose `synced` covers it, the bad bytes were a write that was
 * never acknowledged (a torn tail) and are cut; otherwise the damage is in
 * acknowledged data and the store refuses to open (file, offset, reason)
 * unless repair is asked for. Damage in any other segment is refused too.
 *
 * Group commit: appenders copy records into a pending buffer under the
 * WAL mutex; one of the threads that need durability becomes the leader,
 * takes the whole buffer, writes it and fdatasyncs once for everyone.
 * A failed write or fsync is sticky: the WAL refuses every later append and
 * sync (fsync is never retried, its error state is unknowable).
 */
#ifndef SUTRA_WAL_WAL_H
#define SUTRA_WAL_WAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WAL_MAGIC         "SUTRAWAL"
#define WAL_VERSION       1
#define WAL_HEADER_SIZE   40
#define WAL_RECORD_HEADER 24

struct wal_config {
	uint64_t segment_bytes;
	uint64_t max_pending_bytes;
	uint32_t busy_timeout_ms;
	bool sync; /* false for durability none: write, never fdatasync */
};

struct wal_stats {
	uint64_t next_lsn, durable_lsn, written_lsn;
	uint64_t segments, bytes; /* on disk */
	uint64_t fsyncs, writes, records;
	uint64_t written_bytes; /* since open */
	uint64_t pending_records, pending_bytes;
	uint64_t busy;
};

struct wal;

/* Called for each record at replay: payload is writable (ops are decoded in
 * place) and borrowed until the callback returns. */
typedef int (*wal_replay_fn)(void *ctx, uint64_t lsn, uint8_t *payload, size_t len);

struct wal_replay_info {
	uint64_t next_lsn;   /* the lsn the log continues with */
	uint64_t replayed;   /* records handed to the callback */
	uint64_t torn_bytes; /* bytes cut from the tail */
	char torn_where[256];
};

/* Replays every record with lsn >= from_lsn in dir, in order. Cuts a torn
 * tail (truncate + fsync). Returns SUTRA_ECORRUPT naming file, offset and
 * reason for damage before the tail (with repair: cuts there instead and
 * removes later segments, reporting what was dropped). */
int wal_replay(const char *dir, uint64_t from_lsn, bool repair, wal_replay_fn fn, void *ctx,
               struct wal_replay_info *info);

/* Segments wal_replay_keep left mapped (read-only). */
struct wal_map {
	const void *addr;
	uint64_t size;
};
struct wal_maps {
	struct wal_map *map;
	size_t n, cap;
};
/* wal_replay, keeping every segment mapped so the payloads handed to fn
 * stay readable until wal_maps_free (a sharded store merges the records of
 * several logs before applying them). */
int wal_replay_keep(const char *dir, uint64_t from_lsn, bool repair, wal_replay_fn fn, void *ctx,
                    struct wal_replay_info *info, struct wal_maps *keep);
void wal_maps_free(struct wal_maps *m);

/* Parses a segment file name "wal-<16 hex>.log"; false if it is not one. */
bool wal_segment_name(const char *name, uint64_t *first_lsn);

/* Opens the log for appending: a new segment starting at next_lsn. */
int wal_open(const char *dir, const struct wal_config *cfg, uint64_t next_lsn, struct wal **out);
/* Writes and syncs what is pending, then frees w. */
int wal_close(struct wal *w);

/* Queues one record; *lsn gets its lsn. Waits up to busy_timeout_ms for
 * room when max_pending_bytes are queued, then fails with SUTRA_EBUSY.
 * Callers serialise appends (the engine's writer lock) so that lsn order is
 * apply order. */
int wal_append(struct wal *w, const void *payload, size_t len, uint64_t *lsn);
/* wal_append of one record made of head followed by payload, waiting at
 * most timeout_ms for room. */
int wal_append_parts(struct wal *w, const void *head, size_t head_len, const void *payload,
                     size_t len, uint32_t timeout_ms, uint64_t *lsn);
/* Returns once every record up to lsn is written (and synced when the WAL
 * syncs); the calling thread may do the write itself for the group. */
int wal_sync_to(struct wal *w, uint64_t lsn);
/* Writes out what is pending; syncs if sync. For the background scheduler
 * (durability interval/none). */
int wal_flush(struct wal *w, bool sync);
/* Removes segments whose records all have lsn < lsn (after a checkpoint). */
int wal_truncate_before(struct wal *w, uint64_t lsn);
/* 0 or the sticky error. */
int wal_error(struct wal *w);
void wal_stats_get(struct wal *w, struct wal_stats *out);
/* Lets a waiter (the scheduler) learn that the queue passed a watermark. */
void wal_set_kick(struct wal *w, void (*fn)(void *), void *arg);

#endif
