/* The vhost-user backend without QEMU: our own frontend (vhost/vu-front.c)
 * plays the guest over a socketpair and a memfd, and the backend runs in
 * this process (the frontend "pumps" it after each message).
 *
 *   guest (vf) ==socketpair + memfd==> [vu] vhost-user port --switch s-- [pipe]
 *
 * Then the hostile cases: each must reset the port (stats.resets, state
 * down, the frontend sees the socket close) and nothing else.  The walker
 * tests at the end run the pure ring functions over a region followed by an
 * inaccessible page: a read past the region would crash them.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eth.h"
#include "loop.h"
#include "offload.h"
#include "port-pipe.h"
#include "port-vhost-user.h"
#include "sw.h"
#include "vhost/vhost-dev.h"
#include "vhost/virtq.h"
#include "vhost/vu-front.h"

static const uint8_t MAC_G[6] = { 2, 0, 0, 0, 0, 1 }; /* the guest */
static const uint8_t MAC_P[6] = { 2, 0, 0, 0, 0, 2 }; /* behind the pipe */

#define BASE_FEATURES                                                                             \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MRG_RXBUF) |                        \
	 (1ull << VIRTIO_RING_F_EVENT_IDX))

struct fx {
	struct loop *loop;
	struct sw *sw;
	struct port *vu, *pipe;
	struct vf f;
	int sv[2];
};

static void pump(void *arg)
{
	vhost_user_test_conn_readable(arg);
}

static int fx_open(struct fx *x, uint64_t features, uint32_t qsize, uint32_t txbuf, uint32_t rxbuf)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x->sv), 0);
	x->vu = port_new(&port_vhost_user_ops, "vu", x->loop);
	assert_non_null(x->vu);
	assert_int_equal(sw_port_attach(x->sw, x->vu), 0);
	assert_int_equal(x->vu->ops->open(x->vu, &(struct port_args){ .fd = x->sv[0] }), 0);
	struct vf_opts o = { .features = features, .qsize = qsize, .txbuf = txbuf, .rxbuf = rxbuf };
	assert_int_equal(vf_init(&x->f, x->sv[1], &o), 0);
	x->f.pump = pump;
	x->f.pump_arg = x->vu;
	return vf_handshake(&x->f);
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	/* With packets over guest memory: the port takes frames by reference
	 * where it can, as in the daemon. */
	assert_int_equal(pkt_pool_init(1024, 64, 256), 0);
	x->loop = loop_new();
	x->sw = sw_new("s", SW_PRIVATE, 1500, 1000, 300);
	x->pipe = port_new(&port_pipe_ops, "pipe", NULL);
	assert_int_equal(sw_port_attach(x->sw, x->pipe), 0);
	assert_int_equal(x->pipe->ops->open(x->pipe, &(struct port_args){ .fd = -1 }), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	if (x->vu) {
		x->vu->ops->close(x->vu);
		sw_port_detach(x->sw, x->vu);
		port_free(x->vu);
	}
	vf_fini(&x->f);
	x->pipe->ops->close(x->pipe);
	sw_port_detach(x->sw, x->pipe);
	port_free(x->pipe);
	sw_free(x->sw);
	loop_free(x->loop);
	struct pkt_pool_stats st;
	pkt_pool_get_stats(&st);
	assert_int_equal(st.small_free, st.small_total);
	assert_int_equal(st.large_free, st.large_total);
	assert_int_equal(st.ext_free, st.ext_total);
	pkt_pool_fini();
	free(x);
	return 0;
}

static uint32_t frame(uint8_t *buf, const uint8_t *dst, const uint8_t *src, uint32_t len,
		      uint8_t tag)
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	eth_put_be16(buf + 12, 0x88b5);
	for (uint32_t i = 14; i < len; i++)
		buf[i] = (uint8_t)(i * 13 + tag);
	return len;
}

/* The guest sends one frame (virtio-net header zero unless h is given). */
static void guest_send(struct fx *x, const uint8_t *fr, uint32_t len, const struct vnet_hdr_mrg *h)
{
	assert_true(vf_tx_reclaim(&x->f) > 0);
	uint8_t *b = vf_tx_buf(&x->f, 0);
	memset(b, 0, x->f.hdr_len);
	if (h)
		memcpy(b, h, x->f.hdr_len);
	memcpy(b + x->f.hdr_len, fr, len);
	vf_tx_post(&x->f, 1, x->f.hdr_len + len);
}

static struct pipe_priv *pipe_of(struct fx *x)
{
	return port_priv(x->pipe);
}

struct rx_log {
	unsigned n;
	uint32_t len[8];
	uint16_t nbufs[8];
	struct vnet_hdr_mrg h[8];
	uint8_t data[8][4096];
};

static void rx_cb(void *arg, const struct vnet_hdr_mrg *h, const uint8_t *fr, uint32_t len)
{
	struct rx_log *l = arg;
	if (l->n == 8)
		return;
	l->len[l->n] = len;
	l->h[l->n] = *h;
	l->nbufs[l->n] = h->num_buffers;
	memcpy(l->data[l->n], fr, len < 4096 ? len : 4096);
	l->n++;
}

static void inject(struct fx *x, uint32_t len, uint8_t tag)
{
	uint8_t buf[4096];
	assert_int_equal(pipe_inject(x->pipe, buf, frame(buf, MAC_G, MAC_P, len, tag)), 0);
}

/* The port must have dropped the frontend for a protocol error. */
static void assert_reset(struct fx *x)
{
	char c;
	assert_int_equal(x->vu->stats.resets, 1);
	assert_int_not_equal(x->vu->state, PORT_UP);
	/* Closed by the backend: end of file, or a reset if it left data
	 * unread. */
	ssize_t r = read(x->sv[1], &c, 1);
	assert_true(r == 0 || (r < 0 && errno == ECONNRESET));
}

/* ---- handshake, data both ways ---- */

