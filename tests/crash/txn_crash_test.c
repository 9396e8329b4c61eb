/* txn_crash_test.c - the crash matrix of cross-shard writes (two-phase
 * commit), and I/O errors injected while recovery resolves them.
 *
 * For each step of a cross-shard write - before any PREPARE, after k of n
 * PREPAREs are durable (the decision is durable with the last of them),
 * after the decision, while participants log APPLIED (k of n), before the
 * clean-up END - and each kind of write - an
 * association whose coordinator is the lower shard, one whose coordinator
 * is the higher shard (so "k of n" leaves the participant, not the
 * coordinator, prepared), and a batch over three shards (two learns, two
 * associations) - a child process on a fresh 4-shard store (durability
 * always) acknowledges a few such writes, arms the stop, and makes one
 * more; it dies at the step with everything it had not written lost. The
 * parent reopens and checks that every acknowledged write is whole, that
 * the write in flight is whole if its decision was durable and absent
 * otherwise (never half), that no transaction is left active, and that a
 * second reopen finds nothing left in doubt. Each cell runs
 * SUTRA_TXN_CRASH_REPS times (default 20).
 *
 * Then, on a store stopped right after a decision, every I/O call of the
 * recovering open fails in turn (EIO): the open fails cleanly or succeeds,
 * and the next open without faults recovers the same, whole state.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sutra/sutra.h"
#include "sutra/sutra_test.h"
#include "testutil.h"

#define SHARDS    4
#define STOP_CODE 77
#define PRIOR_MAX 3

enum kind { COORD_LOW, COORD_HIGH, BATCH3, KINDS };

static const char *kind_name[KINDS] = {"assoc, coordinator lower", "assoc, coordinator higher",
                                       "batch over 3 shards"};

struct cell {
	int step;
	unsigned k;
	const char *name;
};

static const struct cell cells[] = {
    {SUTRA_TXN_STOP_BEFORE_PREPARE, 0, "before prepare"},
    {SUTRA_TXN_STOP_PREPARED, 0, "0 of n prepares durable"},
    {SUTRA_TXN_STOP_PREPARED, 1, "1 of n prepares durable"},
    {SUTRA_TXN_STOP_PREPARED, 2, "2 of n prepares durable"},
    {SUTRA_TXN_STOP_DECIDED, 0, "after the decision"},
    {SUTRA_TXN_STOP_APPLYING, 0, "apply, 0 participants"},
    {SUTRA_TXN_STOP_APPLYING, 1, "apply, 1 participant"},
    {SUTRA_TXN_STOP_CLEANUP, 0, "during clean-up"},
};

static unsigned participants(enum kind k)
{
	return k == BATCH3 ? 3 : 2;
}

/* Whether the write in flight must survive: its decision was durable,
 * i.e. every participant's PREPARE was. */
static bool survives(const struct cell *c, enum kind k)
{
	if (c->step == SUTRA_TXN_STOP_BEFORE_PREPARE)
		return false;
	return c->step != SUTRA_TXN_STOP_PREPARED || c->k >= participants(k);
}
#define NCELLS (sizeof cells / sizeof cells[0])

static long failures;

static void fail(const char *fmt, const char *a, const char *b, int rep)
{
	fprintf(stderr, "txn crash: [%s | %s | rep %d] %s\n", a, b, rep, fmt);
	failures++;
}

/* ---- the writes ------------------------------------------------------------- */

/* Ids of write w: four concepts in chosen shards (see concepts_of). */
static void mk_id(uint32_t w, uint32_t member, uint32_t salt, sutra_id *id)
{
	memset(id, 0, sizeof *id);
	memcpy(id->b, "txnc", 4);
	id->b[4] = (uint8_t)w;
	id->b[5] = (uint8_t)member;
	memcpy(id->b + 8, &salt, sizeof salt);
}

static void in_shard(uint32_t w, uint32_t member, uint32_t shard, sutra_id *id)
{
	for (uint32_t salt = 0;; salt++) {
		mk_id(w, member, salt, id);
		if (sutra_shard_of(id, SHARDS) == shard)
			return;
	}
}

/* Write w of a kind: ids[0..3] and the shards they live in. A/B associate
 * ids[0] -> ids[1] (both learnt beforehand); BATCH3 learns ids[0] and
 * ids[1] and associates ids[0] -> ids[1] and ids[2] -> ids[0]. */
