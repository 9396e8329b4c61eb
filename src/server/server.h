/* server.h - the server's shared state: the server, its worker threads and
 * their connections, and the functions that pass work between them.
 *
 * Threads: N workers, each an epoll loop owning its connections outright
 * (nothing about a connection is touched by another thread, except the
 * completion slot below); worker 0 also owns the listening socket and hands
 * accepted sockets round-robin to the workers' inboxes. Engine commit
 * callbacks and offload threads finish a connection's in-flight request by
 * filling its completion slot and posting the connection to its worker's
 * inbox (a mutex-protected list plus an eventfd wake-up). A connection has
 * at most one request in flight, so one slot per connection is enough and
 * the callback never allocates.
 */
#ifndef SUTRA_SERVER_SERVER_H
#define SUTRA_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/proto.h"
#include "server/config.h"
#include "sutra/sutra.h"

struct worker;

/* A growable byte buffer: bytes [off, len) are pending. */
struct bbuf {
	uint8_t *p;
	size_t off, len, cap;
};

/* What the reply to an in-flight write needs once the engine is done; the
 * frame (and the decoded request borrowing it) is gone by then. */
struct pending {
	int kind; /* enum req_kind */
	int enc;  /* encoding of the reply */
	uint32_t count;
	uint64_t hash;    /* LearnConceptV2: the content hash */
	uint64_t *hashes; /* LearnBatch: count content hashes, owned */
	sutra_id *ids;    /* LearnConcepts: count ids, owned */
};

/* Filled by the thread that finishes the in-flight request. */
struct completion {
	int rc;
	uint64_t value; /* lsn, or the durable/checkpoint lsn of Sync/Checkpoint */
	char msg[512];
};

struct conn {
	int fd; /* -1 once closed while a request was in flight */
	struct worker *w;
	struct conn *prev, *next; /* the worker's live list, oldest activity first */
	struct conn *ready_next;  /* the worker's ready list */
	struct conn *done_next;   /* the worker's inbox */
	struct conn *gone_next;   /* the worker's graveyard */
	bool in_ready;
	bool buried;
	bool inflight;
	bool peer_eof;      /* the peer shut its side: finish what was received, then close */
	bool dead;          /* closed; freed when the in-flight request completes */
	int enc;            /* enum proto_encoding of standard replies */
	uint32_t events;    /* current epoll interest */
	uint64_t active_ns; /* last complete request (or connect) */
	uint64_t discard;   /* payload bytes of an oversized frame still to skip */
	struct bbuf in, out;
	struct pending pend;
	struct completion done;
	sutra_batch *batch; /* reused by this connection's writes */
	uint64_t id;        /* for logs */
};

struct server {
	struct config cfg;
	sutra_db *db;
	struct proto_limits limits;
	uint64_t start_ns; /* monotonic */
	int listen_fd;
	uint16_t port; /* the bound port */
	struct worker *workers;
	uint32_t nworkers;           /* set up */
	uint32_t nthreads;           /* running */
	atomic_uint_fast32_t rr;     /* round-robin cursor for new connections */
	atomic_uint_fast32_t nconns; /* open connections, all workers */
	atomic_uint_fast64_t next_conn_id;
	atomic_bool stopping;
	atomic_bool warned_embedding, warned_extract, warned_readonly;
};

struct worker_stats {
	uint64_t accepted, closed, refused, requests, timeouts, oversized;
};

struct worker {
	struct server *srv;
	uint32_t index;
	pthread_t thread;
	int epfd, evfd;
	/* inbox, shared with other threads */
	pthread_mutex_t lock;
	struct conn *done_head, *done_tail;
	int *new_fds;
	size_t n_new, cap_new;
	/* owned by the worker thread */
	struct conn *live_head, *live_tail;
	struct conn *ready_head, *ready_tail;
	struct conn *graveyard; /* closed, freed at the end of the turn */
	uint32_t inflight;
	uint64_t accept_paused_until; /* EMFILE back-off, monotonic ns */
	int held_fd;                  /* a connection waiting for a slot at the cap, or -1 */
	uint64_t held_until;
	bool cap_full; /* a grace ran out: refuse at once until one is admitted */
	bool listening;
	struct mpbuf resp;  /* scratch response payload */
	struct arena arena; /* decoding scratch */
	uint8_t *discard_buf;
	void *scratch; /* dispatch scratch (neighbours etc.) */
	size_t scratch_cap;
	struct worker_stats st;
};

uint64_t now_ns(void);

/* worker.c */
int workers_start(struct server *s);
void workers_stop(struct server *s); /* wakes every worker; they drain and exit */
void workers_join(struct server *s);
void workers_free(struct server *s);
/* Queues a new socket for w (the acceptor's hand-off); -1 if out of memory. */
int worker_post_fd(struct worker *w, int fd);
/* Called from any thread once c->done is filled. Never blocks for long. */
void worker_post_done(struct conn *c);
void worker_ready(struct worker *w, struct conn *c);
void worker_touch(struct worker *w, struct conn *c);
/* Frees a closed connection at the end of the turn, once unreferenced. */
void worker_bury(struct worker *w, struct conn *c);

/* net.c */
int net_listen(struct server *s);
/* Accepts what is pending on the listening socket (worker 0). */
void net_accept(struct worker *w);
/* Once per turn: settles a connection held at the cap, resumes accepting
 * after a back-off. */
void net_tick(struct worker *w, uint64_t now);
/* Stops accepting for good (shutdown). */
void net_stop(struct worker *w);

/* testhook.c: arms SUTRA_TEST_FAULT after the store is open; -1 if malformed. */
int testhook_arm(void);

/* conn.c */
struct conn *conn_new(struct worker *w, int fd);
void conn_on_event(struct conn *c, uint32_t events);
/* Processes buffered frames, flushes, and updates the epoll interest. */
void conn_run(struct conn *c);
/* Finishes the in-flight request after the completion arrived. */
void conn_complete(struct conn *c);
void conn_close(struct conn *c, const char *why);
void conn_free(struct conn *c);
/* Appends a framed reply (4-byte length + payload) to the output. */
int conn_reply(struct conn *c, const struct mpbuf *payload);
bool conn_has_output(const struct conn *c);

#endif
