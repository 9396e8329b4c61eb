/* sutra-import - loads concepts and associations from JSON Lines into a
 * store directory (through the library) or a running sutra-server
 * (LearnConcepts / LearnAssociations).
 *
 * The input is streamed through a pipeline (tools/jsonl/pipeline.c): a
 * reader thread cuts it into blocks of lines, one parser thread per CPU
 * parses and checks them (tools/jsonl/recfast.c, with record.c as the
 * reference for anything unusual and for every error message), and this
 * thread takes the records back in input order, moves them into a batch
 * and commits a full batch atomically (tools/jsonl/loader.c). Queues are
 * bounded, so an input of any size needs the memory of one batch and a few
 * blocks. Re-importing is an update:
 * learning an existing id replaces the concept and keeps its associations,
 * an existing association gets the new confidence. An association must
 * come after the concepts it names (the engine refuses an association to
 * a missing concept); --two-pass reads each file twice, concepts first,
 * for inputs that are not ordered that way.
 *
 * Every problem is reported as FILE:LINE: message (naming the field and,
 * for a limit, the value and the limit) and counted; the import goes on
 * with the next record until --max-errors, then prints a summary line and
 * exits 1 if anything failed. Exit status: 0 all loaded, 1 errors, 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client.h"
#include "jsonl/loader.h"
#include "jsonl/pipeline.h"
#include "jsonl/progress.h"
#include "jsonl/record.h"
#include "jsonl/sink.h"

#define EXIT_ERRORS 1
#define EXIT_USAGE  2
#define MAX_KV      64

struct opts {
	const char *dir, *host;
	unsigned port;
	bool server;
	const char *dimension, *durability;
	const char *engine_kv[MAX_KV];
	size_t n_kv;
	size_t batch, max_line;
	unsigned threads;   /* parser threads */
	size_t block_bytes; /* test hook: SUTRA_IMPORT_TEST_BLOCK_BYTES */
	uint64_t max_errors;
	bool two_pass, checkpoint;
	int progress; /* -1: when stderr is a terminal */
	char **inputs;
	int n_inputs;
};

