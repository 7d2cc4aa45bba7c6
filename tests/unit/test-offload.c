/* Checksum completion and segmentation, checked against a reference
 * checksum written here independently (big-endian 16-bit words). */
#include "unit.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "eth.h"
#include "offload.h"
#include "pkt.h"

static int setup(void **state)
{
	return pkt_pool_init(256, 8, 0);
}

static int teardown(void **state)
{
	struct pkt_pool_stats st;
	pkt_pool_get_stats(&st);
	assert_int_equal(st.small_free, st.small_total);
	assert_int_equal(st.large_free, st.large_total);
	pkt_pool_fini();
	return 0;
}

static uint32_t ref_sum(const uint8_t *d, uint32_t len, uint32_t sum)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(d[i] << 8 | d[i + 1]);
	if (len & 1)
		sum += (uint32_t)(d[len - 1] << 8);
	return sum;
}

static uint16_t ref_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* True if the L4 checksum of the frame verifies (sum over pseudo header and
 * segment is 0xffff). */
static bool l4_ok(const uint8_t *f, uint32_t len)
{
	struct l3l4 l;
	assert_int_equal(offload_parse_l3l4(f, len, &l), 0);
	uint32_t l4len = len - l.l4_off, sum = 0;
	uint8_t ph[40] = { 0 };
	if (l.ethertype == ETH_TYPE_IPV4) {
		sum = ref_sum(f + l.l3_off + 12, 8, 0);
	} else {
		sum = ref_sum(f + l.l3_off + 8, 32, 0);
	}
	ph[0] = 0;
	ph[1] = l.l4_proto;
	sum = ref_sum(ph, 2, sum);
	sum += l4len >> 16;
	sum += l4len & 0xffff;
	sum = ref_sum(f + l.l4_off, l4len, sum);
	return ref_fold(sum) == 0xffff;
}

static bool ip4_hdr_ok(const uint8_t *f)
{
	uint32_t ihl = (f[14] & 0xf) * 4u;
	return ref_fold(ref_sum(f + 14, ihl, 0)) == 0xffff;
}

/* Ethernet + IPv4 or IPv6 + TCP/UDP with `payload` bytes of a pattern. */
static uint32_t build(uint8_t *f, bool v6, uint8_t proto, uint32_t payload)
{
	uint8_t dst[6] = { 2, 0, 0, 0, 0, 2 }, src[6] = { 2, 0, 0, 0, 0, 1 };
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	uint32_t off = 14, l4h = proto == IPPROTO_TCP ? 20 : 8;
	if (!v6) {
		eth_put_be16(f + 12, ETH_TYPE_IPV4);
		uint8_t *ip = f + off;
		memset(ip, 0, 20);
		ip[0] = 0x45;
		eth_put_be16(ip + 2, (uint16_t)(20 + l4h + payload));
		eth_put_be16(ip + 4, 0x1234);
		ip[8] = 64;
		ip[9] = proto;
		uint8_t s[4] = { 10, 0, 0, 1 }, d[4] = { 10, 0, 0, 2 };
		memcpy(ip + 12, s, 4);
		memcpy(ip + 16, d, 4);
		uint16_t c = htons((uint16_t)~ref_fold(ref_sum(ip, 20, 0)));
		memcpy(ip + 10, &c, 2);
		off += 20;
	} else {
		eth_put_be16(f + 12, ETH_TYPE_IPV6);
		uint8_t *ip = f + off;
		memset(ip, 0, 40);
		ip[0] = 0x60;
		eth_put_be16(ip + 4, (uint16_t)(l4h + payload));
		ip[6] = proto;
		ip[7] = 64;
		ip[8] = 0xfd;
		ip[23] = 1;
		ip[24] = 0xfd;
		ip[39] = 2;
		off += 40;
	}
	uint8_t *l4 = f + off;
	memset(l4, 0, l4h);
	eth_put_be16(l4, 40000);
	eth_put_be16(l4 + 2, 5001);
	if (proto == IPPROTO_TCP) {
		l4[4] = 0x10; /* seq 0x10000000 */
		l4[12] = 5 << 4;
		l4[13] = 0x18 | 0x01 | 0x80; /* PSH ACK FIN CWR */
	} else {
		eth_put_be16(l4 + 4, (uint16_t)(8 + payload));
	}
	for (uint32_t i = 0; i < payload; i++)
		l4[l4h + i] = (uint8_t)(i * 7 + 3);
	return off + l4h + payload;
}

