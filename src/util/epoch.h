/* epoch.h - epoch-based reclamation: readers never wait, memory is freed
 * only when no reader can still hold it.
 *
 * Readers bracket every access to shared structures with epoch_enter() and
 * epoch_exit() (nestable, per thread, about 10 ns). A writer that unlinks an
 * object hands it to epoch_retire(); epoch_reclaim() frees every retired
 * object older than the oldest epoch a reader announced. The protocol is the
 * store-buffer pattern with sequentially consistent fences on both sides: a
 * reader announces its epoch, fences, then loads pointers; the writer
 * unlinks, fences, then scans the announcements. So either the writer sees
 * the reader (and keeps the object) or the reader sees the unlink.
 *
 * Written by hand rather than taken from liburcu because it is core to the
 * engine and must be checkable by ThreadSanitizer, which understands C11
 * atomics but not liburcu's membarrier-based grace periods.
 *
 * Reader slots are process-wide (EPOCH_MAX_THREADS threads may be inside
 * the engine at once; each thread claims a slot on first use and gives it
 * back when it exits). A retire bin belongs to one store and is used only
 * under that store's writer lock.
 */
#ifndef SUTRA_UTIL_EPOCH_H
#define SUTRA_UTIL_EPOCH_H

#include <stddef.h>
#include <stdint.h>

#define EPOCH_MAX_THREADS 4096

struct epoch_retired {
	void *p;
	uint64_t epoch;
};

/* Objects waiting to be freed (with sutra_free), oldest first. */
struct epoch_bin {
	struct epoch_retired *items;
	size_t head, count, cap;
	uint64_t freed;
};

void epoch_enter(void);
void epoch_exit(void);
/* Queues p for sutra_free once no reader can see it. Never fails: if the
 * bin cannot grow it waits for readers and frees in place. */
void epoch_retire(struct epoch_bin *bin, void *p);
/* Waits until every reader inside an epoch when it was called has left:
 * after unlinking an object that is not freed with sutra_free (a whole
 * index), the caller may then destroy it. Never call it inside an epoch. */
void epoch_synchronize(void);
/* Frees what is safe now; returns the number freed. */
size_t epoch_reclaim(struct epoch_bin *bin);
/* Frees everything (no reader may be using the objects any more). */
void epoch_bin_drain(struct epoch_bin *bin);

#endif
