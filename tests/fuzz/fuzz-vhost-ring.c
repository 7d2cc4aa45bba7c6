/* Fuzz target: the virtqueue walker and both data directions over
 * guest memory the input writes (every descriptor, index and buffer).
 *
 * The guest memory is one 64 KiB region (malloc'd, so ASan catches any byte
 * read or written outside it).  The input's first bytes configure the rings
 * (size, features), the rest is the memory: the guest's TX ring at offset
 * 0, its RX ring at 2048, buffers anywhere (guest-physical 0x10000 + offset).
 * Checks: no access outside guest memory, frames taken are of legal size,
 * every packet goes back to the pool, and a broken ring is reported, not
 * survived by luck.  With zero copy (a bit of the input), frames taken by
 * reference into guest memory are written straight into the same memory's
 * RX ring (a hostile guest can make them overlap), and the TX used index
 * must be published once they are all released.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"
#include "port.h"
#include "vhost/vhost-mem.h"
#include "vhost/virtq.h"

#define REGION 65536u
#define GPA 0x10000ull

static uint8_t *mem;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (pkt_pool_init(256, 16, 64) < 0 || !(mem = malloc(REGION)))
		abort();
	return 0;
}

static void setup(struct virtq *vq, struct vhost_mem *m, uint64_t off, uint32_t num, uint8_t f)
{
	const char *why;
	virtq_init(vq);
	vq->num = num;
	vq->desc_uva = GPA + off;
	vq->avail_uva = GPA + off + 1024;
	vq->used_uva = GPA + off + 1280;
	vq->addr_set = true;
	vq->started = vq->enabled = true;
	vq->mrg = f & 1;
	vq->event_idx = f & 2;
	vq->indirect = f & 4;
	vq->hdr_len = (f & 8) || vq->mrg ? 12 : 10;
	vq->rx_offloads = (f >> 4) & PORT_OFF_ALL;
	if (virtq_map(vq, m, &why) < 0)
		abort(); /* the layout above is always valid */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	uint32_t num = 1u << (data[0] % 7); /* 1..64 entries: fits 1 KiB */
	struct vhost_mem m = { 0 };
	memset(mem, 0, REGION);
	memcpy(mem, data + 4, size - 4 < REGION ? size - 4 : REGION);
	if (vhost_mem_add_host(&m, GPA, GPA, mem, REGION) < 0)
		abort();
	struct virtq tx, rx;
	setup(&tx, &m, 0, num, data[1]);
	setup(&rx, &m, 2048, num, data[1]);
	tx.zero_copy = data[2] & 0x80;

	struct port_stats st = { 0 };
	const char *why;
	struct vq_chain c;
	for (uint32_t h = 0; h < num; h++) {
		why = NULL;
		int r = virtq_walk(&tx, &m, (uint16_t)h, false, &c, &why);
		if (r < 0 && r != -E2BIG && !why)
			abort(); /* a broken ring must say why */
		if (r == 0 && c.nseg > VQ_MAX_SEGS)
			abort();
	}
	struct pkt *pkts[PKT_BURST];
	for (int round = 0; round < 3; round++) {
		why = NULL;
		int n = virtq_tx_dequeue(&tx, &m, pkts, PKT_BURST, &st, &why);
		if (n < 0) {
			if (!why)
				abort();
			break;
		}
		for (int i = 0; i < n; i++)
			if (pkts[i]->len > PKT_MAX_FRAME)
				abort();
		bool by_ref = false;
		for (int i = 0; i < n; i++)
			by_ref |= pkts[i]->kind == PKT_EXT;
		if (tx.zero_copy && n > 0) {
			/* Straight from guest TX buffers into guest RX ones. */
			why = NULL;
			if (virtq_rx_enqueue(&rx, &m, pkts, (unsigned)n, &st, &why) < 0 && !why)
				abort();
		}
		pkt_free_burst(pkts, (unsigned)n);
		/* Nothing held: whatever was taken is published (by the last
		 * release, after the RX writes, if any frame was by reference). */
		if (tx.zc_out || tx.zc_unpublished ||
		    (by_ref && vq_le16(tx.used->idx) != tx.last_used_idx))
			abort();
	}
	/* Frames of the input's sizes into the guest's RX ring. */
	unsigned sizes[3] = { 60 + data[2] % 64, 1514, 60 + (data[3] << 6) % 9000 };
	for (unsigned i = 0; i < 3; i++) {
		pkts[i] = pkt_alloc(sizes[i]);
		if (!pkts[i])
			abort();
		memset(pkts[i]->data, (int)i, sizes[i]);
		pkts[i]->len = sizes[i];
	}
	why = NULL;
	if (virtq_rx_enqueue(&rx, &m, pkts, 3, &st, &why) < 0 && !why)
		abort();
	pkt_free_burst(pkts, 3);
	if (st.tx_packets + st.tx_drop[TX_DROP_QUEUE_FULL] + st.tx_drop[TX_DROP_ERROR] >
	    3 + 3 * PKT_BURST)
		abort(); /* a frame counted twice */

	struct pkt_pool_stats ps;
	pkt_pool_get_stats(&ps);
	if (ps.small_free != ps.small_total || ps.large_free != ps.large_total ||
	    ps.ext_free != ps.ext_total)
		abort();
	return 0;
}