static void concepts_of(enum kind k, uint32_t w, sutra_id ids[3])
{
	if (k == COORD_LOW) {
		in_shard(w, 0, 0, &ids[0]);
		in_shard(w, 1, 3, &ids[1]);
	} else if (k == COORD_HIGH) {
		in_shard(w, 0, 3, &ids[0]);
		in_shard(w, 1, 1, &ids[1]);
	} else {
		in_shard(w, 0, 2, &ids[0]);
		in_shard(w, 1, 0, &ids[1]);
		in_shard(w, 2, 3, &ids[2]);
	}
}

static int learn(sutra_db *db, sutra_batch *b, const sutra_id *id)
{
	sutra_concept_in c = {.id = *id, .content = "txn", .content_len = 3, .confidence = 1};

	return b ? sutra_batch_learn(b, &c) : sutra_learn(db, &c, NULL);
}

/* What must exist before write w runs. */
static int prepare_write(sutra_db *db, enum kind k, uint32_t w)
{
	sutra_id ids[3];

	concepts_of(k, w, ids);
	if (k != BATCH3)
		return learn(db, NULL, &ids[0]) || learn(db, NULL, &ids[1]);
	return learn(db, NULL, &ids[2]);
}

static int do_write(sutra_db *db, enum kind k, uint32_t w)
{
	sutra_id ids[3];
	sutra_batch *b;

	concepts_of(k, w, ids);
	if (k != BATCH3)
		return sutra_associate(db, &ids[0], &ids[1], SUTRA_ASSOC_CAUSAL, 0.5f, NULL);
	if (sutra_batch_new(&b) != 0)
		return -1;
	int rc = learn(db, b, &ids[0]) || learn(db, b, &ids[1]) ||
	         sutra_batch_associate(b, &ids[0], &ids[1], SUTRA_ASSOC_SEMANTIC, 1) ||
	         sutra_batch_associate(b, &ids[2], &ids[0], SUTRA_ASSOC_TEMPORAL, 1);
	if (rc == 0)
		rc = sutra_batch_commit(db, b, NULL);
	sutra_batch_free(b);
	return rc;
}

static bool linked(sutra_db *db, const sutra_id *from, const sutra_id *to)
{
	sutra_neighbor out[8], in[8];
	size_t no = 0, ni = 0;
	bool fwd = false, back = false;

	if (sutra_neighbors(db, from, SUTRA_DIR_OUT, SUTRA_TYPE_ANY, out, 8, &no) != 0 ||
	    sutra_neighbors(db, to, SUTRA_DIR_IN, SUTRA_TYPE_ANY, in, 8, &ni) != 0)
		return false;
	for (size_t i = 0; i < no && i < 8; i++)
		fwd |= memcmp(&out[i].id, to, sizeof *to) == 0;
	for (size_t i = 0; i < ni && i < 8; i++)
		back |= memcmp(&in[i].id, from, sizeof *from) == 0;
	return fwd && back;
}

/* 1: write w is whole, 0: none of it, -1: half (never allowed). */
static int write_state(sutra_db *db, enum kind k, uint32_t w)
{
	sutra_id ids[3];

	concepts_of(k, w, ids);
	if (k != BATCH3)
		return linked(db, &ids[0], &ids[1]) ? 1 : 0;
	int parts = sutra_exists(db, &ids[0]) + sutra_exists(db, &ids[1]) +
	            (sutra_exists(db, &ids[0]) && linked(db, &ids[0], &ids[1])) +
	            (sutra_exists(db, &ids[0]) && linked(db, &ids[2], &ids[0]));
	return parts == 4 ? 1 : parts == 0 ? 0 : -1;
}

/* ---- one cell ------------------------------------------------------------------ */

static sutra_db *open_store(const char *dir)
{
	sutra_options o;
	sutra_db *db = NULL;

	sutra_options_init(&o);
	o.dimension = 4;
	o.shards = SHARDS;
	o.vector_index = 0;
	return sutra_open(dir, &o, &db) == 0 ? db : NULL;
}

static _Noreturn void child(const char *dir, const struct cell *c, enum kind k, uint32_t prior)
{
	sutra_db *db = open_store(dir);

	if (!db)
		_exit(2);
	for (uint32_t w = 0; w <= prior; w++)
		if (prepare_write(db, k, w) != 0)
			_exit(3);
	for (uint32_t w = 0; w < prior; w++)
		if (do_write(db, k, w) != 0)
			_exit(4);
	sutra_test_txn_stop(c->step, 1, c->k, STOP_CODE);
	do_write(db, k, prior);
	_exit(5); /* the stop was never reached */
}

/* The recovered store of a cell: prior writes whole, the one in flight as
 * the cell says, nothing active; a second open finds nothing in doubt. */
