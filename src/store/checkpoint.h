/* checkpoint.h - checkpoint files and the manifest that names the current one.
 *
 * Checkpoint "ckpt-<lsn, 16 hex>.ckpt": an image of the store that holds the
 * effect of every op with lsn < <lsn>. It is fuzzy: written while writers
 * go on, it may also hold some later effects; recovery replays the WAL from
 * <lsn>, and because every op overwrites whole keys the result is exact.
 * Before the file is published the WAL is synced past every op whose effect
 * the image could contain, so no effect in it can be lost from the log.
 *
 *   header, 64 bytes:
 *   0  8  magic "SUTRACKP"      8  u32 version (1)   12 u32 header size (64)
 *   16 u64 lsn                  24 u32 dimension     28 u32 reserved
 *   32 u64 created_us           40 u64 WAL lsn (sharded: where this shard's log
 *   resumes)                    48 u32 shard         52 u32 shard count (0: the
 *   whole store)                56 u32 reserved      60 u32 CRC32C of 0..60
 *   records, each 8-aligned:
 *   0  u32 CRC32C of bytes 4..8+len     4 u32 len     8 op (store/op.h)
 *   every OP_LEARN comes before every OP_ASSOC. A shard's image holds the
 *   concepts routed to it and the associations whose source is one of them
 *   (its lsn is then the global sequence number of the cut).
 *   footer, 32 bytes:
 *   0  8  magic "SUTRAEND"   8 u64 concepts   16 u64 associations
 *   24 u32 CRC32C of 0..24   28 u32 reserved
 *
 * A checkpoint is valid when header, footer and every record check out and
 * the record counts equal the footer's. It is mapped read-only and stays
 * mapped while the store is open: concepts loaded from it point into the
 * mapping (zero-copy), so restart does not copy content into the heap.
 *
 * Manifest "MANIFEST", 64 bytes, replaced atomically (write temp, fsync,
 * rename, fsync directory):
 *   0  8  magic "SUTRAMAN"   8 u32 version (1)   12 u32 size (64)
 *   16 u64 checkpoint lsn (0: none)   24 u32 dimension   28 u32 reserved
 *   32 u64 created_us        40 u32 shards (0: single layout, one WAL in the
 *   directory; 1..256: shard_NNNN directories)   44..60 reserved
 *   60 u32 CRC32C of 0..60
 */
#ifndef SUTRA_STORE_CHECKPOINT_H
#define SUTRA_STORE_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct manifest {
	uint64_t checkpoint_lsn;
	uint32_t dimension;
	uint64_t created_us;
	uint32_t shards;
};

/* SUTRA_ENOTFOUND when the directory has no manifest (a new store). */
int manifest_read(const char *dir, struct manifest *m);
int manifest_write(const char *dir, const struct manifest *m);

struct ckpt_map {
	const void *addr;
	uint64_t size;
};

struct ckpt_result {
	uint64_t concepts, associations, bytes, skipped_records;
};

/* Which part of the store an image holds (nshards 0: all of it), and where
 * that shard's WAL resumes after the cut. */
struct ckpt_part {
	uint32_t shard, nshards;
	uint64_t wal_lsn;
};

#define CKPT_LEARNS 1u /* ckpt_load: which records to apply */
#define CKPT_ASSOCS 2u
#define CKPT_ALL    3u

/* Writes the image of s (or of part of it) as checkpoint lsn. Calls sync_log(arg) after the
 * image is complete and before it is published. Does not touch the
 * manifest. */
int ckpt_write(const char *dir, struct store *s, uint64_t lsn, uint32_t dim,
               const struct ckpt_part *part, int (*sync_log)(void *), void *arg,
               struct ckpt_result *res);
/* Loads the records of the kinds asked for (CKPT_*) of checkpoint lsn into
 * s (concepts borrow from *map, which the caller unmaps after destroying
 * s). part: in, the shard expected (NULL: the whole store); out, its WAL
 * lsn. repair: skips damaged records. */
int ckpt_load(const char *dir, uint64_t lsn, uint32_t dim, bool repair, unsigned kinds,
              struct ckpt_part *part, struct store *s, struct ckpt_map *map,
              struct ckpt_result *res);
/* Removes checkpoint files other than lsn, and leftover temporaries. */
int ckpt_remove_others(const char *dir, uint64_t lsn);
/* Removes the files of dir whose name starts with prefix, except keep. */
int files_remove_others(const char *dir, const char *prefix, const char *keep);
void ckpt_path(const char *dir, uint64_t lsn, char *out, size_t n);

#endif
