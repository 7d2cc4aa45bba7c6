#include "vu-front.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define PAGE 4096u

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int ferr(struct vf *f, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
	return r;
}

/* Lay out one ring and its buffers from *off on. */
static void ring_layout(struct vf *f, struct vf_ring *r, uint32_t buf_size, size_t *off, bool map)
{
	uint32_t n = f->o.qsize;
	size_t d = *off;
	size_t a = align_up(d + vq_desc_bytes(n), PAGE);
	size_t u = align_up(a + vq_avail_bytes(n), PAGE);
	size_t b = align_up(u + vq_used_bytes(n), PAGE);
	*off = align_up(b + (size_t)n * buf_size, PAGE);
	if (!map)
		return;
	r->num = n;
	r->mask = (uint16_t)(n - 1);
	r->desc = (struct vring_desc *)(void *)(f->mem + d);
	r->avail = (struct vring_avail *)(void *)(f->mem + a);
	r->used = (struct vring_used *)(void *)(f->mem + u);
	r->bufs = f->mem + b;
	r->buf_size = buf_size;
}

int vf_init(struct vf *f, int sock, const struct vf_opts *o)
{
	int r;
	memset(f, 0, sizeof(*f));
	f->sock = sock;
	f->o = *o;
	f->memfd = -1;
	for (unsigned q = 0; q < 2; q++)
		f->q[q].kick_fd = f->q[q].call_fd = -1;
	if (!o->qsize || (o->qsize & (o->qsize - 1)) || o->qsize > 32768)
		return ferr(f, -EINVAL, "queue size must be a power of 2");
	/* A backend that never answers must not hang a test. */
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	size_t off = 0;
	ring_layout(f, &f->q[VF_RXQ], o->rxbuf, &off, false);
	ring_layout(f, &f->q[VF_TXQ], o->txbuf, &off, false);
	f->mem_size = off;
	f->memfd = memfd_create("vu-front", MFD_CLOEXEC);
	if (f->memfd < 0)
		return ferr(f, -errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(f->memfd, (off_t)f->mem_size) < 0) {
		r = ferr(f, -errno, "ftruncate: %s", strerror(errno));
		goto err_memfd;
	}
	f->mem = mmap(NULL, f->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	if (f->mem == MAP_FAILED) {
		f->mem = NULL;
		r = ferr(f, -errno, "mmap: %s", strerror(errno));
		goto err_memfd;
	}
	off = 0;
	ring_layout(f, &f->q[VF_RXQ], o->rxbuf, &off, true);
	ring_layout(f, &f->q[VF_TXQ], o->txbuf, &off, true);
	f->scratch = malloc(65536 + 64);
	if (!f->scratch) {
		r = -ENOMEM;
		goto err_unmap;
	}
	for (unsigned q = 0; q < 2; q++) {
		f->q[q].kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		f->q[q].call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (f->q[q].kick_fd < 0 || f->q[q].call_fd < 0) {
			r = ferr(f, -errno, "eventfd: %s", strerror(errno));
			goto err_fds;
		}
	}
	return 0;
err_fds:
	for (unsigned q = 0; q < 2; q++) {
		if (f->q[q].kick_fd >= 0)
			close(f->q[q].kick_fd);
		if (f->q[q].call_fd >= 0)
			close(f->q[q].call_fd);
	}
	free(f->scratch);
err_unmap:
	munmap(f->mem, f->mem_size);
	f->mem = NULL;
err_memfd:
	close(f->memfd);
	f->memfd = -1;
	return r;
}

void vf_fini(struct vf *f)
{
	for (unsigned q = 0; q < 2; q++) {
		if (f->q[q].kick_fd >= 0)
			close(f->q[q].kick_fd);
		if (f->q[q].call_fd >= 0)
			close(f->q[q].call_fd);
	}
	if (f->mem)
		munmap(f->mem, f->mem_size);
	if (f->memfd >= 0)
		close(f->memfd);
	free(f->scratch);
	if (f->sock >= 0)
		close(f->sock);
	memset(f, 0, sizeof(*f));
	f->sock = f->memfd = -1;
}

int vf_send(struct vf *f, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
	    const int *fds, unsigned nfds)
{
	struct vhost_user_msg m;
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} ctl;
	if (size > sizeof(m.raw) || nfds > 16)
		return -EINVAL;
	m.hdr.request = req;
	m.hdr.flags = flags;
	m.hdr.size = size;
	if (size)
		memcpy(m.raw, payload, size);
	struct iovec iov = { &m, VHOST_USER_HDR_SIZE + size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ssize_t w = sendmsg(f->sock, &mh, MSG_NOSIGNAL);
	if (w != (ssize_t)iov.iov_len)
		return ferr(f, w < 0 ? -errno : -EIO, "send %s: %s", vhost_user_request_name(req),
			    w < 0 ? strerror(errno) : "short write");
	if (f->pump)
		f->pump(f->pump_arg);
	return 0;
}

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t r = read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ECONNRESET;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int vf_recv(struct vf *f, struct vhost_user_msg *m)
{
	int r = read_full(f->sock, &m->hdr, VHOST_USER_HDR_SIZE);
	if (r < 0)
		return ferr(f, r, "reading a reply: %s", strerror(-r));
	if (m->hdr.size > sizeof(m->raw))
		return ferr(f, -EPROTO, "reply too large");
	r = read_full(f->sock, m->raw, m->hdr.size);
	if (r < 0)
		return ferr(f, r, "reading a reply: %s", strerror(-r));
	return 0;
}

int vf_call_u64(struct vf *f, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
		uint64_t *out)
{
	struct vhost_user_msg m;
	int r = vf_send(f, req, flags, payload, size, NULL, 0);
	if (r < 0)
		return r;
	r = vf_recv(f, &m);
	if (r < 0)
		return r;
	if (m.hdr.request != req || !(m.hdr.flags & VHOST_USER_REPLY) || m.hdr.size != 8)
		return ferr(f, -EPROTO, "bad reply to %s", vhost_user_request_name(req));
	*out = m.u64;
	return 0;
}

/* A set-type message; with REPLY_ACK, wait for the backend's verdict. */
static int set_msg(struct vf *f, uint32_t req, const void *payload, uint32_t size, const int *fds,
		   unsigned nfds)
{
	bool ack = f->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK);
	int r = vf_send(f, req, VHOST_USER_VERSION | (ack ? VHOST_USER_NEED_REPLY : 0), payload,
			size, fds, nfds);
	if (r < 0 || !ack)
		return r;
	struct vhost_user_msg m;
	r = vf_recv(f, &m);
	if (r < 0)
		return r;
	if (m.hdr.request != req || m.hdr.size != 8)
		return ferr(f, -EPROTO, "bad ack for %s", vhost_user_request_name(req));
	if (m.u64)
		return ferr(f, -EREMOTEIO, "backend refused %s", vhost_user_request_name(req));
	return 0;
}

