/* The virtio-net header that TAP (IFF_VNET_HDR) and AF_PACKET
 * (PACKET_VNET_HDR) put before each frame, converted to and from the
 * switch's struct pkt_offload (which has the same meaning). */
#ifndef VS_VNET_H
#define VS_VNET_H

#include <endian.h>
#include <linux/virtio_net.h>

#include "pkt.h"

#define VNET_HDR_LEN sizeof(struct virtio_net_hdr) /* 10 */

/* The kernel uses the host's byte order for these (little-endian virtio on
 * every architecture we build for; big-endian hosts would need TUNSETVNETLE). */
static inline void vnet_to_off(const struct virtio_net_hdr *h, struct pkt_offload *o)
{
	o->flags = h->flags;
	o->gso_type = h->gso_type;
	o->hdr_len = h->hdr_len;
	o->gso_size = h->gso_size;
	o->csum_start = h->csum_start;
	o->csum_offset = h->csum_offset;
}

static inline void vnet_from_off(const struct pkt_offload *o, struct virtio_net_hdr *h)
{
	h->flags = o->flags & PKT_OFF_F_NEEDS_CSUM;
	h->gso_type = o->gso_type;
	h->hdr_len = o->hdr_len;
	h->gso_size = o->gso_size;
	h->csum_start = o->csum_start;
	h->csum_offset = o->csum_offset;
}

#endif
