/* server.h - the server's shared state: the server, its worker threads and
 * their connections, and the functions that pass work between them.
 *
 * Threads: N workers, each an epoll loop owning its connections outright
 * (nothing about a connection is touched by another thread, except the
 * completion slots below); worker 0 also owns the listening socket and hands
 * accepted sockets round-robin to the workers' inboxes. Engine commit
 * callbacks and offload threads finish an in-flight request by filling its
 * completion slot and posting the slot to its worker's inbox (a
 * mutex-protected list plus an eventfd wake-up); the callback never
 * allocates.
 *
 * A connection may have up to max_inflight_per_connection requests in
 * flight (consecutive writes, pipelined); each has its own slot, queued in
 * request order, and replies leave strictly in that order (conn.c). Slots
 * are allocated one at a time as a connection's pipeline deepens (the first
 * is part of the connection), never move while in flight, and are reused.
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

/* Shutdown: buffered requests are still started, and replies flushed, for
 * this long after a worker sees the stop; in-flight requests are always
 * waited for. */
#define DRAIN_NS (5ull * 1000000000)

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
	uint64_t hash;     /* LearnConceptV2: the content hash */
	uint64_t *hashes;  /* LearnBatch: count content hashes, owned */
	sutra_id *ids;     /* LearnConcepts: count ids, owned */
	sutra_id src, dst; /* LearnAssociation: the endpoints (for its error) */
};

/* Filled by the thread that finishes the in-flight request. */
struct completion {
	int rc;
	uint64_t value; /* lsn, or the durable/checkpoint lsn of Sync/Checkpoint */
	char msg[512];
};

/* One request in flight on a connection, from its submission until its
 * reply has been written to the output. */
struct slot {
	struct conn *c;
	struct slot *next;      /* the connection's order queue, or its free list */
	struct slot *done_next; /* the worker's inbox, or the offload queue */
	sutra_batch *batch;     /* the write's batch, owned; the engine borrows it until
	                         * the completion */
	struct pending pend;
	struct completion done; /* filled by the finishing thread */
	bool complete;          /* the completion reached the worker (worker-owned) */
	bool embedded;          /* the connection's own first slot (not freed alone) */
	uint8_t *reply;         /* an answer given at submission, owned, sent in turn */
	size_t reply_len;
	uint32_t frame_bytes; /* the request's frame payload (counted in c->inflight_bytes) */
};

struct conn {
	int fd; /* -1 once closed while a request was in flight */
	struct worker *w;
	struct conn *prev, *next; /* the worker's live list, oldest activity first */
	struct conn *ready_next;  /* the worker's ready list */
	struct conn *gone_next;   /* the worker's graveyard */
	bool in_ready;
	bool buried;
	bool barrier;       /* the request in flight lets nothing start before it ends */
	bool head_waits;    /* the next request waits until nothing is in flight */
	bool input_done;    /* no more reading (shutdown): answer what is buffered */
	bool peer_eof;      /* the peer shut its side: finish what was received, then close */
	bool dead;          /* closed; freed once no slot is held by another thread */
	int enc;            /* enum proto_encoding of standard replies */
	uint32_t events;    /* current epoll interest */
	uint64_t active_ns; /* last complete request (or connect) */
	uint64_t discard;   /* payload bytes of an oversized frame still to skip */
	struct bbuf in, out;
	/* requests in flight, in request order: replies leave from the head */
	struct slot *q_head, *q_tail;
	uint32_t nq;             /* slots in the order queue */
	uint32_t outstanding;    /* of those, held by an engine/offload thread or the inbox */
	uint64_t inflight_bytes; /* frame bytes of the queued requests */
	uint32_t nslots;         /* slots allocated (the embedded one included) */
	struct slot *free_slots;
	struct slot *cur; /* the slot of the write being dispatched (dispatch_write) */
	struct slot first;
	uint64_t id; /* for logs */
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
	struct slot *done_head, *done_tail; /* completions */
	int *new_fds;
	size_t n_new, cap_new;
	/* owned by the worker thread */
	struct conn *live_head, *live_tail;
	struct conn *ready_head, *ready_tail;
	struct conn *graveyard;       /* closed, freed at the end of the turn */
	uint32_t inflight;            /* slots held by other threads or the inbox */
	uint64_t stop_ns;             /* when this worker saw the shutdown (0: not yet) */
	bool drain_read;              /* shutdown: the final read of every connection done */
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
/* Called from any thread once s->done is filled. Never blocks for long. */
void worker_post_done(struct slot *s);
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
/* Records that s's completion reached the worker (at now); its reply
 * leaves at c's next conn_run, once every earlier reply has. */
void conn_complete(struct slot *s, uint64_t now);
/* One shutdown step for c: the first reads what the socket holds, then no
 * more; buffered requests are answered (until the drain deadline), and c
 * is closed once nothing is in flight or waiting to be sent. */
void conn_drain(struct conn *c, bool first);
void conn_close(struct conn *c, const char *why);
void conn_free(struct conn *c);
/* Appends a framed reply (4-byte length + payload) to the output. */
int conn_reply(struct conn *c, const struct mpbuf *payload);
bool conn_has_output(const struct conn *c);

#endif
