/* main.c - sutra-server: start-up, signals and shutdown.
 *
 * Start-up order: configuration (exit 2 when bad), SIGINT/SIGTERM blocked
 * in every thread (so the engine's and our threads inherit the mask and the
 * main thread alone takes them with sigwait), the listening socket (a busy
 * port fails before the store is touched), the store, the offload threads,
 * the workers. The main thread then only waits for a signal. Shutdown:
 * the workers stop accepting, read what each socket already holds and then
 * no more, answer the complete requests received (in-flight ones always;
 * buffered ones for a bounded time), flush the replies, then exit; the
 * offload threads drain; sutra_close
 * makes every write durable. Exit 0 after a clean shutdown, 1 on a runtime
 * failure (port, store), 2 on a bad configuration.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "server/dispatch.h"
#include "server/log.h"
#include "server/server.h"

static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Room for max_connections sockets plus the store's files. */
static void raise_fd_limit(const struct config *cfg)
{
	rlim_t need = (rlim_t)cfg->max_connections + 256;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need)
		log_warn("max_connections = %u needs about %llu open files but the limit is %llu; "
		         "connections beyond it will be refused",
		         cfg->max_connections, (unsigned long long)need,
		         (unsigned long long)rl.rlim_cur);
}

static void init_limits(struct server *s)
{
	proto_limits_default(&s->limits);
	/* A store configured below the wire limit reports its own maximum. */
	if (s->cfg.engine.max_content_bytes < s->limits.max_content)
		s->limits.max_content = s->cfg.engine.max_content_bytes;
}

static int open_store(struct server *s)
{
	sutra_stats st;

	if (sutra_open(s->cfg.data_dir, &s->cfg.engine, &s->db) < 0) {
		log_error("cannot open the store in %s: %s", s->cfg.data_dir, sutra_last_error());
		return -1;
	}
	if (sutra_stats_get(s->db, &st) == 0)
		log_info("store open: %llu concepts, %llu associations, %llu vectors; recovery "
		         "replayed %llu records in %llu ms",
		         (unsigned long long)st.concepts, (unsigned long long)st.associations,
		         (unsigned long long)st.vectors, (unsigned long long)st.recovery_replayed,
		         (unsigned long long)(st.recovery_us / 1000));
	return 0;
}

static void log_started(const struct server *s)
{
	char dir[PATH_MAX], durability[32];
	const char *enc = s->cfg.response_encoding == ENC_NAMED ? "named" : "compact";
	bool v6 = strchr(s->cfg.host, ':') != NULL;

	if (!realpath(s->cfg.data_dir, dir))
		snprintf(dir, sizeof dir, "%s", s->cfg.data_dir);
	config_durability_text(&s->cfg.engine, durability, sizeof durability);
	sutra_stats st;
	char layout[32] = "single log";
	if (sutra_stats_get(s->db, &st) == 0 && st.shards)
		snprintf(layout, sizeof layout, "%u shards", st.shards);
	log_info("sutra-server %s listening on %s%s%s:%u (data dir %s, %s, durability %s, "
	         "dimension %u, workers %u, response encoding %s, max connections %u, idle "
	         "timeout %u ms)",
	         SUTRA_VERSION_STRING, v6 ? "[" : "", s->cfg.host, v6 ? "]" : "", s->port, dir,
	         layout, durability, s->cfg.engine.dimension, s->nworkers, enc,
	         s->cfg.max_connections, s->cfg.idle_timeout_ms);
}

static void log_summary(const struct server *s, int close_rc)
{
	struct worker_stats t = {0};

	for (uint32_t i = 0; i < s->nworkers; i++) {
		const struct worker_stats *w = &s->workers[i].st;
		t.accepted += w->accepted;
		t.refused += w->refused;
		t.requests += w->requests;
		t.timeouts += w->timeouts;
		t.oversized += w->oversized;
	}
	log_info("shutdown complete after %llu s: %llu connections served (%llu refused, %llu "
	         "idle timeouts), %llu requests (%llu oversized frames); store closed %s%s",
	         (unsigned long long)((now_ns() - s->start_ns) / 1000000000ull),
	         (unsigned long long)t.accepted, (unsigned long long)t.refused,
	         (unsigned long long)t.timeouts, (unsigned long long)t.requests,
	         (unsigned long long)t.oversized,
	         close_rc == 0 ? "cleanly" : "after an earlier failure: ",
	         close_rc == 0 ? "" : sutra_strerror(close_rc));
}

static int wait_for_signal(const sigset_t *set)
{
	int sig = 0;

	while (sigwait(set, &sig) != 0)
		;
	return sig;
}

static int serve(struct server *s, const sigset_t *set)
{
	if (offload_start(s) < 0 || workers_start(s) < 0)
		return -1;
	log_started(s);
	int sig = wait_for_signal(set);
	log_info("received %s: stopping (finishing in-flight requests)",
	         sig == SIGINT ? "SIGINT" : "SIGTERM");
	return 0;
}

int main(int argc, char **argv)
{
	static struct server s;
	sigset_t set;
	int rc;

	switch (config_load(&s.cfg, argc, argv)) {
	case CONFIG_EXIT:
		return 0;
	case CONFIG_BAD:
		return 2;
	}
	log_set_level(s.cfg.log_level);
	config_log_notes(&s.cfg);
	block_signals(&set);
	raise_fd_limit(&s.cfg);
	init_limits(&s);
	s.listen_fd = -1;
	if (net_listen(&s) < 0)
		return 1;
	if (open_store(&s) < 0) {
		close(s.listen_fd);
		return 1;
	}
	if (testhook_arm() < 0) {
		sutra_close(s.db);
		close(s.listen_fd);
		return 2;
	}
	s.start_ns = now_ns();
	rc = serve(&s, &set);
	workers_stop(&s);
	workers_join(&s);
	offload_stop();
	int close_rc = sutra_close(s.db);
	if (rc == 0)
		log_summary(&s, close_rc);
	else
		log_error("start-up failed; store closed");
	workers_free(&s);
	close(s.listen_fd);
	return rc == 0 && close_rc == 0 ? 0 : 1;
}