static void handshake_brings_port_up(void **state)
{
	struct fx *x = *state;
	uint64_t want = BASE_FEATURES | (1ull << VIRTIO_NET_F_GUEST_CSUM) |
			(1ull << VIRTIO_NET_F_GUEST_TSO4) | (1ull << VIRTIO_NET_F_GUEST_TSO6);
	assert_int_equal(fx_open(x, want, 256, 2048, 2048), 0);
	assert_int_equal(x->vu->state, PORT_UP);
	assert_true(x->f.features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	assert_true(x->f.protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	assert_int_equal(x->vu->tx_offloads, PORT_OFF_CSUM | PORT_OFF_TSO4 | PORT_OFF_TSO6);
	assert_int_equal(x->vu->stats.resets, 0);
}

static void offers_what_it_implements(void **state)
{
	struct fx *x = *state;
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	uint64_t must = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MRG_RXBUF) |
			(1ull << VHOST_USER_F_PROTOCOL_FEATURES) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
			(1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |
			(1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_GUEST_TSO4);
	assert_int_equal(x->f.offered & must, must);
	assert_false(x->f.offered & (1ull << VIRTIO_NET_F_MQ));
	uint64_t q;
	assert_int_equal(vf_call_u64(&x->f, VHOST_USER_GET_QUEUE_NUM, VHOST_USER_VERSION, NULL, 0, &q),
			 0);
	assert_int_equal(q, 1);
}

static void guest_frame_reaches_switch(void **state)
{
	struct fx *x = *state;
	uint8_t fr[200];
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	guest_send(x, fr, frame(fr, MAC_P, MAC_G, sizeof(fr), 1), NULL);
	vhost_user_test_kick(x->vu);
	assert_int_equal(pipe_of(x)->n, 1);
	assert_int_equal(pipe_of(x)->frames[0].len, sizeof(fr));
	assert_memory_equal(pipe_of(x)->frames[0].data, fr, sizeof(fr));
	assert_int_equal(x->vu->stats.rx_packets, 1);
	/* The buffer went back to the guest at once. */
	assert_int_equal(vf_tx_reclaim(&x->f), 64);
}

static void switch_frame_lands_in_guest(void **state)
{
	struct fx *x = *state;
	struct rx_log l = { 0 };
	uint8_t fr[300];
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	inject(x, sizeof(fr), 7);
	assert_int_equal(vf_rx_poll(&x->f, 8, rx_cb, &l), 1);
	frame(fr, MAC_G, MAC_P, sizeof(fr), 7);
	assert_int_equal(l.len[0], sizeof(fr));
	assert_int_equal(l.nbufs[0], 1);
	assert_int_equal(l.h[0].flags, 0);
	assert_memory_equal(l.data[0], fr, sizeof(fr));
	assert_int_equal(x->vu->stats.tx_packets, 1);
}

static void mergeable_buffers(void **state)
{
	struct fx *x = *state;
	struct rx_log l = { 0 };
	uint8_t fr[1000];
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 256), 0);
	inject(x, sizeof(fr), 3);
	assert_int_equal(vf_rx_poll(&x->f, 8, rx_cb, &l), 1);
	assert_int_equal(l.nbufs[0], (sizeof(fr) + 12 + 255) / 256);
	assert_int_equal(l.len[0], sizeof(fr));
	frame(fr, MAC_G, MAC_P, sizeof(fr), 3);
	assert_memory_equal(l.data[0], fr, sizeof(fr));
}

static void no_mrg_frame_must_fit_one_buffer(void **state)
{
	struct fx *x = *state;
	struct rx_log l = { 0 };
	assert_int_equal(fx_open(x, 1ull << VIRTIO_F_VERSION_1, 64, 2048, 256), 0);
	inject(x, 1000, 1); /* does not fit: dropped, the buffer stays */
	inject(x, 200, 2);
	assert_int_equal(vf_rx_poll(&x->f, 8, rx_cb, &l), 1);
	assert_int_equal(l.len[0], 200);
	assert_int_equal(x->vu->stats.tx_drop[TX_DROP_ERROR], 1);
	assert_int_equal(x->vu->stats.tx_packets, 1);
}

static void guest_without_buffers_loses_frames(void **state)
{
	struct fx *x = *state;
	assert_int_equal(fx_open(x, BASE_FEATURES, 16, 2048, 2048), 0);
	for (unsigned i = 0; i < 20; i++)
		inject(x, 100, (uint8_t)i); /* nobody reads: the ring fills */
	assert_int_equal(x->vu->stats.tx_packets, 16);
	assert_int_equal(x->vu->stats.tx_drop[TX_DROP_QUEUE_FULL], 4);
	struct rx_log l = { 0 };
	assert_int_equal(vf_rx_poll(&x->f, 8, rx_cb, &l), 8);
	inject(x, 100, 99); /* buffers again: delivered */
	assert_int_equal(x->vu->stats.tx_packets, 17);
	assert_int_equal(x->vu->stats.resets, 0);
}

/* ---- notifications ---- */

static bool call_pending(struct fx *x, unsigned q)
{
	return vf_call_seen(&x->f, q);
}

static void event_idx_suppresses_calls(void **state)
{
	struct fx *x = *state;
	struct rx_log l = { 0 };
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	call_pending(x, VF_RXQ);
	inject(x, 100, 1); /* the guest polls (used_event behind): no call */
	assert_false(call_pending(x, VF_RXQ));
	vf_rx_poll(&x->f, 8, rx_cb, &l);
	assert_true(vf_irq_arm(&x->f, VF_RXQ)); /* now it sleeps */
	inject(x, 100, 2);
	assert_true(call_pending(x, VF_RXQ));
	inject(x, 100, 3); /* used_event not moved on: no second call */
	assert_false(call_pending(x, VF_RXQ));
}

static void no_interrupt_flag_without_event_idx(void **state)
{
	struct fx *x = *state;
	assert_int_equal(fx_open(x, 1ull << VIRTIO_F_VERSION_1, 64, 2048, 2048), 0);
	call_pending(x, VF_RXQ);
	struct rx_log l = { 0 };
	inject(x, 100, 1);
	assert_false(call_pending(x, VF_RXQ)); /* VRING_AVAIL_F_NO_INTERRUPT */
	vf_rx_poll(&x->f, 8, rx_cb, &l);
	assert_true(vf_irq_arm(&x->f, VF_RXQ));
	inject(x, 100, 2);
	assert_true(call_pending(x, VF_RXQ));
}

