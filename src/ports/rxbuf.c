#include "rxbuf.h"

#include <string.h>

/* One large packet per burst slot, kept in reserve: a frame too big for the
 * small packet runs on into the large one's buffer, right where it would
 * continue, so only the first part (at most a small buffer's worth) is moved,
 * never the 64 KiB of a segmentation-offload frame. */
static struct pkt *spare[PKT_BURST];

struct pkt *rxbuf_prepare(unsigned slot, struct iovec iov[2])
{
	if (!spare[slot] && !(spare[slot] = pkt_alloc(PKT_MAX_FRAME)))
		return NULL;
	struct pkt *p = pkt_alloc(0);
	if (!p)
		return NULL;
	uint32_t small = pkt_tailroom(p);
	iov[0].iov_base = p->data;
	iov[0].iov_len = small;
	iov[1].iov_base = spare[slot]->data + small;
	iov[1].iov_len = RXBUF_SPILL - small;
	return p;
}

struct pkt *rxbuf_finish(struct pkt *p, unsigned slot, size_t n)
{
	uint32_t small = pkt_tailroom(p);
	if (n <= small) {
		p->len = (uint32_t)n;
		return p;
	}
	if (n > PKT_MAX_FRAME) {
		pkt_free(p);
		return NULL;
	}
	struct pkt *big = spare[slot];
	spare[slot] = NULL; /* the next prepare takes a new one */
	memcpy(big->data, p->data, small);
	big->len = (uint32_t)n;
	big->off = p->off;
	pkt_free(p);
	return big;
}
