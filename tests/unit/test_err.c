/* test_err.c - error names and the per-thread last-error message. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sutra/sutra.h"
#include "util/err.h"

static void test_strerror_distinct(void **state)
{
	const char *names[14];

	for (int i = 0; i <= 13; i++) {
		names[i] = sutra_strerror(-i);
		assert_non_null(names[i]);
		assert_true(strlen(names[i]) > 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
	/* unknown codes still get a name, different from every real one */
	assert_non_null(sutra_strerror(-1000));
	assert_true(strlen(sutra_strerror(-1000)) > 0);
	assert_true(strlen(sutra_strerror(5)) > 0);
	for (int i = 0; i <= 13; i++)
		assert_string_not_equal(sutra_strerror(-1000), names[i]);
}

static void test_set_and_clear(void **state)
{
	err_clear();
	assert_non_null(sutra_last_error());
	assert_string_equal(sutra_last_error(), "");
	assert_int_equal(err_set(SUTRA_EINVAL, "option %s=%d out of range", "dimension", 0),
	                 SUTRA_EINVAL);
	assert_string_equal(sutra_last_error(), "option dimension=0 out of range");
	/* a message may wrap the previous one */
	err_set(SUTRA_EIO, "opening store: %s", sutra_last_error());
	assert_string_equal(sutra_last_error(), "opening store: option dimension=0 out of range");
	err_clear();
	assert_string_equal(sutra_last_error(), "");
}

static void test_truncation_and_errno(void **state)
{
	char big[2000];

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	errno = ENOSPC;
	err_set(SUTRA_EIO, "%s", big);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(strlen(sutra_last_error()), 511);
}

static void test_from_errno(void **state)
{
	assert_int_equal(err_from_errno(ENOSPC), SUTRA_ENOSPC);
	assert_int_equal(err_from_errno(ENOMEM), SUTRA_ENOMEM);
	assert_int_equal(err_from_errno(EIO), SUTRA_EIO);
	assert_int_equal(err_from_errno(EACCES), SUTRA_EIO);
	assert_int_equal(err_from_errno(ENOENT), SUTRA_EIO);
}

struct thread_arg {
	pthread_barrier_t *barrier;
	const char *text;
	int fresh_was_empty;
	int kept_own;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;

	a->fresh_was_empty = strcmp(sutra_last_error(), "") == 0;
	err_set(SUTRA_EIO, "%s", a->text);
	pthread_barrier_wait(a->barrier); /* both threads have set their message */
	pthread_barrier_wait(a->barrier);
	a->kept_own = strcmp(sutra_last_error(), a->text) == 0;
	return NULL;
}

static void test_per_thread(void **state)
{
	pthread_barrier_t barrier;
	struct thread_arg a[2] = {{&barrier, "thread A failed", 0, 0},
	                          {&barrier, "thread B failed", 0, 0}};
	pthread_t t[2];

	err_set(SUTRA_EINVAL, "main thread message");
	pthread_barrier_init(&barrier, NULL, 3);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, &a[i]), 0);
	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		assert_true(a[i].fresh_was_empty);
		assert_true(a[i].kept_own);
	}
	pthread_barrier_destroy(&barrier);
	assert_string_equal(sutra_last_error(), "main thread message");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strerror_distinct),    cmocka_unit_test(test_set_and_clear),
	    cmocka_unit_test(test_truncation_and_errno), cmocka_unit_test(test_from_errno),
	    cmocka_unit_test(test_per_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