static void ring_reset(struct vf *f, unsigned q)
{
	struct vf_ring *r = &f->q[q];
	memset(r->desc, 0, vq_desc_bytes(r->num));
	memset(r->avail, 0, vq_avail_bytes(r->num));
	memset(r->used, 0, vq_used_bytes(r->num));
	r->avail_idx = r->used_idx = 0;
	for (uint32_t i = 0; i < r->num; i++) {
		r->desc[i].addr = vf_gpa(f, r->bufs + (size_t)i * r->buf_size);
		r->desc[i].len = r->buf_size;
		r->desc[i].flags = q == VF_RXQ ? VRING_DESC_F_WRITE : 0;
	}
	/* Polling: no calls unless we arm them. */
	if (!f->o.irq)
		r->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	if (f->event_idx)
		*vq_used_event(r->avail, r->num) = (uint16_t)(r->used_idx - 1);
}

int vf_handshake(struct vf *f)
{
	return vf_handshake_ex(f, NULL);
}

int vf_handshake_ex(struct vf *f, const uint16_t *base)
{
	int r;
	uint64_t v;
	r = vf_call_u64(f, VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, NULL, 0, &f->offered);
	if (r < 0)
		return r;
	if (f->offered & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)) {
		r = vf_call_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES, VHOST_USER_VERSION, NULL, 0, &v);
		if (r < 0)
			return r;
		v &= 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK;
		r = vf_send(f, VHOST_USER_SET_PROTOCOL_FEATURES, VHOST_USER_VERSION, &v, 8, NULL, 0);
		if (r < 0)
			return r;
		f->protocol_features = v;
	}
	r = set_msg(f, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
	if (r < 0)
		return r;
	f->features = (f->o.features & f->offered) |
		      (f->offered & (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	r = set_msg(f, VHOST_USER_SET_FEATURES, &f->features, 8, NULL, 0);
	if (r < 0)
		return r;
	f->event_idx = f->features & (1ull << VIRTIO_RING_F_EVENT_IDX);
	f->hdr_len = (f->features & ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MRG_RXBUF)))
			     ? 12
			     : 10;

	struct vhost_user_mem mem = { .nregions = 1 };
	mem.regions[0] = (struct vhost_user_region){
		.guest_phys_addr = VF_GPA_BASE,
		.memory_size = f->mem_size,
		.userspace_addr = (uint64_t)(uintptr_t)f->mem,
		.mmap_offset = 0,
	};
	r = set_msg(f, VHOST_USER_SET_MEM_TABLE, &mem,
		    offsetof(struct vhost_user_mem, regions) + sizeof(mem.regions[0]), &f->memfd, 1);
	if (r < 0)
		return r;
	for (unsigned q = 0; q < 2; q++) {
		struct vf_ring *ring = &f->q[q];
		if (!base)
			ring_reset(f, q);
		struct vhost_user_state st = { q, ring->num };
		struct vhost_user_addr addr = {
			.index = q,
			.desc = (uint64_t)(uintptr_t)ring->desc,
			.used = (uint64_t)(uintptr_t)ring->used,
			.avail = (uint64_t)(uintptr_t)ring->avail,
		};
		uint64_t idx = q;
		if ((r = set_msg(f, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0)) < 0)
			return r;
		st.num = base ? base[q] : 0;
		if ((r = set_msg(f, VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0)) < 0)
			return r;
		if ((r = set_msg(f, VHOST_USER_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0)) < 0)
			return r;
		if ((r = set_msg(f, VHOST_USER_SET_VRING_CALL, &idx, 8, &ring->call_fd, 1)) < 0)
			return r;
		if ((r = set_msg(f, VHOST_USER_SET_VRING_KICK, &idx, 8, &ring->kick_fd, 1)) < 0)
			return r;
	}
	if (!base)
		vf_rx_fill(f);
	if (f->offered & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)) {
		for (unsigned q = 0; q < 2; q++) {
			struct vhost_user_state st = { q, 1 };
			if ((r = set_msg(f, VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0)) < 0)
				return r;
		}
	}
	return 0;
}