static void kicks_when_sleeping_not_when_polling(void **state)
{
	struct fx *x = *state;
	uint8_t fr[100];
	frame(fr, MAC_P, MAC_G, sizeof(fr), 0);
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	/* Idle, not polled: the backend sleeps on kicks. */
	assert_true(vhost_user_test_kicks_on(x->vu));
	uint64_t k0 = x->f.q[VF_TXQ].kicks;
	guest_send(x, fr, sizeof(fr), NULL);
	assert_int_equal(x->f.q[VF_TXQ].kicks, k0 + 1);
	vhost_user_test_kick(x->vu);
	assert_int_equal(pipe_of(x)->total, 1);
	assert_true(vhost_user_test_kicks_on(x->vu)); /* empty again: on */
	/* Busy polling: kicks off, frames found without them; a poll says
	 * whether it found any (the loop yields the CPU when none did). */
	assert_false(x->vu->ops->poll(x->vu));
	assert_false(vhost_user_test_kicks_on(x->vu));
	guest_send(x, fr, sizeof(fr), NULL);
	assert_int_equal(x->f.q[VF_TXQ].kicks, k0 + 1);
	assert_true(x->vu->ops->poll(x->vu));
	assert_int_equal(pipe_of(x)->total, 2);
	assert_false(x->vu->ops->poll(x->vu));
	/* Polling stops: the next tick turns kicks back on. */
	x->vu->ops->tick(x->vu);
	x->vu->ops->tick(x->vu);
	assert_true(vhost_user_test_kicks_on(x->vu));
	guest_send(x, fr, sizeof(fr), NULL);
	assert_int_equal(x->f.q[VF_TXQ].kicks, k0 + 2);
}

static void no_notify_flag_without_event_idx(void **state)
{
	struct fx *x = *state;
	uint8_t fr[100];
	frame(fr, MAC_P, MAC_G, sizeof(fr), 0);
	assert_int_equal(fx_open(x, 1ull << VIRTIO_F_VERSION_1, 64, 2048, 2048), 0);
	assert_false(x->f.q[VF_TXQ].used->flags & VRING_USED_F_NO_NOTIFY);
	x->vu->ops->poll(x->vu);
	assert_true(x->f.q[VF_TXQ].used->flags & VRING_USED_F_NO_NOTIFY);
	uint64_t k0 = x->f.q[VF_TXQ].kicks;
	guest_send(x, fr, sizeof(fr), NULL);
	assert_int_equal(x->f.q[VF_TXQ].kicks, k0);
	/* The backend never wants kicks for RX buffers. */
	assert_true(x->f.q[VF_RXQ].used->flags & VRING_USED_F_NO_NOTIFY);
}

static void many_frames_yield_and_resume(void **state)
{
	struct fx *x = *state;
	uint8_t fr[80];
	frame(fr, MAC_P, MAC_G, sizeof(fr), 0);
	assert_int_equal(fx_open(x, BASE_FEATURES, 512, 2048, 2048), 0);
	pipe_of(x)->capacity = ~0u;
	unsigned n = vf_tx_reclaim(&x->f);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *b = vf_tx_buf(&x->f, i);
		memset(b, 0, 12);
		memcpy(b + 12, fr, sizeof(fr));
	}
	vf_tx_post(&x->f, n, 12 + sizeof(fr));
	vhost_user_test_kick(x->vu); /* one budget: 8 bursts, then a self-kick */
	assert_int_equal(pipe_of(x)->total, 8 * PKT_BURST);
	vhost_user_test_kick(x->vu);
	assert_int_equal(pipe_of(x)->total, 512);
}

/* ---- stop and resume ---- */

static uint16_t get_base(struct fx *x, unsigned q)
{
	struct vhost_user_state st = { q, 0 };
	struct vhost_user_msg m;
	assert_int_equal(vf_send(&x->f, VHOST_USER_GET_VRING_BASE, VHOST_USER_VERSION, &st,
				 sizeof(st), NULL, 0),
			 0);
	assert_int_equal(vf_recv(&x->f, &m), 0);
	assert_int_equal(m.hdr.size, sizeof(st));
	assert_int_equal(m.state.index, q);
	return (uint16_t)m.state.num;
}

static void vring_base_resume(void **state)
{
	struct fx *x = *state;
	struct rx_log l = { 0 };
	uint8_t fr[100];
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	for (uint8_t i = 0; i < 3; i++) {
		guest_send(x, fr, frame(fr, MAC_P, MAC_G, sizeof(fr), i), NULL);
		vhost_user_test_kick(x->vu);
		inject(x, 100, i);
	}
	assert_int_equal(vf_rx_poll(&x->f, 8, rx_cb, &l), 3);
	/* QEMU stopping the device: both rings report where they are. */
	assert_int_equal(get_base(x, VF_TXQ), 3);
	assert_int_equal(get_base(x, VF_RXQ), 3);
	assert_int_not_equal(x->vu->state, PORT_UP);
	/* Meanwhile the guest queues a frame; restart where we stopped. */
	guest_send(x, fr, frame(fr, MAC_P, MAC_G, sizeof(fr), 9), NULL);
	uint16_t base[2] = { 3, 3 };
	assert_int_equal(vf_handshake_ex(&x->f, base), 0);
	assert_int_equal(x->vu->state, PORT_UP);
	/* Taken once, neither lost nor repeated. */
	assert_int_equal(pipe_of(x)->total, 4);
	assert_memory_equal(pipe_of(x)->frames[3].data, fr, sizeof(fr));
	inject(x, 100, 42);
	l.n = 0;
	assert_int_equal(vf_rx_poll(&x->f, 8, rx_cb, &l), 1);
	assert_int_equal(l.data[0][20], (uint8_t)(20 * 13 + 42));
	assert_int_equal(x->vu->stats.resets, 0);
}

static void reconnect_resumes(void **state)
{
	struct fx *x = *state;
	uint8_t fr[100];
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	for (uint8_t i = 0; i < 5; i++) {
		guest_send(x, fr, frame(fr, MAC_P, MAC_G, sizeof(fr), i), NULL);
		vhost_user_test_kick(x->vu);
	}
	uint16_t base[2] = { get_base(x, VF_RXQ), get_base(x, VF_TXQ) };
	/* The backend goes away (switch restart): a new port, a new
	 * connection, the same guest memory. */
	x->vu->ops->close(x->vu);
	sw_port_detach(x->sw, x->vu);
	port_free(x->vu);
	close(x->f.sock);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x->sv), 0);
	x->vu = port_new(&port_vhost_user_ops, "vu", x->loop);
	assert_int_equal(sw_port_attach(x->sw, x->vu), 0);
	assert_int_equal(x->vu->ops->open(x->vu, &(struct port_args){ .fd = x->sv[0] }), 0);
	x->f.sock = x->sv[1];
	x->f.pump_arg = x->vu;
	guest_send(x, fr, frame(fr, MAC_P, MAC_G, sizeof(fr), 77), NULL);
	assert_int_equal(vf_handshake_ex(&x->f, base), 0);
	assert_int_equal(pipe_of(x)->total, 6);
	assert_memory_equal(pipe_of(x)->frames[5].data, fr, sizeof(fr));
}

/* ---- offloads ---- */

