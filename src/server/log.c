/* log.c - timestamped, leveled logging to stderr.
 *
 * Lines are assembled in a stack buffer (long messages are cut, never
 * allocated) and emitted with a single write(2): stderr is shared by every
 * thread and one write per line keeps lines whole. The level is a plain
 * int written before threads start and only read afterwards.
 */
#include "server/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_level = LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *s)
{
	for (int i = 0; i < (int)(sizeof level_names / sizeof level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

const char *log_level_name(int level)
{
	if (level < LOG_ERROR || level > LOG_DEBUG)
		return "?";
	return level_names[level];
}

void log_set_level(int level)
{
	log_level = level;
}

bool log_enabled(int level)
{
	return level <= log_level;
}

void log_msg(int level, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t n;
	int k;

	if (!log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof line - n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000,
	             log_level_name(level));
	n += (size_t)(k > 0 ? k : 0);
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof line - n, fmt, ap);
	va_end(ap);
	if (k < 0)
		k = 0;
	n = n + (size_t)k < sizeof line - 1 ? n + (size_t)k : sizeof line - 2;
	line[n++] = '\n';
	/* stderr may be a closed pipe; nothing useful to do about a failure. */
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}
