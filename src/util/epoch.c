/* epoch.c - epoch-based reclamation (see epoch.h for the protocol). */
#include "util/epoch.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/alloc.h"

/* One cache line per slot so readers on different cores do not share. */
struct epoch_slot {
	_Atomic uint64_t epoch; /* 0 = not reading; else the epoch announced */
	_Atomic int claimed;
	char pad[64 - sizeof(uint64_t) - sizeof(int)];
};

static struct epoch_slot g_slots[EPOCH_MAX_THREADS];
static _Atomic uint64_t g_epoch = 1;
static _Atomic int g_high_water; /* slots [0, high_water) were ever claimed */

static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

static _Thread_local struct epoch_slot *t_slot;
static _Thread_local unsigned t_nest;

static void slot_release(void *arg)
{
	struct epoch_slot *s = arg;

	atomic_store_explicit(&s->epoch, 0, memory_order_seq_cst);
	atomic_store_explicit(&s->claimed, 0, memory_order_release);
}

static void key_create(void)
{
	if (pthread_key_create(&g_key, slot_release) != 0)
		abort();
}

static struct epoch_slot *slot_claim(void)
{
	pthread_once(&g_key_once, key_create);
	for (;;) {
		for (int i = 0; i < EPOCH_MAX_THREADS; i++) {
			int expect = 0;

			if (atomic_load_explicit(&g_slots[i].claimed, memory_order_relaxed))
				continue;
			if (!atomic_compare_exchange_strong(&g_slots[i].claimed, &expect, 1))
				continue;
			int hw = atomic_load(&g_high_water);
			while (hw < i + 1 &&
			       !atomic_compare_exchange_weak(&g_high_water, &hw, i + 1))
				;
			pthread_setspecific(g_key, &g_slots[i]);
			return &g_slots[i];
		}
		/* More threads inside the engine than slots: wait for one. */
		sched_yield();
	}
}

void epoch_enter(void)
{
	if (t_nest++ > 0)
		return;
	if (!t_slot)
		t_slot = slot_claim();
	uint64_t e = atomic_load_explicit(&g_epoch, memory_order_seq_cst);
	atomic_store_explicit(&t_slot->epoch, e, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst); /* announce before any load */
}

void epoch_exit(void)
{
	if (--t_nest > 0)
		return;
	atomic_store_explicit(&t_slot->epoch, 0, memory_order_release);
}

/* The oldest epoch any reader announced, or UINT64_MAX if none reads. */
static uint64_t oldest_reader(void)
{
	uint64_t min = UINT64_MAX;
	int hw = atomic_load(&g_high_water);

	for (int i = 0; i < hw; i++) {
		uint64_t e = atomic_load_explicit(&g_slots[i].epoch, memory_order_seq_cst);

		if (e != 0 && e < min)
			min = e;
	}
	return min;
}

void epoch_synchronize(void)
{
	uint64_t e = atomic_fetch_add_explicit(&g_epoch, 1, memory_order_seq_cst) + 1;

	atomic_thread_fence(memory_order_seq_cst);
	while (oldest_reader() < e)
		sched_yield();
}

size_t epoch_reclaim(struct epoch_bin *bin)
{
	size_t n = 0;

	if (bin->count == 0)
		return 0;
	atomic_fetch_add_explicit(&g_epoch, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
	uint64_t oldest = oldest_reader();

	while (bin->count > 0 && bin->items[bin->head].epoch < oldest) {
		sutra_free(bin->items[bin->head].p);
		bin->head = (bin->head + 1) % bin->cap;
		bin->count--;
		n++;
	}
	bin->freed += n;
	return n;
}

static bool bin_grow(struct epoch_bin *bin)
{
	size_t ncap = bin->cap ? bin->cap * 2 : 1024;
	struct epoch_retired *items = sutra_malloc(ncap * sizeof(*items));

	if (!items)
		return false;
	for (size_t i = 0; i < bin->count; i++)
		items[i] = bin->items[(bin->head + i) % bin->cap];
	sutra_free(bin->items);
	bin->items = items;
	bin->cap = ncap;
	bin->head = 0;
	return true;
}

void epoch_retire(struct epoch_bin *bin, void *p)
{
	if (!p)
		return;
	if (bin->count == bin->cap && !bin_grow(bin)) {
		/* Out of memory for the queue: wait until this object is safe. */
		atomic_fetch_add_explicit(&g_epoch, 1, memory_order_seq_cst);
		atomic_thread_fence(memory_order_seq_cst);
		uint64_t now = atomic_load(&g_epoch);
		while (oldest_reader() < now)
			sched_yield();
		sutra_free(p);
		return;
	}
	size_t tail = (bin->head + bin->count) % bin->cap;

	bin->items[tail].p = p;
	bin->items[tail].epoch = atomic_load_explicit(&g_epoch, memory_order_seq_cst);
	bin->count++;
}

void epoch_bin_drain(struct epoch_bin *bin)
{
	for (size_t i = 0; i < bin->count; i++)
		sutra_free(bin->items[(bin->head + i) % bin->cap].p);
	bin->freed += bin->count;
	sutra_free(bin->items);
	bin->items = NULL;
	bin->head = bin->count = bin->cap = 0;
}
