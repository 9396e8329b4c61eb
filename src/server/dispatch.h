/* dispatch.h - turning decoded requests into engine calls and replies.
 *
 * Reads run inline on the worker (they never wait for writers) and leave
 * their reply in the worker's scratch buffer. Writes are handed to the
 * engine with sutra_batch_commit_async, blocking calls (sync, checkpoint)
 * to the offload threads; both use the slot the connection gives them
 * (c->cur), and the reply is built by dispatch_finish once the slot's
 * completion has reached the worker.
 */
#ifndef SUTRA_SERVER_DISPATCH_H
#define SUTRA_SERVER_DISPATCH_H

#include "server/server.h"

enum { DISPATCH_DONE = 0, DISPATCH_INFLIGHT = 1 };

/* How a request kind relates to the others in flight on its connection:
 * writes may be pipelined (they need c->cur); blocking calls need c->cur
 * and let nothing start until they end; reads (and everything else) run
 * only when nothing is in flight. */
enum { DISPATCH_READ = 0, DISPATCH_WRITE = 1, DISPATCH_BLOCKING = 2 };
int dispatch_class(int kind);

/* Handles one request. DISPATCH_DONE: the reply is in out (and c->cur, if
 * any, holds nothing). DISPATCH_INFLIGHT: the request was submitted with
 * the slot c->cur, whose pend says how to reply; the slot is posted to the
 * worker when done. */
int dispatch_request(struct conn *c, const struct request *r, struct mpbuf *out);
/* Builds the reply of the completed request of slot s (s->pend, s->done)
 * into out and releases s->pend (the slot keeps or frees its batch). */
void dispatch_finish(struct slot *s, struct mpbuf *out);
/* Releases what a pending reply owns. */
void dispatch_pending_free(struct pending *p);

/* dispatch.c, for both vector searches: the query's dimension must be the
 * store's (false once the Error is in out), and the VectorSearchOk reply. */
bool dispatch_query_dim_ok(const struct conn *c, uint32_t dim, int enc, struct mpbuf *out);
void dispatch_search_reply(struct mpbuf *out, int enc, const sutra_hit *hits, size_t n);

/* dispatch_write.c: the write requests. */
int dispatch_write(struct conn *c, const struct request *r, struct mpbuf *out);
void dispatch_write_finish(struct slot *s, struct mpbuf *out);

/* dispatch_graph.c: the graph query extensions (replies named). */
int dispatch_graph(struct conn *c, const struct request *r, struct mpbuf *out);

/* dispatch_ext.c: the extension reads (replies always named). */
int dispatch_ext(struct conn *c, const struct request *r, struct mpbuf *out);
/* The encoding of replies to requests of this kind on c. */
int dispatch_encoding(const struct conn *c, int kind);

/* offload.c: blocking engine calls on helper threads. */
int offload_start(struct server *s);
void offload_stop(void);
/* Runs sutra_sync (REQ_FLUSH, REQ_SYNC) or sutra_checkpoint (REQ_CHECKPOINT)
 * for slot s and posts the completion; 0 or -1 if it could not be queued. */
int offload_submit(struct slot *s, int kind);

#endif
