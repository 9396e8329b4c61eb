/* err.c - SUTRA_E* names and the thread-local last-error message.
 *
 * Each thread owns one 512-byte message buffer. err_set() formats into a
 * scratch buffer first and then copies, so a message may wrap the previous
 * one (err_set(rc, "open %s: %s", dir, sutra_last_error())). Messages longer
 * than the buffer are truncated, never overflowed. The buffer starts empty,
 * so sutra_last_error() returns "" until something fails; it never returns
 * NULL. err_set() preserves errno so callers may still inspect it.
 */
#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sutra/sutra.h"

#define ERR_MSG_CAP 512

static _Thread_local char err_msg[ERR_MSG_CAP];

int err_set(int code, const char *fmt, ...)
{
	char tmp[ERR_MSG_CAP];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	/* the analyzer misses va_start above */
	if (vsnprintf(tmp, sizeof tmp, fmt, ap) <
	    0) /* NOLINT(clang-analyzer-valist.Uninitialized) */
		tmp[0] = '\0';
	va_end(ap);
	memcpy(err_msg, tmp, sizeof err_msg);
	errno = saved;
	return code;
}

int err_from_errno(int e)
{
	switch (e) {
	case ENOSPC:
		return SUTRA_ENOSPC;
	case ENOMEM:
		return SUTRA_ENOMEM;
	default:
		return SUTRA_EIO;
	}
}

void err_clear(void)
{
	err_msg[0] = '\0';
}

const char *sutra_last_error(void)
{
	return err_msg;
}

const char *sutra_strerror(int err)
{
	switch (err) {
	case SUTRA_OK:
		return "success";
	case SUTRA_EINVAL:
		return "invalid argument";
	case SUTRA_ENOMEM:
		return "out of memory";
	case SUTRA_EIO:
		return "I/O error";
	case SUTRA_ENOSPC:
		return "no space left on device";
	case SUTRA_ENOTFOUND:
		return "not found";
	case SUTRA_EBUSY:
		return "busy: write queue full";
	case SUTRA_EREADONLY:
		return "store is read-only after a write failure";
	case SUTRA_ECORRUPT:
		return "corruption detected";
	case SUTRA_ELOCKED:
		return "store directory is locked by another process";
	case SUTRA_ETOOBIG:
		return "value exceeds a configured limit";
	case SUTRA_EVERSION:
		return "unsupported on-disk format version";
	case SUTRA_ECLOSED:
		return "store is closing";
	case SUTRA_EEXIST:
		return "id holds different content";
	default:
		return "unknown error";
	}
}
