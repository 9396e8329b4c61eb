/* clock.h - time sources. */
#ifndef SUTRA_UTIL_CLOCK_H
#define SUTRA_UTIL_CLOCK_H

#include <stdint.h>

/* Wall clock, microseconds since the Unix epoch (timestamps of concepts). */
uint64_t clock_wall_us(void);
/* Monotonic clock in nanoseconds (durations, timeouts). */
uint64_t clock_mono_ns(void);

#endif
