/* Receiving frames of unknown size without a copy in the common case.
 *
 * A receive call (read, recvmmsg) gets an iovec of: the packet's own small
 * buffer, then a 64 KiB spill area shared by all ports (one per burst slot;
 * the datapath is single-threaded).  A frame that fits the small buffer costs
 * nothing more; a bigger one (a segmentation-offload frame, a jumbo frame) is
 * copied once into a large packet by rxbuf_finish().
 */
#ifndef VS_RXBUF_H
#define VS_RXBUF_H

#include <sys/uio.h>

#include "pkt.h"

#define RXBUF_SPILL (PKT_MAX_FRAME + 1) /* one more byte: detect "too big" */

/* Allocate a small packet and fill iov[0..1] to receive into it with spill
 * slot `slot` (< PKT_BURST).  NULL if the pool is empty. */
struct pkt *rxbuf_prepare(unsigned slot, struct iovec iov[2]);

/* n bytes arrived into the packet (and its spill): set len, moving to a large
 * packet if needed.  Returns the packet to use, or NULL if n is larger than
 * PKT_MAX_FRAME or no large packet is free (the small one is freed then). */
struct pkt *rxbuf_finish(struct pkt *p, unsigned slot, size_t n);

#endif
