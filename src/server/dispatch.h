/* dispatch.h - turning decoded requests into engine calls and replies.
 *
 * Reads run inline on the worker (they never wait for writers) and leave
 * their reply in the worker's scratch buffer. Writes are handed to the
 * engine with sutra_batch_commit_async, blocking calls (sync, checkpoint)
 * to the offload threads; both mark the connection in flight, and the reply
 * is built by dispatch_finish once the completion has reached the worker.
 */
#ifndef SUTRA_SERVER_DISPATCH_H
#define SUTRA_SERVER_DISPATCH_H

#include "server/server.h"

enum { DISPATCH_DONE = 0, DISPATCH_INFLIGHT = 1 };

/* Handles one request. DISPATCH_DONE: the reply is in out. DISPATCH_INFLIGHT:
 * the request was submitted; c->pend says how to reply. */
int dispatch_request(struct conn *c, const struct request *r, struct mpbuf *out);
/* Builds the reply of c's completed in-flight request (c->pend, c->done)
 * into out and releases c->pend. */
void dispatch_finish(struct conn *c, struct mpbuf *out);
/* Releases c->pend without replying (the connection is gone). */
void dispatch_pending_free(struct pending *p);

/* dispatch_write.c: the write requests. */
int dispatch_write(struct conn *c, const struct request *r, struct mpbuf *out);
void dispatch_write_finish(struct conn *c, struct mpbuf *out);

/* dispatch_ext.c: the extension reads (replies always named). */
int dispatch_ext(struct conn *c, const struct request *r, struct mpbuf *out);
/* The encoding of replies to requests of this kind on c. */
int dispatch_encoding(const struct conn *c, int kind);

/* offload.c: blocking engine calls on helper threads. */
int offload_start(struct server *s);
void offload_stop(void);
/* Runs sutra_sync (REQ_FLUSH, REQ_SYNC) or sutra_checkpoint (REQ_CHECKPOINT)
 * for c and posts the completion; 0 or -1 if it could not be queued. */
int offload_submit(struct conn *c, int kind);

#endif