static void usage(FILE *f)
{
	fputs("usage: sutra-import [options] FILE...    (FILE '-' reads standard input)\n"
	      "\n"
	      "Loads concepts and associations, one JSON object per line, into a store\n"
	      "directory or a running sutra-server. Re-importing updates: a concept with an\n"
	      "existing id is replaced (its associations kept), an association is upserted.\n"
	      "\n"
	      "  {\"id\": \"...\", \"content\": \"...\", \"vector\": [..], \"strength\": 1.0,\n"
	      "   \"confidence\": 1.0, \"metadata\": {\"k\": \"v\"}}           a concept (id "
	      "required)\n"
	      "  {\"source\": \"...\", \"target\": \"...\", \"type\": \"hierarchical\",\n"
	      "   \"confidence\": 0.9}                                  an association\n"
	      "\n"
	      "Ids: 32 hex characters (shorter hex is zero-padded, other text is hashed).\n"
	      "Types: semantic (default), causal, temporal, hierarchical, compositional, or 0..4.\n"
	      "Associations must come after the concepts they name, or use --two-pass.\n"
	      "\n"
	      "Destination (one of):\n"
	      "  --dir PATH            a store directory (created if missing; not open elsewhere)\n"
	      "    --dimension N       vector dimension of a new store (default: the store's,\n"
	      "                        else 768)\n"
	      "    --durability MODE   always (default) | interval:MS | none\n"
	      "    --engine-opt K=V    any engine option (see sutra.h), e.g. max_meta_bytes=1M\n"
	      "    --no-checkpoint     do not write a checkpoint at the end\n"
	      "  --host HOST, --port N a running sutra-server (default 127.0.0.1:50051)\n"
	      "\n"
	      "Options:\n"
	      "  --batch N             records per atomic batch, 1..1000000 (default 1000;\n"
	      "                        a server caps it at its max_batch_items, 1000)\n"
	      "  --two-pass            read each file twice: concepts, then associations\n"
	      "                        (files only, not standard input)\n"
	      "  --max-errors N        stop after N errors, 0 = never (default 100)\n"
	      "  --max-line-bytes N    longest line read, 64..100663296 (default 96 MiB)\n"
	      "  --threads N           parser threads, 1..64 (default: one per online CPU)\n"
	      "  --progress            show progress on stderr even when it is not a terminal\n"
	      "  --no-progress         never show progress\n"
	      "  -h, --help            this text\n"
	      "\n"
	      "Errors are printed as FILE:LINE: message. Exit status: 0 everything loaded,\n"
	      "1 some records failed (a summary line says how many), 2 usage error.\n"
	      "Format, limits and examples: docs/IMPORT.md.\n",
	      f);
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* One option with its value; false (after a message) when it is bad. */
static bool option_value(struct opts *o, const char *name, const char *val)
{
	uint64_t u;

	if (strcmp(name, "--dir") == 0)
		o->dir = val;
	else if (strcmp(name, "--host") == 0)
		o->host = val, o->server = true;
	else if (strcmp(name, "--port") == 0 && parse_u64(val, 1, 65535, &u))
		o->port = (unsigned)u, o->server = true;
	else if (strcmp(name, "--dimension") == 0)
		o->dimension = val;
	else if (strcmp(name, "--durability") == 0)
		o->durability = val;
	else if (strcmp(name, "--engine-opt") == 0 && o->n_kv < MAX_KV)
		o->engine_kv[o->n_kv++] = val;
	else if (strcmp(name, "--batch") == 0 && parse_u64(val, 1, 1000000, &u))
		o->batch = (size_t)u;
	else if (strcmp(name, "--max-errors") == 0 && parse_u64(val, 0, UINT64_MAX, &u))
		o->max_errors = u;
	else if (strcmp(name, "--max-line-bytes") == 0 && parse_u64(val, 64, REC_MAX_LINE, &u))
		o->max_line = (size_t)u;
	else if (strcmp(name, "--threads") == 0 && parse_u64(val, 1, PL_MAX_THREADS, &u))
		o->threads = (unsigned)u;
	else {
		fprintf(stderr, "sutra-import: bad value for %s: '%s'%s\n", name, val,
		        strcmp(name, "--batch") == 0            ? " (allowed 1..1000000)"
		        : strcmp(name, "--port") == 0           ? " (allowed 1..65535)"
		        : strcmp(name, "--engine-opt") == 0     ? " (at most 64 of them)"
		        : strcmp(name, "--max-line-bytes") == 0 ? " (allowed 64..100663296)"
		        : strcmp(name, "--threads") == 0        ? " (allowed 1..64)"
		                                                : "");
		return false;
	}
	return true;
}

static bool is_flag(struct opts *o, const char *a)
{
	if (strcmp(a, "--two-pass") == 0)
		o->two_pass = true;
	else if (strcmp(a, "--no-checkpoint") == 0)
		o->checkpoint = false;
	else if (strcmp(a, "--progress") == 0)
		o->progress = 1;
	else if (strcmp(a, "--no-progress") == 0)
		o->progress = 0;
	else
		return false;
	return true;
}

static bool takes_value(const char *a)
{
	static const char *const names[] = {"--dir",
	                                    "--host",
	                                    "--port",
	                                    "--dimension",
	                                    "--durability",
	                                    "--engine-opt",
	                                    "--batch",
	                                    "--max-errors",
	                                    "--max-line-bytes",
	                                    "--threads",
	                                    NULL};

	for (size_t i = 0; names[i]; i++)
		if (strcmp(a, names[i]) == 0)
			return true;
	return false;
}

/* Options and files in any order ("--" ends the options; "-" is standard
 * input). The files are gathered at the front of argv. Returns 0, 1 after
 * --help, or -1 after a usage message. */
static int parse_args(struct opts *o, int argc, char **argv)
{
	bool options = true;

	o->inputs = argv + 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!options || a[0] != '-' || a[1] == 0) {
			o->inputs[o->n_inputs++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			options = false;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 1;
		}
		if (is_flag(o, a))
			continue;
		if (!takes_value(a) || i + 1 >= argc) {
			fprintf(stderr, "sutra-import: %s '%s' (see --help)\n",
			        takes_value(a) ? "missing value for" : "unknown option", a);
			return -1;
		}
		if (!option_value(o, a, argv[++i]))
			return -1;
	}
	return 0;
}

