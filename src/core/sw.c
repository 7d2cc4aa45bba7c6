#include "sw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth.h"
#include "offload.h"
#include "util.h"

const char *sw_type_name(enum sw_type t)
{
	switch (t) {
	case SW_EXTERNAL:
		return "external";
	case SW_INTERNAL:
		return "internal";
	default:
		return "private";
	}
}

int sw_type_parse(const char *s, enum sw_type *out)
{
	if (strcmp(s, "external") == 0)
		*out = SW_EXTERNAL;
	else if (strcmp(s, "internal") == 0)
		*out = SW_INTERNAL;
	else if (strcmp(s, "private") == 0)
		*out = SW_PRIVATE;
	else
		return -EINVAL;
	return 0;
}

struct sw *sw_new(const char *name, enum sw_type type, unsigned mtu, uint32_t max_macs,
		  uint32_t aging_s)
{
	struct sw *sw = calloc(1, sizeof(*sw));
	if (!sw)
		return NULL;
	snprintf(sw->name, sizeof(sw->name), "%s", name);
	sw->type = type;
	sw->mtu = mtu;
	sw->fdb = fdb_new(max_macs, aging_s);
	if (!sw->fdb) {
		free(sw);
		return NULL;
	}
	return sw;
}

void sw_free(struct sw *sw)
{
	if (!sw)
		return;
	fdb_free(sw->fdb);
	free(sw->ports);
	free(sw->flood);
	free(sw->dirty);
	free(sw);
}

static int grow_ports(struct sw *sw)
{
	unsigned cap = sw->nports_cap ? sw->nports_cap * 2 : 16;
	if (cap > SW_MAX_PORTS)
		cap = SW_MAX_PORTS;
	if (cap <= sw->nports_cap)
		return -ENOSPC;
	struct port **ports = realloc(sw->ports, cap * sizeof(*ports));
	if (!ports)
		return -ENOMEM;
	memset(ports + sw->nports_cap, 0, (cap - sw->nports_cap) * sizeof(*ports));
	sw->ports = ports;
	struct port **flood = realloc(sw->flood, cap * sizeof(*flood));
	if (!flood)
		return -ENOMEM;
	sw->flood = flood;
	struct port **dirty = realloc(sw->dirty, cap * sizeof(*dirty));
	if (!dirty)
		return -ENOMEM;
	sw->dirty = dirty;
	sw->nports_cap = cap;
	return 0;
}

int sw_port_attach(struct sw *sw, struct port *p)
{
	if (sw->nports == sw->nports_cap) {
		int r = grow_ports(sw);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < sw->nports_cap; i++) {
		if (!sw->ports[i]) {
			sw->ports[i] = p;
			p->idx = (uint16_t)i;
			p->sw = sw;
			sw->nports++;
			sw_flood_update(sw, p);
			return 0;
		}
	}
	return -ENOSPC;
}

void sw_port_detach(struct sw *sw, struct port *p)
{
	p->state = PORT_DOWN;
	sw_flood_update(sw, p);
	fdb_flush(sw->fdb, p->idx);
	fdb_set_port_limit(sw->fdb, p->idx, 0);
	sw->ports[p->idx] = NULL;
	sw->nports--;
	p->sw = NULL;
}

struct port *sw_port_find(struct sw *sw, const char *name)
{
	for (unsigned i = 0; i < sw->nports_cap; i++)
		if (sw->ports[i] && strcmp(sw->ports[i]->name, name) == 0)
			return sw->ports[i];
	return NULL;
}

void sw_flood_update(struct sw *sw, struct port *p)
{
	bool want = p->state == PORT_UP;
	if (want == p->in_flood)
		return;
	if (want) {
		sw->flood[sw->nflood++] = p;
	} else {
		for (unsigned i = 0; i < sw->nflood; i++) {
			if (sw->flood[i] == p) {
				sw->flood[i] = sw->flood[--sw->nflood];
				break;
			}
		}
	}
	p->in_flood = want;
}

static inline void enqueue(struct sw *sw, struct port *o, struct pkt *p)
{
	if (o->txq_n == 0)
		sw->dirty[sw->ndirty++] = o;
	o->txq[o->txq_n++] = p;
}

/* Checks a frame from `in`; false (and the frame dropped, counted) if it may
 * not be forwarded.  span = sw_max_frame(sw) - ETH_MIN_FRAME; *offloads is
 * set if the frame carries offload metadata. */
