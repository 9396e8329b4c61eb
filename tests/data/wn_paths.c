/* wn_paths - the engine's side of the WordNet acceptance test: opens a store
 * that sutra-import loaded from wordnet2jsonl's output, prints its counts,
 * then reads synset id texts ("wn30:n:02084071"), one per line, and prints
 * for each the number of hops of the shortest hypernym chain to entity
 * (wn30:n:00001740): sutra_find_path_ex over hierarchical associations in
 * direction out (synset -> hypernym), at most 20 edges.
 *
 * Output: "stats CONCEPTS ASSOCIATIONS", then "KEY HOPS" per input line, or
 * "KEY none MESSAGE" when there is no such path (the test compares these
 * with what Debian's wn prints). Usage: wn_paths STORE_DIR < keys
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/checkpoint.h" /* manifest_read: the store's dimension */
#include "sutra/sutra.h"

#define ENTITY "wn30:n:00001740"

static int open_store(const char *dir, sutra_db **db)
{
	struct manifest m;
	sutra_options o;

	sutra_options_init(&o);
	o.create_if_missing = 0;
	o.vector_index = 0;
	if (manifest_read(dir, &m) < 0) {
		fprintf(stderr, "wn_paths: %s: no store here\n", dir);
		return -1;
	}
	o.dimension = m.dimension;
	if (sutra_open(dir, &o, db) < 0) {
		fprintf(stderr, "wn_paths: %s: %s\n", dir, sutra_last_error());
		return -1;
	}
	return 0;
}

static void one_path(sutra_db *db, const char *key, const sutra_id *entity)
{
	sutra_id from, path[SUTRA_MAX_PATH_DEPTH + 1];
	sutra_graph_query q;
	size_t len = 0;

	sutra_id_parse(key, strlen(key), &from);
	sutra_graph_query_init(&q);
	q.type = SUTRA_ASSOC_HIERARCHICAL;
	q.direction = SUTRA_DIR_OUT;
	q.max_depth = SUTRA_MAX_PATH_DEPTH;
	if (sutra_find_path_ex(db, &from, entity, &q, path, &len) == 0 && len > 0)
		printf("%s %zu\n", key, len - 1);
	else
		printf("%s none %s\n", key, sutra_last_error());
}

int main(int argc, char **argv)
{
	char line[256];
	sutra_id entity;
	sutra_stats st;
	sutra_db *db;

	if (argc != 2 || strcmp(argv[1], "--help") == 0) {
		fprintf(argc == 2 ? stdout : stderr, "usage: wn_paths STORE_DIR < synset-keys\n");
		return argc == 2 ? 0 : 2;
	}
	if (open_store(argv[1], &db) < 0)
		return 1;
	if (sutra_stats_get(db, &st) < 0) {
		fprintf(stderr, "wn_paths: stats: %s\n", sutra_last_error());
		sutra_close(db);
		return 1;
	}
	printf("stats %" PRIu64 " %" PRIu64 "\n", st.concepts, st.associations);
	sutra_id_parse(ENTITY, strlen(ENTITY), &entity);
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\r\n")] = 0;
		if (line[0])
			one_path(db, line, &entity);
	}
	return sutra_close(db) < 0 ? 1 : 0;
}
