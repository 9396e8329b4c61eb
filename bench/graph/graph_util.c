/* graph_util.c - what the sections of sutra-bench-graph share: latency statistics, child
 * processes, the summary table, and loading Sutra through the batch API.
 *
 * The sections run in forked processes (bu_run_isolated), so the summary
 * table and the few figures one section hands to the next (the in-process
 * FindPath median, which the TCP section compares with) live in one
 * anonymous MAP_SHARED region created before the first fork. Rows are
 * appended by one process at a time (sections run one after the other),
 * so no locking is needed.
 *
 * Child programs (wordnet2jsonl, sutra-import) are run with fork + execv,
 * stdout and stderr into a log file, and timed from fork to exit with the
 * monotonic clock.
 */
#include "graph.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

/* ---- child processes -------------------------------------------------------------- */

static void child(char *const *argv, const char *log)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (fd < 0 || null < 0)
		_exit(126);
	dup2(null, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	execv(argv[0], argv);
	dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int gu_run(char *const *argv, const char *log, double *seconds)
{
	uint64_t t0 = bu_now_ns();
	int status;
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) < 0)
		return bu_err("fork: %s", strerror(errno));
	if (pid == 0)
		child(argv, log);
	if (waitpid(pid, &status, 0) < 0)
		return bu_err("waitpid: %s", strerror(errno));
	*seconds = (double)(bu_now_ns() - t0) / 1e9;
	if (WIFSIGNALED(status))
		return bu_err("%s killed by signal %d", argv[0], WTERMSIG(status));
	return WEXITSTATUS(status);
}

int gu_grep(const char *file, const char *needle, char *out, size_t n)
{
	FILE *f = fopen(file, "r");
	char line[1024];
	int rc = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, needle)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, n, "%s", line);
			rc = 0;
			break;
		}
	if (f)
		fclose(f);
	return rc;
}

/* ---- figures shared between forked sections -------------------------------------- */

#define GU_KEYS 16

struct shared {
	int nkeys;
	char key[GU_KEYS][32];
	double val[GU_KEYS];
};

static struct shared *sh;

void gu_shared_init(void)
{
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		sh = NULL;
	else
		memset(sh, 0, sizeof(*sh));
}

double gu_shared_get(const char *key)
{
	for (int i = 0; sh && i < sh->nkeys; i++)
		if (strcmp(sh->key[i], key) == 0)
			return sh->val[i];
	return -1;
}

void gu_shared_set(const char *key, double v)
{
	int i = 0;

	if (!sh)
		return;
	while (i < sh->nkeys && strcmp(sh->key[i], key) != 0)
		i++;
	if (i == GU_KEYS)
		return;
	if (i == sh->nkeys)
		snprintf(sh->key[sh->nkeys++], sizeof(sh->key[0]), "%s", key);
	sh->val[i] = v;
}

/* ---- Sutra through the batch API ---------------------------------------------------- */

int gu_sutra_open(const char *dir, int durability, sutra_db **db)
{
	sutra_options o;
	int rc;

	sutra_options_init(&o);
	o.durability = durability;
	rc = sutra_open(dir, &o, db);
	if (rc < 0)
		return bu_err("sutra_open %s: %s", dir, sutra_last_error());
	return 0;
}

static int commit(sutra_db *db, sutra_batch *b)
{
	int rc = sutra_batch_count(b) ? sutra_batch_commit(db, b, NULL) : 0;

	sutra_batch_clear(b);
	return rc < 0 ? bu_err("sutra_batch_commit: %s", sutra_last_error()) : 0;
}

static int add_concept(sutra_batch *b, const gb_concept *c)
{
	sutra_concept_in in = {.id = c->id,
	                       .content = c->content,
	                       .content_len = c->content_len,
	                       .strength = c->strength,
	                       .confidence = c->confidence,
	                       .meta = c->meta,
	                       .meta_count = c->meta_count};

	return sutra_batch_learn(b, &in) < 0 ? bu_err("sutra_batch_learn: %s", sutra_last_error())
	                                     : 0;
}

int gu_sutra_load(sutra_db *db, const gb_data *d)
{
	sutra_batch *b;
	int rc = 0;

	if (sutra_batch_new(&b) < 0)
		return bu_err("sutra_batch_new: %s", sutra_last_error());
	for (size_t i = 0; rc == 0 && i < d->nc; i++) {
		rc = add_concept(b, &d->c[i]);
		if (rc == 0 && sutra_batch_count(b) == GB_BATCH)
			rc = commit(db, b);
	}
	for (size_t i = 0; rc == 0 && i < d->na; i++) {
		const gb_assoc *a = &d->a[i];
		if (sutra_batch_associate(b, &d->c[a->src].id, &d->c[a->dst].id, a->type,
		                          a->confidence) < 0)
			rc = bu_err("sutra_batch_associate: %s", sutra_last_error());
		if (rc == 0 && sutra_batch_count(b) == GB_BATCH)
			rc = commit(db, b);
	}
	if (rc == 0)
		rc = commit(db, b);
	sutra_batch_free(b);
	return rc;
}
