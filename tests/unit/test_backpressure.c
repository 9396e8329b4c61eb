/* test_backpressure.c - a write queue far smaller than the write rate:
 * writers wait for room (never a hang, never a dropped write), the
 * scheduler is kicked while it reads its figures (a lock-order deadlock
 * once lived here), and everything written is there after a reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sutra/sutra.h"
#include "testutil.h"

#define DIM 384
#define N   20000

static void test_small_queue_many_writes(void **state)
{
	char *dir = tu_mkdtemp("backpressure");
	sutra_options o;
	sutra_db *db;
	static float vec[DIM];
	sutra_stats st;

	sutra_options_init(&o);
	o.dimension = DIM;
	o.durability = SUTRA_DURABILITY_NONE;
	o.max_pending_bytes = 64 * 1024;
	o.sched_min_interval_ms = o.sched_base_interval_ms = o.sched_max_interval_ms = 1;
	o.vector_index = 0;
	assert_int_equal(sutra_open(dir, &o, &db), 0);
	for (int i = 0; i < N; i++) {
		sutra_concept_in c = {.content = "x",
		                      .content_len = 1,
		                      .vector = vec,
		                      .vector_dim = DIM,
		                      .strength = 1,
		                      .confidence = 1};
		vec[0] = (float)i;
		memcpy(c.id.b, &i, sizeof i);
		assert_int_equal(sutra_learn(db, &c, NULL), 0);
	}
	assert_int_equal(sutra_stats_get(db, &st), 0);
	assert_int_equal(st.busy_rejections, 0);
	assert_int_equal(st.ops_dropped, 0);
	assert_int_equal(sutra_close(db), 0);
	assert_int_equal(sutra_open(dir, &o, &db), 0);
	assert_int_equal(sutra_stats_get(db, &st), 0);
	assert_int_equal(st.concepts, N);
	assert_int_equal(sutra_close(db), 0);
	tu_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_queue_many_writes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
