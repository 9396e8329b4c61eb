/* log.h - timestamped, leveled logging to stderr for the server.
 *
 * Every line is "2024-05-01T12:00:00.123Z level message", formatted into a
 * local buffer and written with one write(2), so lines from the worker,
 * engine-callback and offload threads never interleave. The level is set
 * once at start-up, before any thread exists.
 */
#ifndef SUTRA_SERVER_LOG_H
#define SUTRA_SERVER_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Parses "error", "warn", "info" or "debug"; -1 if none. */
int log_level_parse(const char *s);
const char *log_level_name(int level);
void log_set_level(int level);
bool log_enabled(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_enabled(LOG_DEBUG))                                                        \
			log_msg(LOG_DEBUG, __VA_ARGS__);                                           \
	} while (0)

#endif
