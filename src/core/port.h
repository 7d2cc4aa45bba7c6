/* A switch port and the interface every backend implements.
 *
 * struct port is the common part; a backend's private state follows it in
 * the same allocation (port_priv()).  The forwarding core only ever calls
 * port_output() and reads the common fields, so it never knows which backend
 * it talks to.
 *
 * Receive is pushed: a backend that has frames (its fd became readable, or
 * the busy-poll pass ran) calls port_input() with up to PKT_BURST packets,
 * which runs them through the switch at once and flushes every output.
 *
 * Lifetime: ports are created and destroyed by the daemon between bursts
 * (see sw_port_add/sw_port_remove); nothing holds a packet or a port pointer
 * across passes of the event loop.
 */
#ifndef VS_PORT_H
#define VS_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "pkt.h"

struct sw;
struct port;
struct loop;

/* Offloads a port accepts on transmit (what its peer can finish). */
#define PORT_OFF_CSUM (1u << 0)	   /* partial checksums */
#define PORT_OFF_TSO4 (1u << 1)	   /* PKT_GSO_TCPV4 */
#define PORT_OFF_TSO6 (1u << 2)	   /* PKT_GSO_TCPV6 */
#define PORT_OFF_TSO_ECN (1u << 3) /* GSO with PKT_GSO_ECN */
#define PORT_OFF_USO (1u << 4)	   /* PKT_GSO_UDP_L4 */
#define PORT_OFF_ALL 0x1fu

/* Why a frame from a port was dropped; rx_dropped is their sum. */
enum port_rx_drop {
	RX_DROP_RUNT,	   /* shorter than an Ethernet header */
	RX_DROP_OVERSIZE,  /* longer than the switch MTU allows */
	RX_DROP_BAD_SRC,   /* multicast or all-zero source MAC */
	RX_DROP_MALFORMED, /* bad offload metadata or framing */
	RX_DROP_NOBUF,	   /* packet pool empty */
	RX_DROP_OVERRUN,   /* lost before the switch read them: a kernel queue
			    * or ring was full (the switch was too slow) */
	RX_DROP_DOWN,	   /* handed over by a kernel interface while no switch
			    * was running (counted at restart, counters.c) */
	RX_DROP_MAX
};

/* Why a frame for a port was dropped; tx_dropped is their sum. */
enum port_tx_drop {
	TX_DROP_QUEUE_FULL, /* the peer does not read fast enough */
	TX_DROP_LINK_DOWN,  /* no peer / interface down */
	TX_DROP_ERROR,	    /* the backend failed to send */
	TX_DROP_OFFLOAD,    /* could not be segmented or checksummed */
	TX_DROP_MAX
};

extern const char *const port_rx_drop_names[RX_DROP_MAX];
extern const char *const port_tx_drop_names[TX_DROP_MAX];

struct port_stats {
	uint64_t rx_packets, rx_bytes; /* frames the switch received from the port */
	uint64_t tx_packets, tx_bytes; /* frames the switch sent to the port */
	uint64_t rx_flooded;	       /* received frames that were flooded */
	uint64_t tx_flooded;	       /* flooded copies sent to the port */
	uint64_t rx_filtered;	       /* for a station behind the same port */
	uint64_t rx_drop[RX_DROP_MAX];
	uint64_t tx_drop[TX_DROP_MAX];
	uint64_t learn_refused;	       /* source not learned: table or port limit */
	uint64_t resets;	       /* peer reset or dropped for a protocol error */
	uint64_t rx_moderated;	       /* read by the receive-moderation timer, not
					* on a wakeup (rxmod.h: under load) */
};

enum port_state {
	PORT_DOWN,	 /* no peer: listening, interface gone, ... */
	PORT_CONNECTING, /* --connect: trying to reach the peer */
	PORT_UP,
};
const char *port_state_name(enum port_state s);

/* Everything a backend may need to open; fields a backend does not use are
 * ignored.  Strings are copied by the backend if it keeps them. */