static void check_cell(const char *dir, const struct cell *c, enum kind k, uint32_t prior, int rep)
{
	sutra_stats st;

	for (int open = 0; open < 2; open++) {
		sutra_db *db = open_store(dir);
		if (!db) {
			fail(sutra_last_error(), c->name, kind_name[k], rep);
			return;
		}
		for (uint32_t w = 0; w < prior; w++)
			if (write_state(db, k, w) != 1)
				fail("an acknowledged write is not whole", c->name, kind_name[k],
				     rep);
		int s = write_state(db, k, prior);
		if (s < 0)
			fail("the write in flight is half-applied", c->name, kind_name[k], rep);
		else if (s != (survives(c, k) ? 1 : 0))
			fail(survives(c, k) ? "a write whose decision was durable is missing"
			                    : "a write without a durable decision was applied",
			     c->name, kind_name[k], rep);
		if (sutra_stats_get(db, &st) != 0 || st.txn_active || st.txn_prepared ||
		    (open == 1 && st.txn_recovered))
			fail("transactions left undecided after recovery", c->name, kind_name[k],
			     rep);
		if (sutra_close(db) != 0)
			fail("close failed", c->name, kind_name[k], rep);
	}
}

static void run_cell(const struct cell *c, enum kind k, int rep)
{
	char *dir = tu_mkdtemp("txn-crash");
	uint32_t prior = (uint32_t)(rep % PRIOR_MAX) + 1;
	int status = 0;

	pid_t pid = fork();
	if (pid == 0)
		child(dir, c, k, prior);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != STOP_CODE)
		fail("the child did not stop at the step", c->name, kind_name[k], rep);
	else
		check_cell(dir, c, k, prior, rep);
	tu_rmrf(dir);
	free(dir);
}

/* ---- I/O errors during recovery -------------------------------------------------- */

static void copy_store(const char *from, const char *to)
{
	tu_dir_copy(from, to);
	for (int s = 0; s < SHARDS; s++) {
		char name[32];
		snprintf(name, sizeof name, "shard_%04d", s);
		char *src = tu_path(from, name), *dst = tu_path(to, name);
		mkdir(dst, 0755);
		tu_dir_copy(src, dst);
		free(src);
		free(dst);
	}
}

static unsigned long io_calls(void)
{
	unsigned long n = 0;

	for (int s = 0; s < SUTRA_SITE_COUNT; s++)
		n += sutra_fault_calls(s);
	return n;
}

static void recovery_faults(void)
{
	const struct cell *decided = &cells[4];
	char *crashed = tu_mkdtemp("txn-crashed");
	int status = 0;

	pid_t pid = fork();
	if (pid == 0)
		child(crashed, decided, BATCH3, 2);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != STOP_CODE) {
		fail("the child did not stop", "recovery faults", kind_name[BATCH3], 0);
		return;
	}
	char *probe = tu_mkdtemp("txn-probe");
	copy_store(crashed, probe);
	sutra_fault_clear();
	sutra_db *db = open_store(probe);
	unsigned long calls = io_calls();
	if (db)
		sutra_close(db);
	tu_rmrf(probe);
	free(probe);
	unsigned long refused = 0;
	for (unsigned long nth = 1; nth <= calls; nth++) {
		char *dir = tu_mkdtemp("txn-fault");
		copy_store(crashed, dir);
		sutra_fault_clear();
		sutra_fault_io(SUTRA_SITE_ANY, (unsigned)nth, SUTRA_FAULT_EIO);
		db = open_store(dir);
		sutra_fault_clear();
		if (db)
			sutra_close(db); /* may report the sticky error */
		else
			refused++;
		check_cell(dir, decided, BATCH3, 2, (int)nth);
		tu_rmrf(dir);
		free(dir);
	}
	printf("txn crash: recovery with an EIO at each of its %lu I/O calls: %lu opens refused, "
	       "every next open whole\n",
	       calls, refused);
	tu_rmrf(crashed);
	free(crashed);
}

int main(void)
{
	long reps = tu_env_long("SUTRA_TXN_CRASH_REPS", 20);

	for (size_t c = 0; c < NCELLS; c++) {
		for (int k = 0; k < KINDS; k++)
			for (int rep = 0; rep < reps; rep++)
				run_cell(&cells[c], (enum kind)k, rep);
		printf("txn crash: %-24s %ld reps x %d kinds\n", cells[c].name, reps, KINDS);
	}
	recovery_faults();
	printf("txn crash: %s (%ld failures)\n", failures ? "FAILED" : "ok", failures);
	return failures ? 1 : 0;
}