/* Put the pseudo-header sum in the checksum field, as a sender with
 * checksum offload does, and describe it in the metadata. */
static void make_partial(struct pkt *p)
{
	struct l3l4 l;
	assert_int_equal(offload_parse_l3l4(p->data, p->len, &l), 0);
	uint32_t l4len = p->len - l.l4_off, sum;
	if (l.ethertype == ETH_TYPE_IPV4)
		sum = ref_sum(p->data + l.l3_off + 12, 8, 0);
	else
		sum = ref_sum(p->data + l.l3_off + 8, 32, 0);
	sum += l.l4_proto + (l4len >> 16) + (l4len & 0xffff);
	uint16_t field = l.l4_proto == IPPROTO_TCP ? 16 : 6;
	uint16_t c = htons(ref_fold(sum));
	memcpy(p->data + l.l4_off + field, &c, 2);
	p->off.flags = PKT_OFF_F_NEEDS_CSUM;
	p->off.csum_start = l.l4_off;
	p->off.csum_offset = field;
}

static struct pkt *mk(bool v6, uint8_t proto, uint32_t payload)
{
	static uint8_t f[70000];
	uint32_t len = build(f, v6, proto, payload);
	struct pkt *p = pkt_alloc(len);
	assert_non_null(p);
	memcpy(p->data, f, len);
	p->len = len;
	return p;
}

static void complete_udp4(void **state)
{
	struct pkt *p = mk(false, IPPROTO_UDP, 300);
	make_partial(p);
	assert_false(l4_ok(p->data, p->len));
	assert_int_equal(offload_csum_complete(p), 0);
	assert_true(l4_ok(p->data, p->len));
	assert_int_equal(p->off.flags & PKT_OFF_F_NEEDS_CSUM, 0);
	/* A second pass (another receiver of the same packet) changes nothing. */
	uint8_t copy[400];
	memcpy(copy, p->data, p->len);
	assert_int_equal(offload_csum_complete(p), 0);
	assert_memory_equal(copy, p->data, p->len);
	pkt_free(p);
}

static void complete_tcp6_odd_length(void **state)
{
	struct pkt *p = mk(true, IPPROTO_TCP, 1001);
	make_partial(p);
	assert_int_equal(offload_csum_complete(p), 0);
	assert_true(l4_ok(p->data, p->len));
	pkt_free(p);
}

static void complete_rejects_field_outside_frame(void **state)
{
	struct pkt *p = mk(false, IPPROTO_UDP, 10);
	p->off.flags = PKT_OFF_F_NEEDS_CSUM;
	p->off.csum_start = (uint16_t)(p->len - 1);
	p->off.csum_offset = 0;
	assert_int_equal(offload_validate(p), -EINVAL);
	assert_int_equal(offload_csum_complete(p), -EINVAL);
	pkt_free(p);
}

