/* clock.c - wall-clock and monotonic time sources.
 *
 * CLOCK_REALTIME in microseconds stamps concepts (it may jump; never use it
 * for durations). CLOCK_MONOTONIC in nanoseconds measures durations and
 * timeouts. clock_gettime cannot fail for these clocks on Linux.
 */
#include "util/clock.h"

#include <time.h>

uint64_t clock_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