static void kick(struct vf_ring *r)
{
	eventfd_write(r->kick_fd, 1);
	r->kicks++;
}

/* After publishing avail entries [old, r->avail_idx): does the backend want
 * a kick? */
static void maybe_kick(struct vf *f, struct vf_ring *r, uint16_t old)
{
	vq_smp_mb();
	if (f->event_idx) {
		uint16_t ev = VQ_READ_ONCE(*vq_avail_event(r->used, r->num));
		if (vq_need_event(ev, r->avail_idx, old))
			kick(r);
	} else if (!(VQ_READ_ONCE(r->used->flags) & VRING_USED_F_NO_NOTIFY)) {
		kick(r);
	}
}

/* Polling: keep the backend from calling us (event index just behind). */
static void calls_off(struct vf *f, struct vf_ring *r)
{
	if (f->event_idx)
		VQ_WRITE_ONCE(*vq_used_event(r->avail, r->num), (uint16_t)(r->used_idx - 1));
	else
		VQ_WRITE_ONCE(r->avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
}

unsigned vf_tx_reclaim(struct vf *f)
{
	struct vf_ring *r = &f->q[VF_TXQ];
	uint16_t u = VQ_READ_ONCE(r->used->idx);
	vq_smp_rmb();
	while (r->used_idx != u) {
		if (r->used->ring[r->used_idx & r->mask].id != (uint32_t)(r->used_idx & r->mask))
			f->tx_bad_used++;
		r->used_idx++;
	}
	if (f->event_idx && !f->o.irq)
		calls_off(f, r);
	return r->num - (uint16_t)(r->avail_idx - r->used_idx);
}

void vf_tx_post(struct vf *f, unsigned n, uint32_t len)
{
	struct vf_ring *r = &f->q[VF_TXQ];
	uint16_t old = r->avail_idx;
	for (unsigned i = 0; i < n; i++) {
		uint16_t slot = (uint16_t)(old + i) & r->mask;
		r->desc[slot].len = len;
		r->avail->ring[slot] = slot;
	}
	r->avail_idx = (uint16_t)(old + n);
	vq_smp_wmb();
	VQ_WRITE_ONCE(r->avail->idx, r->avail_idx);
	maybe_kick(f, r, old);
}

void vf_rx_fill(struct vf *f)
{
	struct vf_ring *r = &f->q[VF_RXQ];
	uint16_t old = r->avail_idx;
	while ((uint16_t)(r->avail_idx - r->used_idx) < r->num) {
		uint16_t slot = r->avail_idx & r->mask;
		r->avail->ring[slot] = slot;
		r->avail_idx++;
	}
	vq_smp_wmb();
	VQ_WRITE_ONCE(r->avail->idx, r->avail_idx);
	if (r->avail_idx != old)
		maybe_kick(f, r, old);
}

unsigned vf_rx_poll(struct vf *f, unsigned max, vf_rx_cb cb, void *arg)
{
	struct vf_ring *r = &f->q[VF_RXQ];
	uint16_t u = VQ_READ_ONCE(r->used->idx);
	uint16_t old = r->avail_idx;
	unsigned got = 0;
	vq_smp_rmb();
	while (got < max && r->used_idx != u) {
		struct vring_used_elem e = r->used->ring[r->used_idx & r->mask];
		uint32_t id = e.id < r->num ? e.id : 0;
		uint8_t *buf = r->bufs + (size_t)id * r->buf_size;
		struct vnet_hdr_mrg h = { 0 };
		uint32_t len = e.len < r->buf_size ? e.len : r->buf_size;
		memcpy(&h, buf, f->hdr_len);
		uint16_t nb = (f->features & (1ull << VIRTIO_NET_F_MRG_RXBUF)) ? h.num_buffers : 1;
		if (nb == 0 || nb > r->num)
			nb = 1;
		if ((uint16_t)(u - r->used_idx) < nb)
			break; /* the rest of this frame is not published yet */
		const uint8_t *frame = buf + f->hdr_len;
		uint32_t flen = len > f->hdr_len ? len - f->hdr_len : 0;
		if (nb > 1) {
			memcpy(f->scratch, frame, flen);
			for (uint16_t k = 1; k < nb; k++) {
				struct vring_used_elem x = r->used->ring[(r->used_idx + k) & r->mask];
				uint32_t xid = x.id < r->num ? x.id : 0;
				uint32_t xl = x.len < r->buf_size ? x.len : r->buf_size;
				if (flen + xl > 65536)
					xl = 65536 - flen;
				memcpy(f->scratch + flen, r->bufs + (size_t)xid * r->buf_size, xl);
				flen += xl;
			}
			frame = f->scratch;
		}
		cb(arg, &h, frame, flen);
		for (uint16_t k = 0; k < nb; k++) {
			uint32_t xid = r->used->ring[(r->used_idx + k) & r->mask].id;
			r->avail->ring[r->avail_idx & r->mask] = (uint16_t)(xid < r->num ? xid : 0);
			r->avail_idx++;
		}
		r->used_idx = (uint16_t)(r->used_idx + nb);
		got++;
	}
	if (r->avail_idx != old) {
		vq_smp_wmb();
		VQ_WRITE_ONCE(r->avail->idx, r->avail_idx);
		maybe_kick(f, r, old);
	}
	if (f->event_idx && !f->o.irq)
		calls_off(f, r);
	return got;
}

bool vf_irq_arm(struct vf *f, unsigned q)
{
	struct vf_ring *r = &f->q[q];
	if (f->event_idx)
		VQ_WRITE_ONCE(*vq_used_event(r->avail, r->num), r->used_idx);
	else
		VQ_WRITE_ONCE(r->avail->flags, 0);
	vq_smp_mb();
	return VQ_READ_ONCE(r->used->idx) == r->used_idx;
}

bool vf_call_seen(struct vf *f, unsigned q)
{
	eventfd_t v;
	if (eventfd_read(f->q[q].call_fd, &v) < 0)
		return false;
	f->q[q].calls_seen += v;
	return true;
}
