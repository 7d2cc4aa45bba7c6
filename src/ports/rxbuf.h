/* Receiving frames of unknown size without a copy in the common case.
 *
 * A receive call (read, recvmmsg) gets an iovec of: a small packet's buffer,
 * then the rest of a large packet's buffer (one large packet per burst slot,
 * kept in reserve, shared by all ports: the datapath is single-threaded).
 * A frame that fits the small packet costs nothing more; a bigger one (a
 * segmentation-offload frame, a jumbo frame) becomes the large packet, and
 * only its head, the small buffer's worth, is moved.
 */
#ifndef VS_RXBUF_H
#define VS_RXBUF_H

#include <sys/uio.h>

#include "pkt.h"

#define RXBUF_SPILL (PKT_MAX_FRAME + 1) /* small + reserve: one byte more detects "too big" */

/* Allocate a small packet and fill iov[0..1] to receive into it and on into
 * the reserve of slot `slot` (< PKT_BURST).  NULL if the pool is empty. */
struct pkt *rxbuf_prepare(unsigned slot, struct iovec iov[2]);

/* n bytes arrived into the packet (and on into the reserve): set len, and
 * hand over the large packet if the frame needed it.  Returns the packet to
 * use, or NULL if n is larger than PKT_MAX_FRAME (the small one is freed). */
struct pkt *rxbuf_finish(struct pkt *p, unsigned slot, size_t n);

#endif
