/* The device side of one split virtqueue of a virtio-net device.
 *
 * Two directions, one structure:
 * - the guest's TX queue (vhost queue 1): virtq_tx_dequeue() copies whole
 *   frames out of the guest's buffers into packets and marks each chain used
 *   at once (we never hold a guest buffer after a call returns);
 * - the guest's RX queue (vhost queue 0): virtq_rx_enqueue() copies packets
 *   into the guest's buffers, spreading a frame over several chains with
 *   MRG_RXBUF, and publishes the used index once per call.
 * Zero copy (vq->zero_copy): a plain frame (no offload metadata) that lies in
 * one piece of guest memory is not copied out: its packet is a PKT_EXT one
 * pointing into the guest's buffer, and the one copy is the one into the
 * receiving port.  Its chain is written to the used ring at once but the used
 * index is published only when the last such packet is released, so the
 * guest cannot reuse a buffer the switch still reads.  Packets live within
 * one pass of the loop (pkt.h), so by the time virtq_tx_dequeue()'s caller
 * has handed the burst to the switch and it returned, everything is released
 * and published.
 * Since every chain is completed in the order it was made available and
 * before the pass ends, last_used_idx == last_avail_idx between passes: the
 * ring has no in-flight state, so GET_VRING_BASE can be answered at any time
 * and a reconnect resumes exactly where the old connection stopped.
 *
 * The guest is untrusted and shares the memory: every ring field and
 * descriptor is read once into a local (VQ_READ_ONCE) and checked before use;
 * addresses are translated through the region table with bounds checks;
 * chains are bounded by the ring size.  A violation returns a negative errno
 * with a reason and the caller resets the device; frames that are merely
 * unusable (too long, bad offload metadata) are dropped and counted.
 *
 * These functions touch only the ring, the region table and the packets: no
 * file descriptors, no sockets (a fuzz target can drive them as they are).
 */
#ifndef VS_VIRTQ_H
#define VS_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>

#include "pkt.h"
#include "port.h"
#include "vhost-mem.h"

#define VQ_MAX_SIZE 32768
#define VQ_MAX_SEGS 64	  /* buffers of one chain we copy through */
#define VQ_MAX_MERGE 256  /* chains one received frame may take (MRG_RXBUF) */

struct vq_seg {
	uint8_t *p;
	uint32_t len;
};

/* One descriptor chain, translated. */
struct vq_chain {
	unsigned nseg;
	uint64_t bytes;
	struct vq_seg seg[VQ_MAX_SEGS];
};

struct virtq {
	/* Set by the control path (vhost-dev.c). */
	uint32_t num;		 /* entries, a power of 2; 0 until set */
	uint64_t desc_uva, avail_uva, used_uva;
	bool addr_set;
	bool started;		 /* has a kick fd (or NOFD), not stopped since */
	bool enabled;
	int kick_fd, call_fd;	 /* -1: none (polling) */
	unsigned kick_gen;	 /* bumped whenever kick_fd changes */
	uint16_t base;		 /* index to resume from (SET/GET_VRING_BASE) */

	/* What the negotiated features mean for the data path. */
	uint32_t hdr_len;	 /* virtio-net header: 10 or 12 */
	bool mrg;		 /* MRG_RXBUF: frames span chains, num_buffers */
	bool event_idx;
	bool indirect;		 /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	unsigned rx_offloads;	 /* PORT_OFF_* the guest may send us */

	/* Ring memory, valid while mapped. */
	bool mapped;
	uint16_t mask;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail_idx;
	uint16_t last_used_idx;
	uint16_t used_flags;	 /* our copy of used->flags */
	bool kicks_on;		 /* we asked the guest to kick us */

	/* Zero-copy TX (see the top): allowed, packets still out, and used
	 * entries written but not yet published because of them. */
	bool zero_copy;
	unsigned zc_out;
	bool zc_unpublished;
};

void virtq_init(struct virtq *vq);

/* Translate the ring addresses through mem and start at vq->base.  0, or
 * -EFAULT / -EINVAL with *why. */
int virtq_map(struct virtq *vq, struct vhost_mem *mem, const char **why);
void virtq_unmap(struct virtq *vq);

/* Walk the chain at `head`: every buffer device-writable (RX) or
 * device-readable (TX).  0; -E2BIG if it has more than VQ_MAX_SEGS pieces
 * (the frame is dropped, the ring is fine); -EINVAL, -EFAULT, -ELOOP for a
 * broken ring, with *why. */
int virtq_walk(struct virtq *vq, struct vhost_mem *mem, uint16_t head, bool writable,
	       struct vq_chain *c, const char **why);

/* Guest TX: take up to max frames into pkts (allocated here; with
 * vq->zero_copy some may point into guest memory, and the used index moves
 * when the last of those is freed).  Returns how many, or -errno with *why if
 * the ring is broken (pkts then holds nothing).  Drops are counted in
 * st->rx_drop.  The frames' bytes are the guest's to change at any time:
 * whoever looks at them reads each field once (the switch reads the MACs). */
int virtq_tx_dequeue(struct virtq *vq, struct vhost_mem *mem, struct pkt **pkts, unsigned max,
		     struct port_stats *st, const char **why);

/* Guest RX: copy the packets into the guest's buffers (they stay the
 * caller's).  Counts tx_packets/tx_bytes and tx drops (queue_full when the
 * guest has no buffers) in st.  0, or -errno with *why if the ring is broken. */
int virtq_rx_enqueue(struct virtq *vq, struct vhost_mem *mem, struct pkt **pkts, unsigned n,
		     struct port_stats *st, const char **why);

/* Entries the guest made available that we have not taken (may exceed num
 * for a hostile guest: the dequeue functions catch that). */
static inline uint16_t virtq_pending(const struct virtq *vq)
{
	return (uint16_t)(vq_le16(VQ_READ_ONCE(vq->avail->idx)) - vq->last_avail_idx);
}

/* Kicks: on while we wait for the guest, off while we poll or are busy.
 * After virtq_kicks_on(), check virtq_pending() again: a frame added just
 * before the guest saw the change came without a kick. */
void virtq_kicks_on(struct virtq *vq);
void virtq_kicks_off(struct virtq *vq);

/* After publishing used entries from old_used on: does the guest want an
 * interrupt (event index / NO_INTERRUPT)? */
bool virtq_need_call(struct virtq *vq, uint16_t old_used);

#endif