static uint32_t udp_frame(uint8_t *f, uint32_t payload)
{
	uint32_t len = 14 + 20 + 8 + payload;
	memset(f, 0, len);
	memcpy(f, MAC_P, 6);
	memcpy(f + 6, MAC_G, 6);
	eth_put_be16(f + 12, ETH_TYPE_IPV4);
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	eth_put_be16(ip + 2, (uint16_t)(20 + 8 + payload));
	ip[8] = 64;
	ip[9] = 17;
	ip[12] = 10;
	ip[15] = 1;
	ip[16] = 10;
	ip[19] = 2;
	eth_put_be16(ip + 10, inet_csum(ip, 20, 0));
	eth_put_be16(ip + 20, 1000);
	eth_put_be16(ip + 22, 2000);
	eth_put_be16(ip + 24, (uint16_t)(8 + payload));
	for (uint32_t i = 0; i < payload; i++)
		ip[28 + i] = (uint8_t)i;
	return len;
}

static void guest_partial_checksum_completed(void **state)
{
	struct fx *x = *state;
	uint8_t fr[200];
	uint32_t len = udp_frame(fr, 100);
	assert_int_equal(fx_open(x, BASE_FEATURES | (1ull << VIRTIO_NET_F_CSUM), 64, 2048, 2048), 0);
	/* Pseudo-header sum in the field, as a guest's stack leaves it. */
	uint32_t ps = inet_csum_partial(fr + 26, 8, 0) + htons(17) + htons((uint16_t)(8 + 100));
	uint16_t fold = (uint16_t)~inet_csum_fold(ps);
	memcpy(fr + 34 + 6, &fold, 2);
	struct vnet_hdr_mrg h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				  .csum_offset = 6 };
	guest_send(x, fr, len, &h);
	vhost_user_test_kick(x->vu);
	assert_int_equal(pipe_of(x)->total, 1);
	/* The pipe takes no offloads: the switch finished the checksum. */
	const uint8_t *out = pipe_of(x)->frames[0].data;
	uint32_t s = inet_csum_partial(out + 26, 8, 0) + htons(17) + htons((uint16_t)(8 + 100));
	assert_int_equal(inet_csum(out + 34, 8 + 100, s), 0);
}

static void offload_not_negotiated_is_dropped(void **state)
{
	struct fx *x = *state;
	uint8_t fr[200];
	uint32_t len = udp_frame(fr, 100);
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	struct vnet_hdr_mrg h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				  .csum_offset = 6 };
	guest_send(x, fr, len, &h);
	struct vnet_hdr_mrg g = { .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1000 };
	guest_send(x, fr, len, &g);
	vhost_user_test_kick(x->vu);
	assert_int_equal(pipe_of(x)->total, 0);
	assert_int_equal(x->vu->stats.rx_drop[RX_DROP_MALFORMED], 2);
	assert_int_equal(x->vu->stats.resets, 0);
}

static void partial_checksum_passed_to_guest(void **state)
{
	struct fx *x = *state;
	struct rx_log l = { 0 };
	assert_int_equal(fx_open(x, BASE_FEATURES | (1ull << VIRTIO_NET_F_GUEST_CSUM), 64, 2048, 2048),
			 0);
	struct pkt *k = pkt_alloc(200);
	k->len = udp_frame(k->data, 100);
	memcpy(k->data, MAC_G, 6);
	memcpy(k->data + 6, MAC_P, 6);
	k->off.flags = PKT_OFF_F_NEEDS_CSUM;
	k->off.csum_start = 34;
	k->off.csum_offset = 6;
	port_input(x->pipe, &k, 1);
	assert_int_equal(vf_rx_poll(&x->f, 8, rx_cb, &l), 1);
	assert_int_equal(l.h[0].flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(l.h[0].csum_start, 34);
	assert_int_equal(l.h[0].csum_offset, 6);
}

static void guest_tso_frame_is_segmented(void **state)
{
	struct fx *x = *state;
	static uint8_t fr[20000];
	uint64_t feat = BASE_FEATURES | (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_HOST_TSO4);
	assert_int_equal(fx_open(x, feat, 8, 32768, 2048), 0);
	uint32_t payload = 14000, len = 14 + 20 + 20 + payload;
	memset(fr, 0, len);
	memcpy(fr, MAC_P, 6);
	memcpy(fr + 6, MAC_G, 6);
	eth_put_be16(fr + 12, ETH_TYPE_IPV4);
	uint8_t *ip = fr + 14;
	ip[0] = 0x45;
	eth_put_be16(ip + 2, (uint16_t)(len - 14));
	ip[8] = 64;
	ip[9] = 6;
	ip[40 - 20 + 12] = 5 << 4; /* TCP data offset */
	struct vnet_hdr_mrg h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				  .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				  .hdr_len = 54,
				  .gso_size = 1400,
				  .csum_start = 34,
				  .csum_offset = 16 };
	guest_send(x, fr, len, &h);
	vhost_user_test_kick(x->vu);
	assert_int_equal(x->vu->stats.rx_packets, 1);
	assert_int_equal(pipe_of(x)->total, 10); /* 14000 / 1400 */
	assert_int_equal(pipe_of(x)->frames[0].len, 54 + 1400);
}

/* ---- hostile frontends and guests: each resets the port ---- */

static void corrupt_tx_desc(void **state, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct fx *x = *state;
	uint8_t fr[100];
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	guest_send(x, fr, frame(fr, MAC_P, MAC_G, sizeof(fr), 0), NULL);
	struct vring_desc *d = &x->f.q[VF_TXQ].desc[0];
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
	vhost_user_test_kick(x->vu);
	assert_reset(x);
	assert_int_equal(pipe_of(x)->total, 0);
	assert_int_equal(x->vu->stats.rx_drop[RX_DROP_MALFORMED], 1);
}

static void hostile_desc_outside_memory(void **state)
{
	corrupt_tx_desc(state, VF_GPA_BASE - 4096, 100, 0, 0);
}

static void hostile_desc_past_region_end(void **state)
{
	struct fx *x = *state;
	uint8_t fr[100];
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	guest_send(x, fr, frame(fr, MAC_P, MAC_G, sizeof(fr), 0), NULL);
	/* The first byte after guest memory. */
	x->f.q[VF_TXQ].desc[0].addr = VF_GPA_BASE + x->f.mem_size;
	x->f.q[VF_TXQ].desc[0].len = 1;
	vhost_user_test_kick(x->vu);
	assert_reset(x);
}

static void hostile_desc_len_overflows(void **state)
{
	corrupt_tx_desc(state, ~0ull - 15, 64, 0, 0);
}

