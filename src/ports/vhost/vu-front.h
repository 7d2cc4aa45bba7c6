/* A minimal vhost-user frontend: the part QEMU and a guest's virtio-net driver
 * play, for tests and the load generator (tests/tools/vhost-peer).  Not
 * linked into the daemon.
 *
 * It owns one memfd that holds both split rings and every buffer, shares it
 * with the backend as one region (guest-physical addresses start at
 * VF_GPA_BASE, deliberately different from our own addresses so that a
 * backend mixing the two is caught), and drives one queue pair:
 * - TX (queue 1): slot i of the ring always uses descriptor i and buffer i,
 *   and slots are reused in order (a backend that completes out of order is
 *   counted in tx_bad_used);
 * - RX (queue 0): every descriptor is one buffer of rxbuf bytes; frames may
 *   span several with MRG_RXBUF.
 * It polls: the backend's calls are ignored unless irq is set, and kicks are
 * sent only when the backend asks for them.
 *
 * In-process backends (unit tests) cannot answer while we block on a reply:
 * set `pump` and it is called after every message sent.
 */
#ifndef VS_VU_FRONT_H
#define VS_VU_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vhost-proto.h"

#define VF_GPA_BASE 0x40000000ull
#define VF_RXQ 0
#define VF_TXQ 1

struct vf_ring {
	uint32_t num;
	uint16_t mask;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint8_t *bufs;	      /* buffer i at bufs + i * buf_size */
	uint32_t buf_size;
	uint16_t avail_idx;   /* ours: next entry we make available */
	uint16_t used_idx;    /* next used entry we read */
	int kick_fd, call_fd;
	uint64_t kicks, calls_seen;
};

struct vf_opts {
	uint64_t features;  /* wanted; masked with what the backend offers */
	uint32_t qsize;	    /* entries per ring (power of 2) */
	uint32_t txbuf;	    /* bytes per TX buffer (header + frame) */
	uint32_t rxbuf;	    /* bytes per RX buffer */
	bool irq;	    /* ask for interrupts (calls) instead of polling */
};

struct vf {
	int sock;
	int memfd;
	uint8_t *mem;
	size_t mem_size;
	struct vf_opts o;
	uint64_t offered, features, protocol_features;
	uint32_t hdr_len;
	bool event_idx;
	struct vf_ring q[2];
	void (*pump)(void *arg);
	void *pump_arg;
	uint64_t tx_bad_used; /* used entries not in the order we posted */
	uint8_t *scratch;     /* a merged frame is gathered here */
	char err[128];
};

/* Memory and eventfds; the socket is already connected.  0 or -errno. */
int vf_init(struct vf *f, int sock, const struct vf_opts *o);
void vf_fini(struct vf *f);

/* The whole setup a guest's DRIVER_OK triggers in QEMU.  0 or -errno. */
int vf_handshake(struct vf *f);
/* The same over a new connection (f->sock replaced by the caller) or after
 * GET_VRING_BASE: rings and buffers stay as they are, and each ring resumes
 * at base[q] (what GET_VRING_BASE returned). */
int vf_handshake_ex(struct vf *f, const uint16_t *base);

/* Raw messages, for tests.  vf_send() pumps; vf_recv() reads one reply. */
int vf_send(struct vf *f, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
	    const int *fds, unsigned nfds);
int vf_recv(struct vf *f, struct vhost_user_msg *m);
/* Send and wait for the u64 reply (GET_* or a REPLY_ACK).  0 or -errno. */
int vf_call_u64(struct vf *f, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
		uint64_t *out);

/* The guest-physical address of a pointer into our memory. */
static inline uint64_t vf_gpa(const struct vf *f, const void *p)
{
	return VF_GPA_BASE + (uint64_t)((const uint8_t *)p - f->mem);
}

/* TX.  Free slots after taking back what the backend used. */
unsigned vf_tx_reclaim(struct vf *f);
/* The buffer of the n-th slot from the next one to post (header first). */
static inline uint8_t *vf_tx_buf(struct vf *f, unsigned n)
{
	struct vf_ring *r = &f->q[VF_TXQ];
	return r->bufs + (size_t)((uint16_t)(r->avail_idx + n) & r->mask) * r->buf_size;
}
/* Post the next n slots, each `len` bytes (header included), and kick if
 * the backend wants it. */
void vf_tx_post(struct vf *f, unsigned n, uint32_t len);

/* RX.  Make every free buffer available (at start and after receiving). */
void vf_rx_fill(struct vf *f);
typedef void (*vf_rx_cb)(void *arg, const struct vnet_hdr_mrg *h, const uint8_t *frame,
			 uint32_t len);
/* Take up to max received frames; returns how many (and refills). */
unsigned vf_rx_poll(struct vf *f, unsigned max, vf_rx_cb cb, void *arg);

/* Interrupt mode: ask for a call on ring q from now on; false if something
 * arrived meanwhile (then do not sleep). */
bool vf_irq_arm(struct vf *f, unsigned q);
/* Did the backend signal ring q (reads the call eventfd)? */
bool vf_call_seen(struct vf *f, unsigned q);

#endif
