/* The vhost-user device state of one virtio-net frontend connection, and the
 * handler of the frontend's messages.
 *
 * vhost_dev_handle() is the whole control protocol: it takes the bytes of one
 * message and the fds that came with it, updates the device (features,
 * memory table, rings, eventfds) and produces the reply bytes.  It does no
 * socket I/O and calls nobody back, so the port (port-vhost-user.c) only
 * moves bytes and fds, and a fuzz target can feed it anything.  After each
 * message the port looks at the device (vhost_dev_running(), the TX ring's
 * kick_gen) and adjusts its watches and state.
 *
 * One queue pair: queue 0 is the guest's RX (frames we send it), queue 1 its
 * TX.  No multi-queue, no dirty logging (migration), no IOMMU, no postcopy;
 * requests for them are refused (see vhost-dev.c for which way).
 *
 * Anything malformed (a wrong payload size, an unknown request, fds where
 * none belong, features we never offered, a ring outside guest memory) makes
 * vhost_dev_handle() fail with a reason in d->why; the caller then drops the
 * connection and calls vhost_dev_reset().
 */
#ifndef VS_VHOST_DEV_H
#define VS_VHOST_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vhost-mem.h"
#include "vhost-proto.h"
#include "virtq.h"

#define VHOST_NET_RXQ 0 /* to the guest */
#define VHOST_NET_TXQ 1 /* from the guest */
#define VHOST_NET_NQ 2

/* What we offer.  Offloads: the guest may send partial checksums and TSO
 * frames (CSUM, HOST_*), and may accept them (GUEST_*), which the switch
 * then passes through instead of finishing in software. */
#define VHOST_DEV_FEATURES                                                                        \
	((1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |                        \
	 (1ull << VIRTIO_NET_F_GUEST_TSO4) | (1ull << VIRTIO_NET_F_GUEST_TSO6) |                  \
	 (1ull << VIRTIO_NET_F_GUEST_ECN) | (1ull << VIRTIO_NET_F_HOST_TSO4) |                    \
	 (1ull << VIRTIO_NET_F_HOST_TSO6) | (1ull << VIRTIO_NET_F_HOST_ECN) |                     \
	 (1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_RING_F_EVENT_IDX) |                   \
	 (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_F_ANY_LAYOUT) |                  \
	 (1ull << VIRTIO_F_IN_ORDER) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |                 \
	 (1ull << VIRTIO_F_VERSION_1))

#define VHOST_DEV_PROTOCOL_FEATURES (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK)

struct vhost_dev {
	uint64_t features;	    /* acked by SET_FEATURES */
	uint64_t protocol_features; /* acked by SET_PROTOCOL_FEATURES */
	bool owner;
	struct vhost_mem mem;
	struct virtq vq[VHOST_NET_NQ];
	const char *why; /* why the last message failed or was refused */
};

void vhost_dev_init(struct vhost_dev *d);
/* Back to the state of a new connection: memory unmapped, fds closed. */
void vhost_dev_reset(struct vhost_dev *d);

/* Handle one message (len bytes, header included) and the nfds fds that came
 * with it; the fds are the device's now, kept or closed.  A reply, if one is
 * due, is written to *reply and its length (header included) to *reply_len,
 * else *reply_len is 0.  Returns 0, or -errno if the connection must go. */
int vhost_dev_handle(struct vhost_dev *d, const void *msg, size_t len, int *fds, unsigned nfds,
		     struct vhost_user_msg *reply, size_t *reply_len);

/* Both rings started, enabled and mapped: frames can flow. */
bool vhost_dev_running(const struct vhost_dev *d);

/* PORT_OFF_* the guest accepts from us (its GUEST_* features). */
unsigned vhost_dev_tx_offloads(const struct vhost_dev *d);

#endif