static void hostile_chain_loops(void **state)
{
	corrupt_tx_desc(state, VF_GPA_BASE, 16, VRING_DESC_F_NEXT, 0);
}

static void hostile_next_out_of_range(void **state)
{
	corrupt_tx_desc(state, VF_GPA_BASE, 16, VRING_DESC_F_NEXT, 64);
}

static void hostile_writable_tx_buffer(void **state)
{
	corrupt_tx_desc(state, VF_GPA_BASE, 64, VRING_DESC_F_WRITE, 0);
}

static void hostile_indirect_not_negotiated(void **state)
{
	corrupt_tx_desc(state, VF_GPA_BASE, 16, VRING_DESC_F_INDIRECT, 0);
}

static void hostile_desc_straddles_end(void **state)
{
	struct fx *x = *state;
	uint8_t fr[100];
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	guest_send(x, fr, frame(fr, MAC_P, MAC_G, sizeof(fr), 0), NULL);
	struct vring_desc *d = &x->f.q[VF_TXQ].desc[0];
	d->addr = VF_GPA_BASE + x->f.mem_size - 50;
	d->len = 100;
	vhost_user_test_kick(x->vu);
	assert_reset(x);
}

static void hostile_head_out_of_range(void **state)
{
	struct fx *x = *state;
	uint8_t fr[100];
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	guest_send(x, fr, frame(fr, MAC_P, MAC_G, sizeof(fr), 0), NULL);
	x->f.q[VF_TXQ].avail->ring[0] = 64 + 5;
	vhost_user_test_kick(x->vu);
	assert_reset(x);
}

static void hostile_avail_jump(void **state)
{
	struct fx *x = *state;
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	x->f.q[VF_TXQ].avail->idx = 65;
	x->vu->ops->poll(x->vu);
	assert_reset(x);
}

static void hostile_readonly_rx_buffer(void **state)
{
	struct fx *x = *state;
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	x->f.q[VF_RXQ].desc[0].flags = 0;
	inject(x, 100, 0);
	assert_reset(x);
}

static void hostile_rx_buffer_smaller_than_header(void **state)
{
	struct fx *x = *state;
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	x->f.q[VF_RXQ].desc[0].len = 4;
	inject(x, 100, 0);
	assert_reset(x);
}

static void hostile_rx_desc_outside_memory(void **state)
{
	struct fx *x = *state;
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
	x->f.q[VF_RXQ].desc[0].addr = VF_GPA_BASE + x->f.mem_size;
	inject(x, 100, 0);
	assert_reset(x);
}

/* Raw messages against a connected port. */
static void raw_open(struct fx *x)
{
	assert_int_equal(fx_open(x, BASE_FEATURES, 64, 2048, 2048), 0);
}

static void hostile_wrong_size(void **state)
{
	struct fx *x = *state;
	raw_open(x);
	uint32_t v = 0;
	vf_send(&x->f, VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, &v, 4, NULL, 0);
	assert_reset(x);
}

static void hostile_unknown_request(void **state)
{
	struct fx *x = *state;
	raw_open(x);
	vf_send(&x->f, 99, VHOST_USER_VERSION, NULL, 0, NULL, 0);
	assert_reset(x);
}

static void hostile_feature_not_offered(void **state)
{
	struct fx *x = *state;
	raw_open(x);
	uint64_t v = 1ull << VIRTIO_NET_F_MQ;
	vf_send(&x->f, VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, &v, 8, NULL, 0);
	assert_reset(x);
}

static void hostile_fd_where_none_belongs(void **state)
{
	struct fx *x = *state;
	raw_open(x);
	int fd = eventfd(0, 0);
	vf_send(&x->f, VHOST_USER_SET_OWNER, VHOST_USER_VERSION, NULL, 0, &fd, 1);
	close(fd);
	assert_reset(x);
}

static void hostile_too_many_fds(void **state)
{
	struct fx *x = *state;
	raw_open(x);
	int fds[10];
	for (unsigned i = 0; i < 10; i++)
		fds[i] = eventfd(0, 0);
	struct vhost_user_mem m = { .nregions = 1 };
	vf_send(&x->f, VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION, &m, 8 + 32, fds, 10);
	for (unsigned i = 0; i < 10; i++)
		close(fds[i]);
	assert_reset(x);
}

static void hostile_kick_without_fd(void **state)
{
	struct fx *x = *state;
	raw_open(x);
	uint64_t v = 1; /* ring 1, fd promised but not sent */
	vf_send(&x->f, VHOST_USER_SET_VRING_KICK, VHOST_USER_VERSION, &v, 8, NULL, 0);
	assert_reset(x);
}

static void hostile_region_past_file_end(void **state)
{
	struct fx *x = *state;
	raw_open(x);
	struct vhost_user_mem m = { .nregions = 1 };
	m.regions[0] = (struct vhost_user_region){ .guest_phys_addr = 0,
						   .memory_size = x->f.mem_size + 4096,
						   .userspace_addr = 0x10000 };
	vf_send(&x->f, VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION, &m, 8 + 32, &x->f.memfd, 1);
	assert_reset(x);
}

static void hostile_region_wraps(void **state)
{
	struct fx *x = *state;
	raw_open(x);
	struct vhost_user_mem m = { .nregions = 1 };
	m.regions[0] = (struct vhost_user_region){ .guest_phys_addr = ~0ull - 100,
						   .memory_size = 4096,
						   .userspace_addr = 0x10000 };
	vf_send(&x->f, VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION, &m, 8 + 32, &x->f.memfd, 1);
	assert_reset(x);
}

static void hostile_ring_outside_memory(void **state)
{
	struct fx *x = *state;
	raw_open(x);
	struct vhost_user_addr a = { .index = 1,
				     .desc = (uint64_t)(uintptr_t)x->f.mem + x->f.mem_size - 16,
				     .used = (uint64_t)(uintptr_t)x->f.q[1].used,
				     .avail = (uint64_t)(uintptr_t)x->f.q[1].avail };
	vf_send(&x->f, VHOST_USER_SET_VRING_ADDR, VHOST_USER_VERSION, &a, sizeof(a), NULL, 0);
	assert_reset(x);
}

static void hostile_ring_size(void **state)
{
	struct fx *x = *state;
	raw_open(x);
	struct vhost_user_state st = { 1, 100 };
	vf_send(&x->f, VHOST_USER_SET_VRING_NUM, VHOST_USER_VERSION, &st, sizeof(st), NULL, 0);
	assert_reset(x);
}

