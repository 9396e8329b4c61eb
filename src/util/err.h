/* err.h - error reporting: SUTRA_E* codes plus a thread-local message.
 *
 * Every failing internal call sets the message with err_set() and returns
 * the code, so the public sutra_last_error() always describes the failure the
 * caller just got: setting/value/range for options, file/offset/reason for
 * corruption.
 */
#ifndef SUTRA_UTIL_ERR_H
#define SUTRA_UTIL_ERR_H

#include "sutra/sutra.h"

/* Formats the thread's last-error message and returns code. */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Maps an errno value to a SUTRA_E* code (ENOSPC -> SUTRA_ENOSPC, ENOMEM ->
 * SUTRA_ENOMEM, anything else -> SUTRA_EIO). */
int err_from_errno(int e);
/* Clears the thread's message (at the start of public calls). */
void err_clear(void);

#endif
