#include "port-pipe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int pipe_open(struct port *p, const struct port_args *a)
{
	struct pipe_priv *pp = port_priv(p);
	pp->frames = calloc(PIPE_KEEP, sizeof(*pp->frames));
	if (!pp->frames)
		return -ENOMEM;
	pp->capacity = ~0u;
	port_set_state(p, PORT_UP);
	return 0;
}

static void pipe_close(struct port *p)
{
	struct pipe_priv *pp = port_priv(p);
	free(pp->frames);
	pp->frames = NULL;
}

static void pipe_tx_burst(struct port *p, struct pkt **pkts, unsigned n)
{
	struct pipe_priv *pp = port_priv(p);
	for (unsigned i = 0; i < n; i++) {
		struct pkt *k = pkts[i];
		if (pp->total >= pp->capacity) {
			port_tx_drop(p, TX_DROP_QUEUE_FULL);
		} else {
			if (pp->n < PIPE_KEEP) {
				struct pipe_frame *f = &pp->frames[pp->n++];
				f->len = k->len;
				f->off = k->off;
				memcpy(f->data, k->data, k->len);
			}
			pp->total++;
			port_tx_ok(p, k->len);
		}
		pkt_free(k);
	}
}

const struct port_ops port_pipe_ops = {
	.type = "pipe",
	.priv_size = sizeof(struct pipe_priv),
	.open = pipe_open,
	.close = pipe_close,
	.tx_burst = pipe_tx_burst,
};

int pipe_inject(struct port *p, const void *frame, uint32_t len)
{
	struct pkt *k = pkt_alloc(len);
	if (!k)
		return -ENOMEM;
	memcpy(k->data, frame, len);
	k->len = len;
	port_input(p, &k, 1);
	return 0;
}

void pipe_clear(struct port *p)
{
	struct pipe_priv *pp = port_priv(p);
	pp->n = 0;
	pp->total = 0;
}