static void hostile_ring_index(void **state)
{
	struct fx *x = *state;
	raw_open(x);
	struct vhost_user_state st = { 2, 1 };
	vf_send(&x->f, VHOST_USER_SET_VRING_ENABLE, VHOST_USER_VERSION, &st, sizeof(st), NULL, 0);
	assert_reset(x);
}

static void hostile_payload_too_large(void **state)
{
	struct fx *x = *state;
	raw_open(x);
	struct vhost_user_hdr h = { VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, 1u << 20 };
	assert_int_equal(write(x->f.sock, &h, sizeof(h)), sizeof(h));
	vhost_user_test_conn_readable(x->vu);
	assert_reset(x);
}

static void unsupported_request_refused_cleanly(void **state)
{
	struct fx *x = *state;
	uint64_t v = 0;
	raw_open(x);
	int fd = eventfd(0, 0);
	struct vhost_user_msg m;
	uint64_t log[2] = { 4096, 0 };
	assert_int_equal(vf_send(&x->f, VHOST_USER_SET_LOG_BASE,
				 VHOST_USER_VERSION | VHOST_USER_NEED_REPLY, log, sizeof(log), &fd, 1),
			 0);
	close(fd);
	assert_int_equal(vf_recv(&x->f, &m), 0);
	assert_int_not_equal(m.u64, 0); /* a negative ack */
	uint32_t cfg[3] = { 0, 6, 0 };
	assert_int_equal(vf_send(&x->f, VHOST_USER_GET_CONFIG, VHOST_USER_VERSION, cfg, sizeof(cfg),
				 NULL, 0),
			 0);
	assert_int_equal(vf_recv(&x->f, &m), 0);
	assert_int_equal(m.hdr.size, 0); /* "no" */
	/* Still connected and working. */
	assert_int_equal(vf_call_u64(&x->f, VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, NULL, 0, &v),
			 0);
	assert_int_equal(x->vu->stats.resets, 0);
	assert_int_equal(x->vu->state, PORT_UP);
}

static void other_ports_unaffected(void **state)
{
	struct fx *x = *state;
	uint8_t buf[100];
	corrupt_tx_desc(state, VF_GPA_BASE - 4096, 100, 0, 0);
	pipe_clear(x->pipe);
	/* The switch still forwards, and frames for the dead port count as
	 * link-down drops. */
	assert_int_equal(pipe_inject(x->pipe, buf, frame(buf, MAC_G, MAC_P, 100, 0)), 0);
	assert_int_equal(x->pipe->stats.rx_packets, 1);
}

/* ---- the pure ring functions over a region with a guard page ---- */

struct guarded {
	uint8_t *mem; /* two pages, then one no-access page */
	struct vhost_mem vm;
	struct virtq vq;
	struct vring_desc desc[8];
	uint8_t avail_mem[64];
	uint8_t used_mem[128];
};

static void guarded_init(struct guarded *g)
{
	memset(g, 0, sizeof(*g));
	g->mem = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->mem != MAP_FAILED);
	assert_int_equal(mprotect(g->mem + 8192, 4096, PROT_NONE), 0);
	vhost_mem_add_host(&g->vm, 0x10000, 0x7000000, g->mem, 8192);
	virtq_init(&g->vq);
	g->vq.num = 8;
	g->vq.mask = 7;
	g->vq.desc = g->desc;
	g->vq.avail = (struct vring_avail *)(void *)g->avail_mem;
	g->vq.used = (struct vring_used *)(void *)g->used_mem;
	g->vq.mapped = true;
	g->vq.started = true;
}

static void guarded_fini(struct guarded *g)
{
	munmap(g->mem, 3 * 4096);
}

static void walker_stays_inside_region(void **state)
{
	struct guarded g;
	struct vq_chain c;
	const char *why = NULL;
	(void)state;
	guarded_init(&g);
	/* Exactly up to the last byte: fine. */
	g.desc[0] = (struct vring_desc){ 0x10000 + 8192 - 100, 100, 0, 0 };
	assert_int_equal(virtq_walk(&g.vq, &g.vm, 0, false, &c, &why), 0);
	assert_int_equal(c.bytes, 100);
	/* One byte more: refused, nothing read. */
	g.desc[0].len = 101;
	assert_int_equal(virtq_walk(&g.vq, &g.vm, 0, false, &c, &why), -EFAULT);
	assert_non_null(why);
	/* Below the region. */
	g.desc[0] = (struct vring_desc){ 0x10000 - 1, 2, 0, 0 };
	assert_int_equal(virtq_walk(&g.vq, &g.vm, 0, false, &c, &why), -EFAULT);
	/* A chain through every entry and back: a loop. */
	for (uint16_t i = 0; i < 8; i++)
		g.desc[i] = (struct vring_desc){ 0x10000, 1, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % 8) };
	assert_int_equal(virtq_walk(&g.vq, &g.vm, 3, false, &c, &why), -ELOOP);
	/* Exactly the ring size long: fine. */
	g.desc[2].flags = 0;
	assert_int_equal(virtq_walk(&g.vq, &g.vm, 3, false, &c, &why), 0);
	assert_int_equal(c.bytes, 8);
	guarded_fini(&g);
}

