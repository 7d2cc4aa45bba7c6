#include "port.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offload.h"
#include "util.h"
#include "sw.h"

const char *const port_rx_drop_names[RX_DROP_MAX] = {
	[RX_DROP_RUNT] = "runt",
	[RX_DROP_OVERSIZE] = "oversize",
	[RX_DROP_BAD_SRC] = "bad_src",
	[RX_DROP_MALFORMED] = "malformed",
	[RX_DROP_NOBUF] = "nobuf",
	[RX_DROP_OVERRUN] = "overrun",
	[RX_DROP_DOWN] = "down",
};

const char *const port_tx_drop_names[TX_DROP_MAX] = {
	[TX_DROP_QUEUE_FULL] = "queue_full",
	[TX_DROP_LINK_DOWN] = "link_down",
	[TX_DROP_ERROR] = "error",
	[TX_DROP_OFFLOAD] = "offload",
};

const char *port_state_name(enum port_state s)
{
	switch (s) {
	case PORT_UP:
		return "up";
	case PORT_CONNECTING:
		return "connecting";
	default:
		return "down";
	}
}

uint64_t port_rx_dropped(const struct port *p)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < RX_DROP_MAX; i++)
		n += p->stats.rx_drop[i];
	return n;
}

uint64_t port_tx_dropped(const struct port *p)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < TX_DROP_MAX; i++)
		n += p->stats.tx_drop[i];
	return n;
}

struct port *port_new(const struct port_ops *ops, const char *name, struct loop *loop)
{
	struct port *p = calloc(1, sizeof(*p) + ops->priv_size);
	if (!p)
		return NULL;
	p->ops = ops;
	p->loop = loop;
	p->state = PORT_DOWN;
	snprintf(p->name, sizeof(p->name), "%s", name);
	return p;
}

void port_free(struct port *p)
{
	free(p);
}

void port_input(struct port *p, struct pkt **pkts, unsigned n)
{
	sw_input(p->sw, p, pkts, n);
}

void port_set_state(struct port *p, enum port_state s)
{
	enum port_state old = p->state;
	if (old == s)
		return;
	p->state = s;
	if (p->sw) {
		sw_flood_update(p->sw, p);
		if (s != PORT_UP)
			fdb_flush(p->sw->fdb, p->idx);
	}
	if (p->on_state)
		p->on_state(p, old);
}

static unsigned gso_offload_bit(uint8_t gso_type)
{
	switch (gso_type & ~PKT_GSO_ECN) {
	case PKT_GSO_TCPV4:
		return PORT_OFF_TSO4 | ((gso_type & PKT_GSO_ECN) ? PORT_OFF_TSO_ECN : 0);
	case PKT_GSO_TCPV6:
		return PORT_OFF_TSO6 | ((gso_type & PKT_GSO_ECN) ? PORT_OFF_TSO_ECN : 0);
	case PKT_GSO_UDP_L4:
		return PORT_OFF_USO;
	default:
		return ~0u; /* never supported */
	}
}

/* Collects packets for the backend and hands them over PKT_BURST at a time. */
struct out_run {
	struct port *port;
	unsigned n;
	struct pkt *pkts[PKT_BURST];
};

static void run_push(struct out_run *r, struct pkt *p)
{
	r->pkts[r->n++] = p;
	if (r->n == PKT_BURST) {
		r->port->ops->tx_burst(r->port, r->pkts, r->n);
		r->n = 0;
	}
}

#define SEG_MAX 128 /* 64 KiB at an MSS of 512 */

void port_output(struct port *p, struct pkt **pkts, unsigned n, bool plain)
{
	if (p->state != PORT_UP) {
		for (unsigned i = 0; i < n; i++) {
			port_tx_drop(p, TX_DROP_LINK_DOWN);
			pkt_free(pkts[i]);
		}
		return;
	}
	/* Usually no frame needs work the peer cannot do: hand the burst over
	 * as it is. */
	unsigned i = plain ? n : 0;
	for (; i < n; i++) {
		const struct pkt_offload *o = &pkts[i]->off;
		if (unlikely(o->gso_type != PKT_GSO_NONE || (o->flags & PKT_OFF_F_NEEDS_CSUM)))
			break;
	}
	if (likely(i == n)) {
		p->ops->tx_burst(p, pkts, n);
		return;
	}
	struct out_run run = { .port = p };
	for (i = 0; i < n; i++) {
		struct pkt *pk = pkts[i];
		if (pk->off.gso_type != PKT_GSO_NONE) {
			unsigned need = gso_offload_bit(pk->off.gso_type);
			if ((p->tx_offloads & need) != need) {
				struct pkt *segs[SEG_MAX];
				int k = offload_segment(pk, segs, SEG_MAX);
				pkt_free(pk);
				if (k < 0) {
					port_tx_drop(p, TX_DROP_OFFLOAD);
					continue;
				}
				for (int j = 0; j < k; j++)
					run_push(&run, segs[j]);
				continue;
			}
		} else if ((pk->off.flags & PKT_OFF_F_NEEDS_CSUM) && !(p->tx_offloads & PORT_OFF_CSUM)) {
			if (offload_csum_complete(pk) < 0) {
				port_tx_drop(p, TX_DROP_OFFLOAD);
				pkt_free(pk);
				continue;
			}
		}
		run_push(&run, pk);
	}
	if (run.n)
		p->ops->tx_burst(p, run.pkts, run.n);
}
