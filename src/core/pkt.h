/* Packet buffers and bursts.
 *
 * A struct pkt is one Ethernet frame (without FCS) plus the offload metadata
 * that travels with it (struct pkt_offload, the meaning of a virtio_net_hdr).
 * Packets come from a fixed pool allocated at start: no allocation per packet.
 * Two sizes: "small" buffers hold any frame of a 1500-byte MTU switch with room
 * to spare; "large" buffers hold a 64 KiB segmentation-offload frame.
 *
 * Ownership: a packet belongs to exactly one place at a time.  Flooding takes
 * extra references (pkt_ref) instead of copying; whoever holds a reference
 * releases it with pkt_free().  A packet's data must not be modified while
 * refcnt > 1, except by idempotent fix-ups every receiver wants (checksum
 * completion, see offload.h).
 *
 * Packets live only within one pass of the event loop: a backend that cannot
 * send at once copies the frame into its own queue.  So the pool only needs
 * room for one burst in flight plus segmentation output, and a PKT_EXT packet
 * over a guest's buffer is released before the guest gets the buffer back.
 * PKT_EXT packets are read-only (no headroom, memory another party may change
 * at any time): read each field once, and write only into a copy.
 *
 * Not thread-safe: the pool belongs to the one datapath thread.
 */
#ifndef VS_PKT_H
#define VS_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_BURST 32
#define PKT_HEADROOM 128 /* room to push a VLAN tag or a tunnel header */
#define PKT_SMALL_SIZE 2048
#define PKT_LARGE_SIZE (65536 + 1024)
#define PKT_MAX_FRAME 65535 /* largest frame any port may hand the switch */

/* Same values and meaning as struct virtio_net_hdr (virtio spec 5.1.6). */
#define PKT_OFF_F_NEEDS_CSUM 1
#define PKT_OFF_F_DATA_VALID 2
#define PKT_GSO_NONE 0
#define PKT_GSO_TCPV4 1
#define PKT_GSO_UDP 3
#define PKT_GSO_TCPV6 4
#define PKT_GSO_UDP_L4 5
#define PKT_GSO_ECN 0x80

struct pkt_offload {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

enum pkt_kind { PKT_SMALL, PKT_LARGE, PKT_EXT };

struct pkt {
	uint8_t *data; /* first byte of the Ethernet header */
	uint32_t len;
	uint16_t refcnt;
	struct pkt_offload off;
	uint8_t kind;
	uint8_t *buf; /* buffer that data points into */
	uint32_t buf_size;
	/* PKT_EXT: data lives in memory someone else owns (e.g. a guest's
	 * buffer); release() gives it back when the last reference goes. */
	void (*release)(struct pkt *p);
	void *owner;
	uint64_t cookie;
	struct pkt *next_free;
};

/* Create the pool. Returns 0 or -ENOMEM. */
int pkt_pool_init(unsigned n_small, unsigned n_large, unsigned n_ext);
void pkt_pool_fini(void);

/* A packet whose buffer holds at least `size` bytes after the headroom;
 * data points just after the headroom, len is 0, no offloads.  NULL when the
 * pool is empty or size > PKT_LARGE_SIZE - PKT_HEADROOM. */
struct pkt *pkt_alloc(uint32_t size);

/* A packet that refers to foreign memory; see struct pkt. */
struct pkt *pkt_alloc_ext(uint8_t *data, uint32_t len, void (*release)(struct pkt *),
			  void *owner, uint64_t cookie);

static inline uint32_t pkt_tailroom(const struct pkt *p)
{
	return p->buf_size - (uint32_t)(p->data - p->buf) - p->len;
}

static inline uint32_t pkt_headroom(const struct pkt *p)
{
	return (uint32_t)(p->data - p->buf);
}

static inline struct pkt *pkt_ref(struct pkt *p)
{
	p->refcnt++;
	return p;
}

void pkt_free(struct pkt *p);

static inline void pkt_free_burst(struct pkt **pkts, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		pkt_free(pkts[i]);
}

/* Pool statistics, for the daemon's own counters and the soak test. */
struct pkt_pool_stats {
	unsigned small_total, small_free;
	unsigned large_total, large_free;
	unsigned ext_total, ext_free;
	uint64_t alloc_failed;
};
void pkt_pool_get_stats(struct pkt_pool_stats *st);

#endif