static void walker_indirect(void **state)
{
	struct guarded g;
	struct vq_chain c;
	const char *why = NULL;
	(void)state;
	guarded_init(&g);
	g.vq.indirect = true;
	/* Table in guest memory at 0x10000 + 4096: two buffers. */
	struct vring_desc *t = (struct vring_desc *)(void *)(g.mem + 4096);
	t[0] = (struct vring_desc){ 0x10000, 12, VRING_DESC_F_NEXT, 1 };
	t[1] = (struct vring_desc){ 0x10000 + 100, 60, 0, 0 };
	g.desc[0] = (struct vring_desc){ 0x10000 + 4096, 32, VRING_DESC_F_INDIRECT, 0 };
	assert_int_equal(virtq_walk(&g.vq, &g.vm, 0, false, &c, &why), 0);
	assert_int_equal(c.nseg, 2);
	assert_int_equal(c.bytes, 72);
	/* Next beyond the table. */
	t[1].flags = VRING_DESC_F_NEXT;
	t[1].next = 2;
	assert_int_equal(virtq_walk(&g.vq, &g.vm, 0, false, &c, &why), -EINVAL);
	/* Loop inside the table. */
	t[1].next = 0;
	assert_int_equal(virtq_walk(&g.vq, &g.vm, 0, false, &c, &why), -ELOOP);
	/* Nested. */
	t[1] = (struct vring_desc){ 0x10000 + 4096, 16, VRING_DESC_F_INDIRECT, 0 };
	assert_int_equal(virtq_walk(&g.vq, &g.vm, 0, false, &c, &why), -EINVAL);
	/* Table running into the guard page. */
	g.desc[0] = (struct vring_desc){ 0x10000 + 8192 - 16, 32, VRING_DESC_F_INDIRECT, 0 };
	assert_int_equal(virtq_walk(&g.vq, &g.vm, 0, false, &c, &why), -EFAULT);
	/* Length not a multiple of a descriptor. */
	g.desc[0] = (struct vring_desc){ 0x10000 + 4096, 20, VRING_DESC_F_INDIRECT, 0 };
	assert_int_equal(virtq_walk(&g.vq, &g.vm, 0, false, &c, &why), -EINVAL);
	/* With NEXT besides. */
	g.desc[0] = (struct vring_desc){ 0x10000 + 4096, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT,
					 1 };
	assert_int_equal(virtq_walk(&g.vq, &g.vm, 0, false, &c, &why), -EINVAL);
	/* Not negotiated. */
	g.vq.indirect = false;
	g.desc[0] = (struct vring_desc){ 0x10000 + 4096, 32, VRING_DESC_F_INDIRECT, 0 };
	assert_int_equal(virtq_walk(&g.vq, &g.vm, 0, false, &c, &why), -EINVAL);
	guarded_fini(&g);
}

static void dequeue_frame_at_region_end(void **state)
{
	struct guarded g;
	struct port_stats st = { 0 };
	struct pkt *pkts[4];
	const char *why = NULL;
	(void)state;
	assert_int_equal(pkt_pool_init(16, 2, 0), 0);
	guarded_init(&g);
	/* Header and frame split over two regions' worth of pieces, the last
	 * byte of the frame the last byte of guest memory. */
	uint8_t *end = g.mem + 8192;
	memset(end - 72, 0, 12);
	for (unsigned i = 0; i < 60; i++)
		end[-60 + (int)i] = (uint8_t)i;
	g.desc[1] = (struct vring_desc){ 0x10000 + 8192 - 72, 5, VRING_DESC_F_NEXT, 2 };
	g.desc[2] = (struct vring_desc){ 0x10000 + 8192 - 67, 67, 0, 0 };
	g.vq.avail->ring[0] = 1;
	g.vq.avail->idx = 1;
	assert_int_equal(virtq_tx_dequeue(&g.vq, &g.vm, pkts, 4, &st, &why), 1);
	assert_int_equal(pkts[0]->len, 60);
	assert_int_equal(pkts[0]->data[59], 59);
	assert_int_equal(g.vq.used->idx, 1);
	assert_int_equal(g.vq.used->ring[0].id, 1);
	pkt_free(pkts[0]);
	/* A chain through every entry of the ring: gathered. */
	for (uint16_t i = 0; i < 8; i++)
		g.desc[i] = (struct vring_desc){ 0x10000 + i * 16u, 16, VRING_DESC_F_NEXT,
						 (uint16_t)(i + 1) };
	g.desc[7].flags = 0;
	g.vq.avail->ring[1] = 0;
	g.vq.avail->idx = 2;
	assert_int_equal(virtq_tx_dequeue(&g.vq, &g.vm, pkts, 4, &st, &why), 1);
	assert_int_equal(pkts[0]->len, 8 * 16 - 12);
	pkt_free(pkts[0]);
	/* The avail index jumping past the ring size: fatal. */
	g.vq.avail->idx = 2 + 9;
	assert_int_equal(virtq_tx_dequeue(&g.vq, &g.vm, pkts, 4, &st, &why), -EPROTO);
	guarded_fini(&g);
	pkt_pool_fini();
}

/* Zero copy: a plain frame in one piece of guest memory becomes a packet
 * over that memory, and the guest gets its buffer back (the used index
 * moves) only when the last reference is gone. */
static void zero_copy_publishes_on_release(void **state)
{
	struct guarded g;
	struct port_stats st = { 0 };
	struct pkt *pkts[4];
	const char *why = NULL;
	(void)state;
	assert_int_equal(pkt_pool_init(16, 2, 8), 0);
	guarded_init(&g);
	g.vq.zero_copy = true;
	g.vq.hdr_len = 12;
	/* Two frames, header and frame in one buffer each (as DPDK and
	 * Linux guests send small frames). */
	for (unsigned f = 0; f < 2; f++) {
		uint8_t *b = g.mem + 1024 * f;
		memset(b, 0, 12);
		for (unsigned i = 0; i < 60; i++)
			b[12 + i] = (uint8_t)(i + f);
		g.desc[f] = (struct vring_desc){ 0x10000 + 1024 * f, 72, 0, 0 };
		g.vq.avail->ring[f] = (uint16_t)f;
	}
	g.vq.avail->idx = 2;
	assert_int_equal(virtq_tx_dequeue(&g.vq, &g.vm, pkts, 4, &st, &why), 2);
	for (unsigned f = 0; f < 2; f++) {
		assert_int_equal(pkts[f]->kind, PKT_EXT);
		assert_ptr_equal(pkts[f]->data, g.mem + 1024 * f + 12);
		assert_int_equal(pkts[f]->len, 60);
	}
	/* Both chains are written to the used ring, neither is published. */
	assert_int_equal(g.vq.used->ring[0].id, 0);
	assert_int_equal(g.vq.used->ring[1].id, 1);
	assert_int_equal(g.vq.used->idx, 0);
	/* A flood's extra reference keeps the buffer too. */
	pkt_ref(pkts[1]);
	pkt_free(pkts[0]);
	pkt_free(pkts[1]);
	assert_int_equal(g.vq.used->idx, 0);
	pkt_free(pkts[1]);
	assert_int_equal(g.vq.used->idx, 2);
	assert_int_equal(g.vq.last_used_idx, 2);
	guarded_fini(&g);
	struct pkt_pool_stats ps;
	pkt_pool_get_stats(&ps);
	assert_int_equal(ps.ext_free, ps.ext_total);
	pkt_pool_fini();
}

/* Frames zero copy must not take: split over buffers, carrying offload work
 * (checksum completion writes the frame), or no packet over guest memory
 * left.  Each is copied, and its chain published at once. */
