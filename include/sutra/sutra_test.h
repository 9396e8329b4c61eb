/* sutra_test.h - test hooks of libsutra: fault injection in the io layer and
 * the allocator. Compiled in, off by default, process-wide, for tests only.
 *
 * Every file operation of the engine goes through the io layer and names its
 * call site. A test arms one fault: the nth matching call (1 = the next one)
 * at a site (or SUTRA_SITE_ANY) fails. A failed call fails once; the fault
 * then disarms itself. Counters let a test first count how many calls a
 * workload makes, then fail each one in turn.
 */
#ifndef SUTRA_SUTRA_TEST_H
#define SUTRA_SUTRA_TEST_H

#include "sutra.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sutra_io_site {
	SUTRA_SITE_ANY = -1,
	SUTRA_SITE_WAL_CREATE = 0, /* open of a new WAL segment */
	SUTRA_SITE_WAL_WRITE,      /* write of WAL records or a segment header */
	SUTRA_SITE_WAL_FSYNC,      /* fdatasync of a WAL segment */
	SUTRA_SITE_WAL_TRUNCATE,   /* cutting a torn WAL tail */
	SUTRA_SITE_CKPT_CREATE,
	SUTRA_SITE_CKPT_WRITE,
	SUTRA_SITE_CKPT_FSYNC,
	SUTRA_SITE_MANIFEST_WRITE,
	SUTRA_SITE_MANIFEST_FSYNC,
	SUTRA_SITE_RENAME,
	SUTRA_SITE_DIR_FSYNC,
	SUTRA_SITE_UNLINK,
	SUTRA_SITE_INDEX_CREATE, /* the vector index file written with a checkpoint */
	SUTRA_SITE_INDEX_WRITE,
	SUTRA_SITE_INDEX_FSYNC,
	SUTRA_SITE_COUNT
};

enum sutra_fault_kind {
	SUTRA_FAULT_EIO = 1,
	SUTRA_FAULT_ENOSPC = 2,
	SUTRA_FAULT_SHORT = 3 /* a write/pwrite writes half its bytes, then ENOSPC */
};

/* Arms one fault at the nth next call to site. */
SUTRA_API void sutra_fault_io(int site, unsigned nth, int kind);
/* A stalled disk: every call at site (or SUTRA_SITE_ANY) sleeps ms before
 * it runs, until ms = 0 or sutra_fault_clear. */
SUTRA_API void sutra_fault_delay(int site, unsigned ms);
/* Makes the nth next allocation fail (0 disarms). */
SUTRA_API void sutra_fault_alloc(unsigned nth);
/* Disarms everything and zeroes the counters. */
SUTRA_API void sutra_fault_clear(void);
/* Number of calls seen at site since the last clear. */
SUTRA_API unsigned long sutra_fault_calls(int site);
/* Name of a site, for messages. */
SUTRA_API const char *sutra_fault_site_name(int site);

/* Steps of a cross-shard write (two-phase commit) where a test can stop the
 * process, as a crash would. */
enum sutra_txn_stop {
	SUTRA_TXN_STOP_BEFORE_PREPARE = 1, /* validated; no record queued yet */
	SUTRA_TXN_STOP_PREPARED = 2,       /* the PREPAREs of the first k participants
	                                      durable, the others lost */
	SUTRA_TXN_STOP_DECIDED = 3,        /* every PREPARE durable (the decision),
	                                      nothing after */
	SUTRA_TXN_STOP_APPLYING = 4,       /* COMMIT and APPLIED of k participants written */
	SUTRA_TXN_STOP_CLEANUP = 5         /* APPLIED everywhere, END not written */
};

/* When the nth next cross-shard write reaches step, the process exits at
 * once with exit_code (_exit: what the engine has not written is lost).
 * step 0 disarms. */
SUTRA_API void sutra_test_txn_stop(int step, unsigned nth, unsigned k, int exit_code);

#ifdef __cplusplus
}
#endif
#endif /* SUTRA_SUTRA_TEST_H */