struct port_args {
	const char *ifname;	  /* netdev, uplink, host (TAP) */
	const char *socket_path;  /* stream/dgram/vhost-user: where to listen */
	const char *connect_path; /* stream/vhost-user --connect */
	int fd;			  /* an accepted connection (plug ports), else -1 */
	bool wait_missing;	  /* netdev/uplink: a missing interface is not an
				   * error; the port waits for it (restore) */
	unsigned rx_usecs;	  /* receive moderation window, 0: none (for
				   * backends woken per frame: rxmod.h) */
	unsigned rx_usecs_max;	  /* ... which grows up to this under a steady
				   * load of small frames */
};

struct port_ops {
	const char *type; /* "host", "uplink", "netdev", "stream", "dgram", ... */
	size_t priv_size; /* bytes of private state after struct port */
	/* Open the backend: sockets, watches on p->loop, state.  On failure
	 * returns -errno and leaves nothing open (close is not called). */
	int (*open)(struct port *p, const struct port_args *a);
	/* Release everything open() and later events acquired. */
	void (*close)(struct port *p);
	/* Send n packets.  Takes ownership of every one, sent or not; counts
	 * each with port_tx_ok() or port_tx_drop().  Frames already fit
	 * p->tx_offloads and the switch MTU.  Must not block. */
	void (*tx_burst)(struct port *p, struct pkt **pkts, unsigned n);
	/* Optional: once a second (reconnect, re-attach). */
	void (*tick)(struct port *p);
	/* Optional: busy-poll mode; look for received frames now, without
	 * waiting for an fd (vhost-user rings).  Must be cheap when idle.
	 * Returns whether it found any (the loop yields the CPU after a
	 * pass in which no port did). */
	bool (*poll)(struct port *p);
};

#define PORT_NAME_MAX 16

struct port {
	char name[PORT_NAME_MAX];
	const struct port_ops *ops;
	struct sw *sw;
	struct loop *loop;
	uint16_t idx;	      /* index in sw->ports, stable for the port's life */
	enum port_state state;
	unsigned tx_offloads; /* PORT_OFF_* the peer accepts now */
	bool anonymous;	      /* plug-N: removed when its peer goes */
	bool in_flood;	      /* member of sw->flood */
	/* What `port show` reports; the backend keeps them current. */
	char ifname[PORT_NAME_MAX];
	char socket_path[108];
	char connect_path[108];
	struct port_stats stats;
	/* Output queued during one forwarding step. */
	unsigned txq_n;
	struct pkt *txq[PKT_BURST];
	/* The daemon's hook, called by port_set_state() after every change of
	 * state (old is the previous one): an anonymous port whose peer left
	 * is removed, a re-attached interface is taken off the host's stack
	 * again.  It must not free the port (defer that). */
	void (*on_state)(struct port *p, enum port_state old);
	void *owner; /* the daemon's record of the port */
	_Alignas(16) unsigned char priv[];
};

static inline void *port_priv(struct port *p)
{
	return p->priv;
}

static inline void port_tx_ok(struct port *p, uint32_t bytes)
{
	p->stats.tx_packets++;
	p->stats.tx_bytes += bytes;
}

static inline void port_tx_drop(struct port *p, enum port_tx_drop why)
{
	p->stats.tx_drop[why]++;
}

static inline void port_rx_drop(struct port *p, enum port_rx_drop why)
{
	p->stats.rx_drop[why]++;
}

uint64_t port_rx_dropped(const struct port *p);
uint64_t port_tx_dropped(const struct port *p);

/* Allocate a port of the given backend; not yet open nor in a switch. */
struct port *port_new(const struct port_ops *ops, const char *name, struct loop *loop);
/* Free a port that is closed and out of its switch. */
void port_free(struct port *p);

/* Backend: hand received frames to the switch (n <= PKT_BURST).  Ownership of
 * the packets passes to the switch.  pkts[i]->off must be validated by the
 * caller or be zero. */
void port_input(struct port *p, struct pkt **pkts, unsigned n);

/* Backend: the peer came or went.  Going down removes the port from flooding
 * and forgets the MACs learned on it. */
void port_set_state(struct port *p, enum port_state s);

/* Core: send a queued burst through the backend, after finishing offloads the
 * port cannot take.  Takes ownership of the packets.  plain: the caller knows
 * that no packet carries offload metadata (no scan needed). */
void port_output(struct port *p, struct pkt **pkts, unsigned n, bool plain);

#endif
