/* sutra-demo - opens a store, writes concepts and associations, reopens it
 * and reads them back: the smallest end-to-end use of libsutra.
 *
 * Usage: sutra-demo [--help] [DIR]   (default DIR: ./data)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sutra/sutra.h"

static int fail(const char *what, int rc)
{
	fprintf(stderr, "sutra-demo: %s: %s: %s\n", what, sutra_strerror(rc), sutra_last_error());
	return 1;
}

static int write_some(sutra_db *db, sutra_id ids[3])
{
	static const char *texts[] = {"The Eiffel Tower is in Paris", "Paris is in France",
	                              "France is in Europe"};
	int rc;

	for (int i = 0; i < 3; i++) {
		sutra_concept_in c = {.content = texts[i],
		                      .content_len = strlen(texts[i]),
		                      .strength = 1.0f,
		                      .confidence = 0.9f};
		sutra_id_from_content(texts[i], strlen(texts[i]), &ids[i]);
		c.id = ids[i];
		if ((rc = sutra_learn(db, &c, NULL)) < 0)
			return fail("learn", rc);
	}
	for (int i = 0; i < 2; i++)
		if ((rc = sutra_associate(db, &ids[i], &ids[i + 1], SUTRA_ASSOC_HIERARCHICAL, 0.8f,
		                          NULL)) < 0)
			return fail("associate", rc);
	return 0;
}

static int read_back(sutra_db *db, const sutra_id ids[3])
{
	sutra_neighbor nb[8];
	sutra_concept *c;
	size_t total;
	char hex[SUTRA_ID_HEX];
	int rc;

	for (int i = 0; i < 3; i++) {
		if ((rc = sutra_get(db, &ids[i], &c)) < 0)
			return fail("get", rc);
		if ((rc = sutra_neighbors(db, &ids[i], SUTRA_DIR_BOTH, SUTRA_TYPE_ANY, nb, 8,
		                          &total)) < 0)
			return fail("neighbors", rc);
		sutra_id_format(&ids[i], hex);
		printf("%s  \"%s\"  strength %.2f  neighbours %zu\n", hex, c->content,
		       (double)c->strength, total);
		sutra_concept_free(c);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = "data";
	sutra_options o;
	sutra_stats st;
	sutra_db *db;
	sutra_id ids[3];
	int rc;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf(
		    "usage: sutra-demo [DIR]\nWrites three concepts and two associations into the "
		    "store in DIR (default ./data), reopens it and reads them back.\n");
		return 0;
	}
	if (argc > 1)
		dir = argv[1];
	sutra_options_init(&o);
	o.dimension = 8;
	if ((rc = sutra_open(dir, &o, &db)) < 0)
		return fail("open", rc);
	if (write_some(db, ids) || (rc = sutra_close(db)) < 0)
		return 1;
	if ((rc = sutra_open(dir, &o, &db)) < 0)
		return fail("reopen", rc);
	if (read_back(db, ids))
		return 1;
	sutra_stats_get(db, &st);
	printf("store %s: %" PRIu64 " concepts, %" PRIu64 " associations, recovered %" PRIu64
	       " WAL records in %" PRIu64 " us\n",
	       dir, st.concepts, st.associations, st.recovery_replayed, st.recovery_us);
	return sutra_close(db) < 0;
}
