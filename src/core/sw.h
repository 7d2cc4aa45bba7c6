/* A virtual switch: a set of ports, a MAC table and the forwarding step.
 *
 * Switches share nothing with each other: a frame that enters one can only
 * leave through a port of the same switch.  All work is layer 2: the switch
 * forwards every EtherType and never looks above the Ethernet header, except
 * to finish offloads for a port that cannot.
 *
 * Forwarding (sw_input) works on a burst from one port, in two passes (as
 * netmap's VALE): first every frame is checked, its source learned and its
 * destination looked up, and a reference is queued on each output port; then
 * each output port gets its whole run in one port_output() call.  Flooding
 * takes references instead of copies.
 *
 * Thread safety: none; a switch belongs to the datapath thread.
 */
#ifndef VS_SW_H
#define VS_SW_H

#include <stdint.h>

#include "fdb.h"
#include "port.h"

#define SW_MAX_PORTS 4096

enum sw_type { SW_EXTERNAL, SW_INTERNAL, SW_PRIVATE };
const char *sw_type_name(enum sw_type t);
int sw_type_parse(const char *s, enum sw_type *out);

struct sw_stats {
	uint64_t flood_frames; /* frames flooded (unknown, broadcast, multicast) */
};

struct sw {
	char name[16];
	enum sw_type type;
	unsigned mtu;		/* largest L3 payload; frames may be mtu + 18 */
	struct fdb *fdb;
	struct port **ports;	/* by index; NULL = free slot */
	unsigned nports_cap;
	unsigned nports;	/* ports attached */
	struct port **flood;	/* the ports that are up, dense */
	unsigned nflood;
	struct port **dirty;	/* ports with output queued in this step */
	unsigned ndirty;
	struct sw_stats stats;
	void *owner;		/* the daemon's record of this switch */
};

struct sw *sw_new(const char *name, enum sw_type type, unsigned mtu, uint32_t max_macs,
		  uint32_t aging_s);
/* The switch must have no ports left. */
void sw_free(struct sw *sw);

/* Attach an allocated (not yet opened) port; assigns p->idx.  0 or -ENOSPC. */
int sw_port_attach(struct sw *sw, struct port *p);
/* Detach: out of flooding, MACs forgotten, slot freed. */
void sw_port_detach(struct sw *sw, struct port *p);
struct port *sw_port_find(struct sw *sw, const char *name);

/* The forwarding step; see the top of this file. */
void sw_input(struct sw *sw, struct port *in, struct pkt **pkts, unsigned n);

/* Internal to the core: flooding membership follows port state. */
void sw_flood_update(struct sw *sw, struct port *p);

/* Largest frame the switch accepts without segmentation offload. */
static inline uint32_t sw_max_frame(const struct sw *sw)
{
	return sw->mtu + 14 + 4; /* Ethernet header and one VLAN tag */
}

#endif