static void check_segments(bool v6, uint8_t proto, uint32_t payload, uint16_t mss)
{
	struct pkt *p = mk(v6, proto, payload);
	make_partial(p);
	p->off.gso_type = proto == IPPROTO_UDP ? PKT_GSO_UDP_L4 : v6 ? PKT_GSO_TCPV6 : PKT_GSO_TCPV4;
	p->off.gso_size = mss;
	struct pkt *seg[128];
	int n = offload_segment(p, seg, 128);
	unsigned want = (payload + mss - 1) / mss;
	assert_int_equal(n, (int)want);
	struct l3l4 l;
	assert_int_equal(offload_parse_l3l4(p->data, p->len, &l), 0);
	uint32_t hdr = l.l4_off + l.l4_hlen, got = 0;
	for (int i = 0; i < n; i++) {
		struct pkt *s = seg[i];
		uint32_t seglen = s->len - hdr;
		assert_true(seglen <= mss);
		assert_true(l4_ok(s->data, s->len));
		assert_int_equal(s->off.flags, 0);
		assert_int_equal(s->off.gso_type, 0);
		if (!v6) {
			assert_true(ip4_hdr_ok(s->data));
			assert_int_equal(eth_get_be16(s->data + 16), s->len - 14);
		} else {
			assert_int_equal(eth_get_be16(s->data + 18), s->len - 54);
		}
		if (proto == IPPROTO_TCP) {
			const uint8_t *t = s->data + l.l4_off;
			uint32_t seq = (uint32_t)t[4] << 24 | t[5] << 16 | t[6] << 8 | t[7];
			assert_int_equal(seq, 0x10000000u + got);
			bool lastseg = i == n - 1;
			assert_int_equal(!!(t[13] & 0x01), lastseg); /* FIN */
			assert_int_equal(!!(t[13] & 0x08), lastseg); /* PSH */
			assert_int_equal(!!(t[13] & 0x80), i == 0);  /* CWR */
			assert_true(t[13] & 0x10);		     /* ACK always */
		} else {
			assert_int_equal(eth_get_be16(s->data + l.l4_off + 4), seglen + 8);
		}
		assert_memory_equal(s->data + hdr, p->data + hdr + got, seglen);
		got += seglen;
		pkt_free(s);
	}
	assert_int_equal(got, payload);
	pkt_free(p);
}

static void segment_tcp4(void **state)
{
	check_segments(false, IPPROTO_TCP, 60000, 1448);
}

static void segment_tcp6(void **state)
{
	check_segments(true, IPPROTO_TCP, 5001, 1440);
}

static void segment_udp_l4(void **state)
{
	check_segments(false, IPPROTO_UDP, 4000, 1472);
}

static void segment_refuses_mismatched_type(void **state)
{
	struct pkt *p = mk(true, IPPROTO_TCP, 3000);
	make_partial(p);
	p->off.gso_type = PKT_GSO_TCPV4; /* says v4, frame is v6 */
	p->off.gso_size = 1000;
	struct pkt *seg[8];
	assert_int_equal(offload_validate(p), -EINVAL);
	assert_int_equal(offload_segment(p, seg, 8), -EINVAL);
	p->off.gso_type = PKT_GSO_TCPV6;
	p->off.gso_size = 0;
	assert_int_equal(offload_segment(p, seg, 8), -EINVAL);
	p->off.gso_size = 100; /* 30 segments do not fit in 8 */
	assert_int_equal(offload_segment(p, seg, 8), -E2BIG);
	p->off.gso_type = PKT_GSO_UDP; /* UFO: obsolete, never accepted */
	assert_int_equal(offload_validate(p), -EINVAL);
	pkt_free(p);
}

static void parse_vlan_tagged(void **state)
{
	uint8_t f[200], g[204];
	uint32_t len = build(f, false, IPPROTO_UDP, 20);
	memcpy(g, f, 12);
	eth_put_be16(g + 12, ETH_TYPE_VLAN);
	eth_put_be16(g + 14, 100);
	memcpy(g + 16, f + 12, len - 12);
	struct l3l4 l;
	assert_int_equal(offload_parse_l3l4(g, len + 4, &l), 0);
	assert_int_equal(l.l3_off, 18);
	assert_int_equal(l.l4_off, 38);
	assert_int_equal(l.l4_proto, IPPROTO_UDP);
	/* Truncated headers are refused, never read past the end. */
	for (uint32_t cut = 0; cut < 46; cut++)
		assert_int_equal(offload_parse_l3l4(g, cut, &l), -EINVAL);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(complete_udp4),
	cmocka_unit_test(complete_tcp6_odd_length),
	cmocka_unit_test(complete_rejects_field_outside_frame),
	cmocka_unit_test(segment_tcp4),
	cmocka_unit_test(segment_tcp6),
	cmocka_unit_test(segment_udp_l4),
	cmocka_unit_test(segment_refuses_mismatched_type),
	cmocka_unit_test(parse_vlan_tagged),
};

UNIT_MAIN_FULL(tests, setup, teardown)