static inline bool admit(struct sw *sw, struct port *in, struct pkt *p, uint32_t span,
			 bool *offloads)
{
	/* One comparison for both ends in the common case. */
	if (likely(p->len - ETH_MIN_FRAME <= span) && likely(!(p->off.flags | p->off.gso_type)))
		return true;
	*offloads = true;
	if (unlikely(p->len < ETH_MIN_FRAME)) {
		port_rx_drop(in, RX_DROP_RUNT);
		return false;
	}
	if (unlikely(p->off.flags | p->off.gso_type)) {
		/* Whatever a peer claims was verified is verified again by
		 * whoever receives it. */
		p->off.flags &= (uint8_t)~PKT_OFF_F_DATA_VALID;
		if (offload_validate(p) < 0) {
			port_rx_drop(in, RX_DROP_MALFORMED);
			return false;
		}
		if (p->off.gso_type != PKT_GSO_NONE) {
			if (p->off.gso_size > sw->mtu) {
				port_rx_drop(in, RX_DROP_OVERSIZE);
				return false;
			}
			return true;
		}
	}
	if (unlikely(p->len > sw_max_frame(sw))) {
		port_rx_drop(in, RX_DROP_OVERSIZE);
		return false;
	}
	return true;
}

static void input_burst(struct sw *sw, struct port *in, struct pkt **pkts, unsigned n)
{
	uint32_t now = mono_seconds();
	uint16_t vlan = 0; /* untagged until VLANs arrive */
	struct fdb *fdb = sw->fdb;
	const uint16_t idx = in->idx;
	uint64_t bytes = 0;
	const struct fdb_stats *fs = fdb_get_stats(fdb);
	uint64_t refused0 = fs->refused_full + fs->refused_port_limit;
	const uint32_t span = sw_max_frame(sw) - ETH_MIN_FRAME;
	bool offloads = false;

	fdb_set_now(fdb, now);

	/* Pass 1: check, learn, look up, queue on the outputs. */
	for (unsigned i = 0; i < n; i++) {
		struct pkt *p = pkts[i];
		bytes += p->len;
		if (!admit(sw, in, p, span, &offloads)) {
			pkt_free(p);
			continue;
		}
		uint64_t dst = eth_addr_load(p->data);
		uint64_t src = eth_addr_load(p->data + ETH_ADDR_LEN);
		/* A multicast (I/G bit) or all-zero source is no station. */
		if (unlikely((src & (1ull << 40)) || !src)) {
			port_rx_drop(in, RX_DROP_BAD_SRC);
			pkt_free(p);
			continue;
		}
		if (likely(!(dst & (1ull << 40)))) {
			int out = fdb_learn_lookup(fdb, fdb_key(vlan, src), idx, fdb_key(vlan, dst));
			if (out >= 0) {
				if (unlikely(out == idx)) {
					/* The station is behind the port the
					 * frame came from: not ours to send. */
					in->stats.rx_filtered++;
					pkt_free(p);
					continue;
				}
				enqueue(sw, sw->ports[out], p);
				continue;
			}
		} else {
			fdb_learn(fdb, fdb_key(vlan, src), idx, now);
		}
		/* Unknown unicast, broadcast, multicast: every port but the
		 * ingress one, like a hub. */
		in->stats.rx_flooded++;
		sw->stats.flood_frames++;
		for (unsigned j = 0; j < sw->nflood; j++) {
			struct port *o = sw->flood[j];
			if (o == in)
				continue;
			o->stats.tx_flooded++;
			enqueue(sw, o, pkt_ref(p));
		}
		pkt_free(p);
	}
	in->stats.rx_packets += n;
	in->stats.rx_bytes += bytes;
	/* One input port per burst: every refusal in it was this port's. */
	in->stats.learn_refused += fs->refused_full + fs->refused_port_limit - refused0;

	/* Pass 2: each output port gets its run at once. */
	for (unsigned i = 0; i < sw->ndirty; i++) {
		struct port *o = sw->dirty[i];
		unsigned k = o->txq_n;
		o->txq_n = 0;
		port_output(o, o->txq, k, !offloads);
	}
	sw->ndirty = 0;
}

void sw_input(struct sw *sw, struct port *in, struct pkt **pkts, unsigned n)
{
	/* Output queues hold one burst: never take more at once. */
	while (n > PKT_BURST) {
		input_burst(sw, in, pkts, PKT_BURST);
		pkts += PKT_BURST;
		n -= PKT_BURST;
	}
	input_burst(sw, in, pkts, n);
}
