/* Checksum and segmentation offload, done in software.
 *
 * Frames from kernel interfaces and guests may carry offload metadata
 * (struct pkt_offload): a checksum left for "hardware" to finish, or a TCP or
 * UDP payload of up to 64 KiB to be cut into MTU-sized segments.  The switch
 * passes both along to ports that accept them (a TAP or AF_PACKET port with a
 * vnet header, a virtio guest) and finishes the work only for a port that
 * cannot: port.c calls these functions on the way out.
 */
#ifndef VS_OFFLOAD_H
#define VS_OFFLOAD_H

#include <stdint.h>

#include "pkt.h"

/* Where the layers of a frame start, as parsed by offload_parse_l3l4(). */
struct l3l4 {
	uint16_t l3_off;   /* IPv4/IPv6 header */
	uint16_t l4_off;   /* TCP/UDP header */
	uint16_t l4_hlen;  /* TCP/UDP header length */
	uint16_t ethertype;
	uint8_t l4_proto;  /* IPPROTO_TCP / IPPROTO_UDP, else 0 */
};

/* Parse Ethernet (with up to two VLAN tags), IPv4 or IPv6 (no extension
 * headers), and TCP or UDP.  Returns 0 or -EINVAL. */
int offload_parse_l3l4(const uint8_t *frame, uint32_t len, struct l3l4 *out);

/* Check that metadata received from a port is self-consistent and inside the
 * frame; -EINVAL if not (the frame must be dropped as malformed). */
int offload_validate(const struct pkt *p);

/* Finish a partial checksum in place (PKT_OFF_F_NEEDS_CSUM) and clear the
 * flag.  Idempotent in effect, so it may run on a shared packet.  0 or
 * -EINVAL. */
int offload_csum_complete(struct pkt *p);

/* Cut a GSO packet into complete frames (full checksums, no offload flags).
 * Writes at most max_out packets to out; returns their number, -ENOMEM if the
 * pool ran out (out holds nothing then), -EINVAL for a frame that cannot be
 * segmented, -E2BIG if it needs more than max_out segments.  The input packet
 * is left to the caller. */
int offload_segment(const struct pkt *p, struct pkt **out, unsigned max_out);

/* The Internet checksum of a buffer, folded and complemented: for tests and
 * for the segmenter. */
uint16_t inet_csum(const uint8_t *data, uint32_t len, uint32_t initial);
uint32_t inet_csum_partial(const uint8_t *data, uint32_t len, uint32_t sum);
uint16_t inet_csum_fold(uint32_t sum);

#endif
