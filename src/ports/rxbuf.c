#include "rxbuf.h"

#include <stdlib.h>
#include <string.h>

static uint8_t *spill[PKT_BURST];

struct pkt *rxbuf_prepare(unsigned slot, struct iovec iov[2])
{
	if (!spill[slot]) {
		/* Untouched pages of the spill cost nothing until a large frame
		 * arrives. */
		spill[slot] = malloc(RXBUF_SPILL);
		if (!spill[slot])
			return NULL;
	}
	struct pkt *p = pkt_alloc(0);
	if (!p)
		return NULL;
	iov[0].iov_base = p->data;
	iov[0].iov_len = pkt_tailroom(p);
	iov[1].iov_base = spill[slot];
	iov[1].iov_len = RXBUF_SPILL;
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
	struct pkt *big = pkt_alloc((uint32_t)n);
	if (!big) {
		pkt_free(p);
		return NULL;
	}
	memcpy(big->data, p->data, small);
	memcpy(big->data + small, spill[slot], n - small);
	big->len = (uint32_t)n;
	big->off = p->off;
	pkt_free(p);
	return big;
}