/* Defaults that depend on the machine, and the test hook: blocks of
 * SUTRA_IMPORT_TEST_BLOCK_BYTES bytes (1..2^30) instead of 512 KiB, so that
 * a small input spreads over many blocks and parser threads. */
static int machine_defaults(struct opts *o)
{
	const char *hook = getenv("SUTRA_IMPORT_TEST_BLOCK_BYTES");
	uint64_t u;

	if (o->threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		o->threads = n < 1 ? 1 : n > PL_MAX_THREADS ? PL_MAX_THREADS : (unsigned)n;
	}
	if (hook && *hook) {
		if (!parse_u64(hook, 1, 1u << 30, &u)) {
			fprintf(stderr,
			        "sutra-import: bad value for SUTRA_IMPORT_TEST_BLOCK_BYTES: '%s' "
			        "(allowed 1..1073741824)\n",
			        hook);
			return -1;
		}
		o->block_bytes = (size_t)u;
	}
	return 0;
}

static int check_args(const struct opts *o)
{
	const char *why = NULL;

	if (o->n_inputs == 0)
		why = "no input files (give FILE..., or - for standard input)";
	else if (!o->dir && !o->server)
		why = "no destination: give --dir PATH or --host/--port";
	else if (o->dir && o->server)
		why = "--dir and --host/--port exclude each other";
	else if (o->server && (o->dimension || o->durability || o->n_kv || !o->checkpoint))
		why = "--dimension, --durability, --engine-opt and --no-checkpoint apply to --dir "
		      "only";
	for (int i = 0; !why && o->two_pass && i < o->n_inputs; i++)
		if (strcmp(o->inputs[i], "-") == 0)
			why = "--two-pass reads each file twice; standard input can be read only "
			      "once";
	if (why)
		fprintf(stderr, "sutra-import: %s\n", why);
	return why ? -1 : 0;
}

/* Bytes the whole import will read, 0 when unknown (a pipe, stdin). */
static uint64_t input_bytes(const struct opts *o)
{
	uint64_t total = 0;
	struct stat st;

	for (int i = 0; i < o->n_inputs; i++) {
		if (strcmp(o->inputs[i], "-") == 0 || stat(o->inputs[i], &st) != 0 ||
		    !S_ISREG(st.st_mode))
			return 0;
		total += (uint64_t)st.st_size * (o->two_pass ? 2 : 1);
	}
	return total;
}

struct run {
	struct opts *o;
	struct loader ld;
	struct progress pg;
	struct rec_limits lim;
	struct pipeline *pl;
	uint64_t records;
};

/* One pass over the inputs. want: 0 any kind, else only records of that
 * kind (two-pass). Items come back in input order: an error is reported,
 * a record goes into the batch. */
static void import_pass(struct run *ru, int want)
{
	struct pl_item *it;

	if (pl_start(ru->pl, ru->o->inputs, ru->o->n_inputs, want) < 0) {
		ld_error(&ru->ld, "sutra-import", 0, "cannot start the reader and parser threads");
		ru->ld.fatal = ru->ld.stop = true;
		return;
	}
	while (!ru->ld.stop && pl_next(ru->pl, &it)) {
		if (it->err) {
			ld_error(&ru->ld, it->file, it->line, "%s", it->err);
		} else {
			ru->records++;
			ld_add(&ru->ld, &it->r);
		}
		progress_update(&ru->pg, pl_bytes(ru->pl), ru->records);
	}
	pl_end(ru->pl);
	progress_update(&ru->pg, pl_bytes(ru->pl), ru->records);
}

