/* testhook.c - an I/O fault armed from the environment, for black-box tests.
 *
 * Off unless SUTRA_TEST_FAULT is set (like Redis's enable-debug-command, it
 * is compiled in but inert by default). SUTRA_TEST_FAULT=SITE:NTH:KIND arms
 * the engine's fault injection (sutra_test.h) once the store is open: the
 * NTH next call at SITE (an io-layer site name such as wal_fsync, or any)
 * fails with KIND (eio, enospc or short). This lets a test drive the store
 * into read-only mode over the wire and watch HealthCheck and the write
 * replies report it, which nothing else can do from outside the process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"
#include "server/server.h"
#include "sutra/sutra_test.h"

static int site_of(const char *name)
{
	if (strcmp(name, "any") == 0)
		return SUTRA_SITE_ANY;
	for (int i = 0; i < SUTRA_SITE_COUNT; i++)
		if (strcmp(name, sutra_fault_site_name(i)) == 0)
			return i;
	return -2;
}

static int kind_of(const char *name)
{
	if (strcmp(name, "eio") == 0)
		return SUTRA_FAULT_EIO;
	if (strcmp(name, "enospc") == 0)
		return SUTRA_FAULT_ENOSPC;
	if (strcmp(name, "short") == 0)
		return SUTRA_FAULT_SHORT;
	return -1;
}

int testhook_arm(void)
{
	const char *spec = getenv("SUTRA_TEST_FAULT");
	char site[64], kind[16];
	unsigned nth;

	if (!spec || !*spec)
		return 0;
	if (sscanf(spec, "%63[^:]:%u:%15s", site, &nth, kind) != 3 || nth == 0 ||
	    site_of(site) == -2 || kind_of(kind) < 0) {
		log_error("SUTRA_TEST_FAULT = '%s' is not SITE:NTH:KIND (site an io site name or "
		          "any, NTH >= 1, KIND eio|enospc|short)",
		          spec);
		return -1;
	}
	sutra_fault_io(site_of(site), nth, kind_of(kind));
	log_warn("test hook: I/O fault armed (call %u at %s fails with %s)", nth, site, kind);
	return 0;
}
