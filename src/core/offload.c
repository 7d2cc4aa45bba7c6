#include "offload.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "eth.h"

uint32_t inet_csum_partial(const uint8_t *data, uint32_t len, uint32_t sum)
{
	uint64_t acc = sum;
	uint32_t i = 0;
	/* 32 bits at a time into a 64-bit accumulator; byte order does not
	 * matter for a ones' complement sum as long as we fold consistently. */
	for (; i + 4 <= len; i += 4) {
		uint32_t w;
		memcpy(&w, data + i, 4);
		acc += w;
	}
	if (i + 2 <= len) {
		uint16_t w;
		memcpy(&w, data + i, 2);
		acc += w;
		i += 2;
	}
	if (i < len) {
		uint16_t w = 0;
		memcpy(&w, data + i, 1);
		acc += w;
	}
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

uint16_t inet_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t inet_csum(const uint8_t *data, uint32_t len, uint32_t initial)
{
	return inet_csum_fold(inet_csum_partial(data, len, initial));
}

int offload_parse_l3l4(const uint8_t *f, uint32_t len, struct l3l4 *out)
{
	uint32_t off = 12;
	if (len < ETH_HDR_LEN)
		return -EINVAL;
	uint16_t type = eth_get_be16(f + off);
	for (int tags = 0; (type == ETH_TYPE_VLAN || type == ETH_TYPE_QINQ) && tags < 2; tags++) {
		off += ETH_VLAN_LEN;
		if (off + 2 > len)
			return -EINVAL;
		type = eth_get_be16(f + off);
	}
	off += 2;
	out->ethertype = type;
	out->l3_off = (uint16_t)off;
	uint8_t proto;
	if (type == ETH_TYPE_IPV4) {
		if (off + 20 > len || (f[off] >> 4) != 4)
			return -EINVAL;
		uint32_t ihl = (f[off] & 0xf) * 4u;
		if (ihl < 20 || off + ihl > len)
			return -EINVAL;
		proto = f[off + 9];
		off += ihl;
	} else if (type == ETH_TYPE_IPV6) {
		if (off + 40 > len || (f[off] >> 4) != 6)
			return -EINVAL;
		proto = f[off + 6];
		off += 40;
	} else {
		return -EINVAL;
	}
	out->l4_off = (uint16_t)off;
	if (proto == IPPROTO_TCP) {
		if (off + 20 > len)
			return -EINVAL;
		uint32_t hl = (f[off + 12] >> 4) * 4u;
		if (hl < 20 || off + hl > len)
			return -EINVAL;
		out->l4_hlen = (uint16_t)hl;
	} else if (proto == IPPROTO_UDP) {
		if (off + 8 > len)
			return -EINVAL;
		out->l4_hlen = 8;
	} else {
		out->l4_proto = 0;
		out->l4_hlen = 0;
		return 0;
	}
	out->l4_proto = proto;
	return 0;
}

int offload_validate(const struct pkt *p)
{
	const struct pkt_offload *o = &p->off;
	if (o->flags & PKT_OFF_F_NEEDS_CSUM) {
		if ((uint32_t)o->csum_start + o->csum_offset + 2 > p->len)
			return -EINVAL;
	}
	switch (o->gso_type & ~PKT_GSO_ECN) {
	case PKT_GSO_NONE:
		return 0;
	case PKT_GSO_TCPV4:
	case PKT_GSO_TCPV6:
	case PKT_GSO_UDP_L4:
		break;
	default: /* PKT_GSO_UDP (UFO) is obsolete; nobody may send it */
		return -EINVAL;
	}
	if (o->gso_size == 0)
		return -EINVAL;
	struct l3l4 l;
	if (offload_parse_l3l4(p->data, p->len, &l) < 0)
		return -EINVAL;
	uint8_t want = (o->gso_type & ~PKT_GSO_ECN) == PKT_GSO_UDP_L4 ? IPPROTO_UDP : IPPROTO_TCP;
	if (l.l4_proto != want)
		return -EINVAL;
	bool v4 = l.ethertype == ETH_TYPE_IPV4;
	if ((o->gso_type & ~PKT_GSO_ECN) == PKT_GSO_TCPV4 && !v4)
		return -EINVAL;
	if ((o->gso_type & ~PKT_GSO_ECN) == PKT_GSO_TCPV6 && v4)
		return -EINVAL;
	return 0;
}

int offload_csum_complete(struct pkt *p)
{
	struct pkt_offload *o = &p->off;
	if (!(o->flags & PKT_OFF_F_NEEDS_CSUM))
		return 0;
	uint32_t start = o->csum_start, field = start + o->csum_offset;
	if (field + 2 > p->len)
		return -EINVAL;
	/* The field holds the pseudo-header sum; sum from csum_start over it. */
	uint16_t c = inet_csum(p->data + start, p->len - start, 0);
	/* A UDP checksum of 0 means "none"; send 0xffff instead. */
	if (c == 0) {
		struct l3l4 l;
		if (offload_parse_l3l4(p->data, p->len, &l) == 0 && l.l4_proto == IPPROTO_UDP &&
		    l.l4_off == start)
			c = 0xffff;
	}
	memcpy(p->data + field, &c, 2);
	o->flags &= (uint8_t)~PKT_OFF_F_NEEDS_CSUM;
	return 0;
}

/* Pseudo-header sum for an L4 length, in the same byte order as
 * inet_csum_partial() (the network bytes as read from memory). */
static uint32_t pseudo_sum(const uint8_t *f, const struct l3l4 *l, uint32_t l4len)
{
	uint32_t sum = 0;
	uint8_t tail[8] = { 0 };
	if (l->ethertype == ETH_TYPE_IPV4) {
		sum = inet_csum_partial(f + l->l3_off + 12, 8, 0);
		tail[0] = 0;
		tail[1] = l->l4_proto;
		tail[2] = (uint8_t)(l4len >> 8);
		tail[3] = (uint8_t)l4len;
		return inet_csum_partial(tail, 4, sum);
	}
	sum = inet_csum_partial(f + l->l3_off + 8, 32, 0);
	tail[0] = (uint8_t)(l4len >> 24);
	tail[1] = (uint8_t)(l4len >> 16);
	tail[2] = (uint8_t)(l4len >> 8);
	tail[3] = (uint8_t)l4len;
	tail[7] = l->l4_proto;
	return inet_csum_partial(tail, 8, sum);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int offload_segment(const struct pkt *p, struct pkt **out, unsigned max_out)
{
	struct l3l4 l;
	if (offload_validate(p) < 0 || p->off.gso_type == PKT_GSO_NONE)
		return -EINVAL;
	if (offload_parse_l3l4(p->data, p->len, &l) < 0)
		return -EINVAL;
	const uint8_t *f = p->data;
	uint32_t hdr = (uint32_t)l.l4_off + l.l4_hlen;
	if (hdr > p->len)
		return -EINVAL;
	uint32_t payload = p->len - hdr, mss = p->off.gso_size;
	unsigned nseg = payload ? (unsigned)((payload + mss - 1) / mss) : 1;
	if (nseg > max_out)
		return -E2BIG;
	bool v4 = l.ethertype == ETH_TYPE_IPV4, tcp = l.l4_proto == IPPROTO_TCP;
	uint16_t ip_id = v4 ? eth_get_be16(f + l.l3_off + 4) : 0;
	uint32_t seq = tcp ? get_be32(f + l.l4_off + 4) : 0;
	uint8_t tcp_flags = tcp ? f[l.l4_off + 13] : 0;

	for (unsigned i = 0; i < nseg; i++) {
		uint32_t off = i * mss;
		uint32_t seglen = (payload - off < mss ? payload - off : mss);
		struct pkt *s = pkt_alloc(hdr + seglen);
		if (!s) {
			pkt_free_burst(out, i);
			return -ENOMEM;
		}
		uint8_t *d = s->data;
		memcpy(d, f, hdr);
		memcpy(d + hdr, f + hdr + off, seglen);
		s->len = hdr + seglen;
		uint32_t l4len = l.l4_hlen + seglen;
		if (v4) {
			uint8_t *ip = d + l.l3_off;
			eth_put_be16(ip + 2, (uint16_t)(l.l4_off - l.l3_off + l4len));
			/* UDP segments of USO share one IP id, like the kernel's. */
			if (tcp)
				eth_put_be16(ip + 4, (uint16_t)(ip_id + i));
			ip[10] = ip[11] = 0;
			uint16_t c = inet_csum(ip, (uint32_t)(l.l4_off - l.l3_off), 0);
			memcpy(ip + 10, &c, 2);
		} else {
			eth_put_be16(d + l.l3_off + 4, (uint16_t)(l.l4_off - l.l3_off - 40 + l4len));
		}
		uint8_t *l4 = d + l.l4_off;
		uint16_t csum_at;
		if (tcp) {
			put_be32(l4 + 4, seq + off);
			uint8_t fl = tcp_flags;
			if (i + 1 < nseg)
				fl &= (uint8_t)~(0x01 | 0x08); /* FIN, PSH only on the last */
			if (i > 0)
				fl &= (uint8_t)~0x80; /* CWR only on the first */
			l4[13] = fl;
			csum_at = 16;
		} else {
			eth_put_be16(l4 + 4, (uint16_t)l4len);
			csum_at = 6;
		}
		l4[csum_at] = l4[csum_at + 1] = 0;
		uint16_t c = inet_csum(l4, l4len, pseudo_sum(d, &l, l4len));
		if (!tcp && c == 0)
			c = 0xffff;
		memcpy(l4 + csum_at, &c, 2);
		out[i] = s;
	}
	return (int)nseg;
}
