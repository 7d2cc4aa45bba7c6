/* A test-double port: frames sent to it are kept in memory, and tests inject
 * frames with pipe_inject().  No sockets, no root: unit tests and fuzz
 * targets drive the forwarding core through it. */
#ifndef VS_PORT_PIPE_H
#define VS_PORT_PIPE_H

#include "port.h"

extern const struct port_ops port_pipe_ops;

#define PIPE_KEEP 64

struct pipe_frame {
	uint32_t len;
	struct pkt_offload off;
	uint8_t data[PKT_MAX_FRAME];
};

struct pipe_priv {
	unsigned n;		      /* frames kept (at most PIPE_KEEP) */
	unsigned total;		      /* frames ever sent to the port */
	unsigned capacity;	      /* accept at most this many, then queue_full */
	struct pipe_frame *frames;    /* PIPE_KEEP of them */
};

/* Copy a frame into a new packet and hand it to the switch as if `p` had
 * received it.  Returns 0, or -ENOMEM if the pool is empty. */
int pipe_inject(struct port *p, const void *frame, uint32_t len);
/* Forget the frames kept so far. */
void pipe_clear(struct port *p);

#endif