static void zero_copy_only_where_safe(void **state)
{
	struct guarded g;
	struct port_stats st = { 0 };
	struct pkt *pkts[4];
	const char *why = NULL;
	(void)state;
	assert_int_equal(pkt_pool_init(16, 2, 1), 0);
	guarded_init(&g);
	g.vq.zero_copy = true;
	g.vq.hdr_len = 12;
	g.vq.rx_offloads = PORT_OFF_CSUM;
	memset(g.mem, 0, 4096);
	/* 0: header in one buffer, frame in the next: fine, one piece. */
	g.desc[0] = (struct vring_desc){ 0x10000, 12, VRING_DESC_F_NEXT, 1 };
	g.desc[1] = (struct vring_desc){ 0x10000 + 100, 60, 0, 0 };
	/* 2: the frame itself split in two. */
	g.desc[2] = (struct vring_desc){ 0x10000 + 200, 40, VRING_DESC_F_NEXT, 3 };
	g.desc[3] = (struct vring_desc){ 0x10000 + 300, 32, 0, 0 };
	/* 4: a partial checksum to finish. */
	struct vnet_hdr_mrg h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				  .csum_offset = 6 };
	memcpy(g.mem + 400, &h, 12);
	g.desc[4] = (struct vring_desc){ 0x10000 + 400, 12 + 60, 0, 0 };
	/* 5: plain and in one piece, but the pool's one packet over guest
	 * memory is taken by frame 0. */
	g.desc[5] = (struct vring_desc){ 0x10000 + 500, 72, 0, 0 };
	uint16_t heads[4] = { 0, 2, 4, 5 };
	memcpy(g.vq.avail->ring, heads, sizeof(heads));
	g.vq.avail->idx = 4;
	assert_int_equal(virtq_tx_dequeue(&g.vq, &g.vm, pkts, 4, &st, &why), 4);
	assert_int_equal(pkts[0]->kind, PKT_EXT);
	assert_ptr_equal(pkts[0]->data, g.mem + 100);
	for (unsigned i = 1; i < 4; i++) {
		assert_int_equal(pkts[i]->kind, PKT_SMALL);
		assert_int_equal(pkts[i]->len, 60);
	}
	assert_int_equal(pkts[2]->off.flags, PKT_OFF_F_NEEDS_CSUM);
	/* Published with the last reference to frame 0, all four at once. */
	assert_int_equal(g.vq.used->idx, 0);
	pkt_free_burst(pkts + 1, 3);
	assert_int_equal(g.vq.used->idx, 0);
	pkt_free(pkts[0]);
	assert_int_equal(g.vq.used->idx, 4);
	/* Without zero copy (the fuzz targets' and tools' pools may have no
	 * such packets either): copied and published before the call returns. */
	g.vq.zero_copy = false;
	g.desc[6] = (struct vring_desc){ 0x10000 + 600, 72, 0, 0 };
	g.vq.avail->ring[4] = 6;
	g.vq.avail->idx = 5;
	assert_int_equal(virtq_tx_dequeue(&g.vq, &g.vm, pkts, 4, &st, &why), 1);
	assert_int_equal(pkts[0]->kind, PKT_SMALL);
	assert_int_equal(g.vq.used->idx, 5);
	pkt_free(pkts[0]);
	guarded_fini(&g);
	pkt_pool_fini();
}

static void handler_is_pure(void **state)
{
	struct vhost_dev d;
	struct vhost_user_msg reply;
	size_t rl;
	(void)state;
	vhost_dev_init(&d);
	/* Truncated header, garbage, and a valid message: no fds, no socket. */
	uint8_t junk[5] = { 1, 2, 3, 4, 5 };
	assert_true(vhost_dev_handle(&d, junk, sizeof(junk), NULL, 0, &reply, &rl) < 0);
	struct vhost_user_hdr h = { VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, 0 };
	assert_int_equal(vhost_dev_handle(&d, &h, sizeof(h), NULL, 0, &reply, &rl), 0);
	assert_int_equal(rl, 12 + 8);
	assert_int_equal(reply.u64, VHOST_DEV_FEATURES);
	/* A memory table without fds. */
	struct {
		struct vhost_user_hdr h;
		struct vhost_user_mem m;
	} __attribute__((packed)) mt = { { VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION, 8 + 32 },
					 { .nregions = 1 } };
	assert_true(vhost_dev_handle(&d, &mt, 12 + 8 + 32, NULL, 0, &reply, &rl) < 0);
	vhost_dev_reset(&d);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

static const struct CMUnitTest tests[] = {
	T(handshake_brings_port_up),
	T(offers_what_it_implements),
	T(guest_frame_reaches_switch),
	T(switch_frame_lands_in_guest),
	T(mergeable_buffers),
	T(no_mrg_frame_must_fit_one_buffer),
	T(guest_without_buffers_loses_frames),
	T(event_idx_suppresses_calls),
	T(no_interrupt_flag_without_event_idx),
	T(kicks_when_sleeping_not_when_polling),
	T(no_notify_flag_without_event_idx),
	T(many_frames_yield_and_resume),
	T(vring_base_resume),
	T(reconnect_resumes),
	T(guest_partial_checksum_completed),
	T(offload_not_negotiated_is_dropped),
	T(partial_checksum_passed_to_guest),
	T(guest_tso_frame_is_segmented),
	T(hostile_desc_outside_memory),
	T(hostile_desc_past_region_end),
	T(hostile_desc_len_overflows),
	T(hostile_desc_straddles_end),
	T(hostile_chain_loops),
	T(hostile_next_out_of_range),
	T(hostile_writable_tx_buffer),
	T(hostile_indirect_not_negotiated),
	T(hostile_head_out_of_range),
	T(hostile_avail_jump),
	T(hostile_readonly_rx_buffer),
	T(hostile_rx_buffer_smaller_than_header),
	T(hostile_rx_desc_outside_memory),
	T(hostile_wrong_size),
	T(hostile_unknown_request),
	T(hostile_feature_not_offered),
	T(hostile_fd_where_none_belongs),
	T(hostile_too_many_fds),
	T(hostile_kick_without_fd),
	T(hostile_region_past_file_end),
	T(hostile_region_wraps),
	T(hostile_ring_outside_memory),
	T(hostile_ring_size),
	T(hostile_ring_index),
	T(hostile_payload_too_large),
	T(unsupported_request_refused_cleanly),
	T(other_ports_unaffected),
	cmocka_unit_test(walker_stays_inside_region),
	cmocka_unit_test(walker_indirect),
	cmocka_unit_test(dequeue_frame_at_region_end),
	cmocka_unit_test(zero_copy_publishes_on_release),
	cmocka_unit_test(zero_copy_only_where_safe),
	cmocka_unit_test(handler_is_pure),
};

UNIT_MAIN(tests)