static int open_sink(const struct opts *o, struct sink **s)
{
	char msg[1024];
	int rc;

	if (o->server) {
		struct sink_server_config c = {
		    .host = o->host, .port = o->port, .timeout_ms = 60000, .batch = o->batch};
		rc = sink_server_open(&c, s, msg, sizeof msg);
	} else {
		struct sink_dir_config c = {.dir = o->dir,
		                            .durability = o->durability,
		                            .dimension = o->dimension,
		                            .engine_kv = o->engine_kv,
		                            .n_engine_kv = o->n_kv,
		                            .batch = o->batch,
		                            .checkpoint = o->checkpoint};
		rc = sink_dir_open(&c, s, msg, sizeof msg);
	}
	if (rc < 0)
		fprintf(stderr, "sutra-import: %s\n", msg);
	return rc;
}

static void summary(struct run *ru, const struct sink *s)
{
	double el = progress_elapsed(&ru->pg);
	uint64_t done = ru->ld.concepts + ru->ld.assocs;

	fprintf(stderr,
	        "sutra-import: %" PRIu64 " concepts and %" PRIu64 " associations loaded into %s "
	        "in %.2f s (%.0f records/s); %" PRIu64 " error%s%s\n",
	        ru->ld.concepts, ru->ld.assocs, s->what, el, el > 0 ? (double)done / el : 0.0,
	        ru->ld.errors, ru->ld.errors == 1 ? "" : "s",
	        ru->ld.stop ? " (stopped early)" : "");
}

static void run_import(struct run *ru, struct sink *s)
{
	char msg[1024];
	struct opts *o = ru->o;

	for (int pass = 0; pass < (o->two_pass ? 2 : 1) && !ru->ld.stop; pass++) {
		import_pass(ru, !o->two_pass ? 0 : pass == 0 ? REC_CONCEPT : REC_ASSOC);
		ld_flush(&ru->ld);
	}
	progress_done(&ru->pg);
	if (!ru->ld.fatal && s->ops->finish(s, msg, sizeof msg) != SINK_OK)
		ld_error(&ru->ld, "sutra-import", 0, "%s: %s", s->what, msg);
}

int main(int argc, char **argv)
{
	struct opts o = {.host = "127.0.0.1",
	                 .port = SC_DEFAULT_PORT,
	                 .batch = 1000,
	                 .max_line = REC_MAX_LINE,
	                 .max_errors = 100,
	                 .checkpoint = true,
	                 .progress = -1};
	struct run ru = {.o = &o};
	struct sink *s;
	int rc = parse_args(&o, argc, argv);

	if (rc != 0)
		return rc > 0 ? 0 : EXIT_USAGE;
	if (check_args(&o) < 0 || machine_defaults(&o) < 0)
		return EXIT_USAGE;
	if (open_sink(&o, &s) < 0)
		return EXIT_ERRORS;
	ru.lim = s->limits;
	struct pl_config pc = {.lim = &ru.lim,
	                       .max_line = o.max_line,
	                       .threads = o.threads,
	                       .block_bytes = o.block_bytes};
	if (pl_new(&pc, &ru.pl) < 0) {
		fprintf(stderr, "sutra-import: out of memory\n");
		s->ops->free(s);
		return EXIT_ERRORS;
	}
	progress_init(&ru.pg, o.progress < 0 ? isatty(STDERR_FILENO) == 1 : o.progress == 1,
	              input_bytes(&o), true);
	ld_init(&ru.ld, s, o.max_errors, &ru.pg);
	run_import(&ru, s);
	summary(&ru, s);
	ld_free(&ru.ld); /* its records point into the pipeline's blocks: first */
	pl_free(ru.pl);
	s->ops->free(s);
	return ru.ld.errors ? EXIT_ERRORS : 0;
}
