#include "vhost-dev.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "port.h"

static const char *const req_names[VHOST_USER_MAX] = {
	[VHOST_USER_GET_FEATURES] = "GET_FEATURES",
	[VHOST_USER_SET_FEATURES] = "SET_FEATURES",
	[VHOST_USER_SET_OWNER] = "SET_OWNER",
	[VHOST_USER_RESET_OWNER] = "RESET_OWNER",
	[VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VHOST_USER_SET_LOG_BASE] = "SET_LOG_BASE",
	[VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
	[VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
	[VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
	[VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
	[VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
	[VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
	[VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
	[VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[VHOST_USER_SEND_RARP] = "SEND_RARP",
	[VHOST_USER_NET_SET_MTU] = "NET_SET_MTU",
	[VHOST_USER_SET_SLAVE_REQ_FD] = "SET_SLAVE_REQ_FD",
	[VHOST_USER_IOTLB_MSG] = "IOTLB_MSG",
	[VHOST_USER_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
	[VHOST_USER_GET_CONFIG] = "GET_CONFIG",
	[VHOST_USER_SET_CONFIG] = "SET_CONFIG",
	[VHOST_USER_CREATE_CRYPTO_SESSION] = "CREATE_CRYPTO_SESSION",
	[VHOST_USER_CLOSE_CRYPTO_SESSION] = "CLOSE_CRYPTO_SESSION",
	[VHOST_USER_POSTCOPY_ADVISE] = "POSTCOPY_ADVISE",
	[VHOST_USER_POSTCOPY_LISTEN] = "POSTCOPY_LISTEN",
	[VHOST_USER_POSTCOPY_END] = "POSTCOPY_END",
	[VHOST_USER_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
	[VHOST_USER_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
	[VHOST_USER_GPU_SET_SOCKET] = "GPU_SET_SOCKET",
	[VHOST_USER_RESET_DEVICE] = "RESET_DEVICE",
	[VHOST_USER_VRING_KICK] = "VRING_KICK",
	[VHOST_USER_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
	[VHOST_USER_ADD_MEM_REG] = "ADD_MEM_REG",
	[VHOST_USER_REM_MEM_REG] = "REM_MEM_REG",
	[VHOST_USER_SET_STATUS] = "SET_STATUS",
	[VHOST_USER_GET_STATUS] = "GET_STATUS",
};

const char *vhost_user_request_name(uint32_t req)
{
	return req < VHOST_USER_MAX && req_names[req] ? req_names[req] : "unknown request";
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vhost_dev_init(struct vhost_dev *d)
{
	memset(d, 0, sizeof(*d));
	for (unsigned q = 0; q < VHOST_NET_NQ; q++)
		virtq_init(&d->vq[q]);
}

void vhost_dev_reset(struct vhost_dev *d)
{
	for (unsigned q = 0; q < VHOST_NET_NQ; q++) {
		close_fd(&d->vq[q].kick_fd);
		close_fd(&d->vq[q].call_fd);
	}
	vhost_mem_unmap(&d->mem);
	vhost_dev_init(d);
}

static bool has(uint64_t features, unsigned bit)
{
	return features & (1ull << bit);
}

/* Without protocol features there is no SET_VRING_ENABLE: rings are enabled
 * once started. */
static bool vq_enabled(const struct vhost_dev *d, const struct virtq *vq)
{
	return vq->enabled || !has(d->features, VHOST_USER_F_PROTOCOL_FEATURES);
}

bool vhost_dev_running(const struct vhost_dev *d)
{
	for (unsigned q = 0; q < VHOST_NET_NQ; q++) {
		const struct virtq *vq = &d->vq[q];
		if (!vq->started || !vq->mapped || !vq_enabled(d, vq))
			return false;
	}
	return true;
}

unsigned vhost_dev_tx_offloads(const struct vhost_dev *d)
{
	uint64_t f = d->features;
	unsigned off = 0;
	if (!has(f, VIRTIO_NET_F_GUEST_CSUM))
		return 0; /* TSO without checksum offload is not a valid set */
	off |= PORT_OFF_CSUM;
	if (has(f, VIRTIO_NET_F_GUEST_TSO4))
		off |= PORT_OFF_TSO4;
	if (has(f, VIRTIO_NET_F_GUEST_TSO6))
		off |= PORT_OFF_TSO6;
	if (has(f, VIRTIO_NET_F_GUEST_ECN) && (off & (PORT_OFF_TSO4 | PORT_OFF_TSO6)))
		off |= PORT_OFF_TSO_ECN;
	return off;
}

/* What the negotiated features mean for a ring's data path. */
static void vq_apply_features(const struct vhost_dev *d, struct virtq *vq)
{
	uint64_t f = d->features;
	vq->mrg = has(f, VIRTIO_NET_F_MRG_RXBUF);
	vq->hdr_len = (has(f, VIRTIO_F_VERSION_1) || vq->mrg) ? 12 : 10;
	vq->event_idx = has(f, VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = has(f, VIRTIO_RING_F_INDIRECT_DESC);
	vq->rx_offloads = 0;
	if (has(f, VIRTIO_NET_F_CSUM)) {
		vq->rx_offloads |= PORT_OFF_CSUM;
		if (has(f, VIRTIO_NET_F_HOST_TSO4))
			vq->rx_offloads |= PORT_OFF_TSO4;
		if (has(f, VIRTIO_NET_F_HOST_TSO6))
			vq->rx_offloads |= PORT_OFF_TSO6;
		if (has(f, VIRTIO_NET_F_HOST_ECN))
			vq->rx_offloads |= PORT_OFF_TSO_ECN;
	}
}

/* (Re)map every configured ring over the current memory table. */
static int map_rings(struct vhost_dev *d)
{
	for (unsigned q = 0; q < VHOST_NET_NQ; q++) {
		struct virtq *vq = &d->vq[q];
		virtq_unmap(vq);
		if (!d->mem.n || !vq->num || !vq->addr_set)
			continue;
		vq_apply_features(d, vq);
		int r = virtq_map(vq, &d->mem, &d->why);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Payload sizes: exact, except the memory table (one entry per region). */
static int want_size(uint32_t req, uint32_t size)
{
	switch (req) {
	case VHOST_USER_GET_FEATURES:
	case VHOST_USER_GET_PROTOCOL_FEATURES:
	case VHOST_USER_SET_OWNER:
	case VHOST_USER_RESET_OWNER:
	case VHOST_USER_GET_QUEUE_NUM:
		return size == 0;
	case VHOST_USER_SET_FEATURES:
	case VHOST_USER_SET_PROTOCOL_FEATURES:
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		return size == sizeof(uint64_t);
	case VHOST_USER_SET_VRING_NUM:
	case VHOST_USER_SET_VRING_BASE:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_SET_VRING_ENABLE:
		return size == sizeof(struct vhost_user_state);
	case VHOST_USER_SET_VRING_ADDR:
		return size == sizeof(struct vhost_user_addr);
	case VHOST_USER_SET_MEM_TABLE:
		return size >= offsetof(struct vhost_user_mem, regions) &&
		       size <= sizeof(struct vhost_user_mem);
	default:
		return 1; /* refused or unknown: judged by the caller */
	}
}

static int fail(struct vhost_dev *d, int err, const char *why)
{
	d->why = why;
	return err;
}

static int ring_index(struct vhost_dev *d, uint32_t index, struct virtq **vq)
{
	if (index >= VHOST_NET_NQ)
		return fail(d, -EINVAL, "ring index out of range (no multi-queue)");
	*vq = &d->vq[index];
	return 0;
}

/* SET_VRING_KICK / CALL / ERR: a ring index, and an fd unless NOFD. */
static int vring_fd(struct vhost_dev *d, uint64_t v, int *fds, unsigned nfds, struct virtq **vq,
		    int *fd)
{
	if (v & ~(uint64_t)(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD))
		return fail(d, -EINVAL, "unknown bits in a ring fd message");
	bool nofd = v & VHOST_USER_VRING_NOFD;
	if (nfds != (nofd ? 0u : 1u))
		return fail(d, -EINVAL, "ring fd message with the wrong number of fds");
	int r = ring_index(d, (uint32_t)(v & VHOST_USER_VRING_IDX_MASK), vq);
	if (r < 0)
		return r;
	*fd = nofd ? -1 : fds[0];
	fds[0] = -1; /* taken */
	return 0;
}

/* Requests we know but do not implement, which need no reply: refused (a
 * negative ack if one is asked for), the connection stays.  Returns the
 * number of fds the request may carry, or -1 if it is not one of them. */
static int refused_fds(uint32_t req)
{
	switch (req) {
	case VHOST_USER_SET_LOG_BASE: /* no LOG_SHMFD offered: no reply due */
	case VHOST_USER_SET_LOG_FD:
	case VHOST_USER_SET_SLAVE_REQ_FD:
		return 1;
	case VHOST_USER_SEND_RARP:
	case VHOST_USER_NET_SET_MTU:
	case VHOST_USER_SET_VRING_ENDIAN:
	case VHOST_USER_SET_CONFIG:
	case VHOST_USER_CLOSE_CRYPTO_SESSION:
		return 0;
	default:
		return -1;
	}
}

static void reply_u64(const struct vhost_user_msg *m, struct vhost_user_msg *reply,
		      size_t *reply_len, uint64_t v)
{
	reply->hdr.request = m->hdr.request;
	reply->hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY;
	reply->hdr.size = sizeof(uint64_t);
	reply->u64 = v;
	*reply_len = VHOST_USER_HDR_SIZE + sizeof(uint64_t);
}

int vhost_dev_handle(struct vhost_dev *d, const void *bytes, size_t len, int *fds, unsigned nfds,
		     struct vhost_user_msg *reply, size_t *reply_len)
{
	struct vhost_user_msg m;
	struct virtq *vq;
	int fd = -1, r = 0;
	bool has_reply = false, refused = false;

	*reply_len = 0;
	d->why = NULL;
	if (len < VHOST_USER_HDR_SIZE || len > sizeof(m)) {
		r = fail(d, -EMSGSIZE, "message of an impossible size");
		goto out;
	}
	memcpy(&m, bytes, len);
	memset((uint8_t *)&m + len, 0, sizeof(m) - len);
	if ((m.hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    (m.hdr.flags & VHOST_USER_REPLY)) {
		r = fail(d, -EPROTO, "bad message flags or version");
		goto out;
	}
	if (m.hdr.size != len - VHOST_USER_HDR_SIZE || !want_size(m.hdr.request, m.hdr.size)) {
		r = fail(d, -EMSGSIZE, "wrong payload size");
		goto out;
	}
	/* Only these carry fds; vring_fd() and the memory table count theirs. */
	if (nfds && m.hdr.request != VHOST_USER_SET_MEM_TABLE &&
	    m.hdr.request != VHOST_USER_SET_VRING_KICK && m.hdr.request != VHOST_USER_SET_VRING_CALL &&
	    m.hdr.request != VHOST_USER_SET_VRING_ERR && refused_fds(m.hdr.request) <= 0) {
		r = fail(d, -EINVAL, "file descriptors with a message that takes none");
		goto out;
	}

	switch (m.hdr.request) {
	case VHOST_USER_GET_FEATURES:
		reply_u64(&m, reply, reply_len, VHOST_DEV_FEATURES);
		has_reply = true;
		break;
	case VHOST_USER_SET_FEATURES:
		if (m.u64 & ~VHOST_DEV_FEATURES) {
			r = fail(d, -EINVAL, "frontend acked features we never offered");
			break;
		}
		d->features = m.u64;
		for (unsigned q = 0; q < VHOST_NET_NQ; q++)
			if (d->vq[q].mapped)
				vq_apply_features(d, &d->vq[q]);
		break;
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		reply_u64(&m, reply, reply_len, VHOST_DEV_PROTOCOL_FEATURES);
		has_reply = true;
		break;
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		if (m.u64 & ~VHOST_DEV_PROTOCOL_FEATURES) {
			r = fail(d, -EINVAL, "frontend acked protocol features we never offered");
			break;
		}
		d->protocol_features = m.u64;
		break;
	case VHOST_USER_SET_OWNER:
		d->owner = true;
		break;
	case VHOST_USER_RESET_OWNER:
		/* Deprecated; the spec's advice: disable every ring. */
		for (unsigned q = 0; q < VHOST_NET_NQ; q++)
			d->vq[q].enabled = false;
		break;
	case VHOST_USER_SET_MEM_TABLE: {
		struct vhost_mem mem;
		uint32_t n = m.mem.nregions;
		if (n == 0 || n > VHOST_USER_MAX_REGIONS ||
		    m.hdr.size < offsetof(struct vhost_user_mem, regions) +
					 n * sizeof(struct vhost_user_region)) {
			r = fail(d, -EMSGSIZE, "memory table size does not match its regions");
			break;
		}
		struct vhost_user_mem table; /* aligned, unlike the packed message */
		memcpy(&table, &m.raw, sizeof(table));
		r = vhost_mem_map(&mem, &table, fds, nfds, &d->why);
		if (r < 0)
			break;
		/* The rings move to the new mapping before the old one goes;
		 * their positions carry over (virtq_unmap keeps them). */
		for (unsigned q = 0; q < VHOST_NET_NQ; q++)
			virtq_unmap(&d->vq[q]);
		vhost_mem_unmap(&d->mem);
		d->mem = mem;
		r = map_rings(d);
		break;
	}
	case VHOST_USER_SET_VRING_NUM:
		r = ring_index(d, m.state.index, &vq);
		if (r < 0)
			break;
		if (m.state.num == 0 || m.state.num > VQ_MAX_SIZE || (m.state.num & (m.state.num - 1))) {
			r = fail(d, -EINVAL, "ring size not a power of 2 up to 32768");
			break;
		}
		vq->num = m.state.num;
		r = map_rings(d);
		break;
	case VHOST_USER_SET_VRING_ADDR:
		r = ring_index(d, m.addr.index, &vq);
		if (r < 0)
			break;
		vq->desc_uva = m.addr.desc;
		vq->avail_uva = m.addr.avail;
		vq->used_uva = m.addr.used;
		vq->addr_set = true;
		r = map_rings(d);
		break;
	case VHOST_USER_SET_VRING_BASE:
		r = ring_index(d, m.state.index, &vq);
		if (r < 0)
			break;
		if (m.state.num > 0xffff) {
			r = fail(d, -EINVAL, "ring base out of range");
			break;
		}
		vq->base = (uint16_t)m.state.num;
		if (vq->mapped)
			vq->last_avail_idx = vq->last_used_idx = vq->base;
		break;
	case VHOST_USER_GET_VRING_BASE:
		r = ring_index(d, m.state.index, &vq);
		if (r < 0)
			break;
		/* Stop the ring: we hold no buffers, so where we are is
		 * exactly where a new backend must resume. */
		virtq_unmap(vq);
		vq->started = false;
		close_fd(&vq->kick_fd);
		vq->kick_gen++;
		reply->hdr.request = m.hdr.request;
		reply->hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY;
		reply->hdr.size = sizeof(struct vhost_user_state);
		reply->state.index = m.state.index;
		reply->state.num = vq->base;
		*reply_len = VHOST_USER_HDR_SIZE + sizeof(struct vhost_user_state);
		has_reply = true;
		break;
	case VHOST_USER_SET_VRING_KICK:
		r = vring_fd(d, m.u64, fds, nfds, &vq, &fd);
		if (r < 0)
			break;
		close_fd(&vq->kick_fd);
		vq->kick_fd = fd;
		vq->kick_gen++;
		vq->started = true;
		break;
	case VHOST_USER_SET_VRING_CALL:
		r = vring_fd(d, m.u64, fds, nfds, &vq, &fd);
		if (r < 0)
			break;
		close_fd(&vq->call_fd);
		vq->call_fd = fd;
		break;
	case VHOST_USER_SET_VRING_ERR:
		r = vring_fd(d, m.u64, fds, nfds, &vq, &fd);
		close_fd(&fd); /* we never report ring errors that way */
		break;
	case VHOST_USER_GET_QUEUE_NUM:
		reply_u64(&m, reply, reply_len, 1);
		has_reply = true;
		break;
	case VHOST_USER_SET_VRING_ENABLE:
		r = ring_index(d, m.state.index, &vq);
		if (r < 0)
			break;
		if (m.state.num > 1) {
			r = fail(d, -EINVAL, "ring enable neither 0 nor 1");
			break;
		}
		vq->enabled = m.state.num;
		break;
	case VHOST_USER_GET_CONFIG:
		/* An empty reply is the protocol's way to say no. */
		reply->hdr.request = m.hdr.request;
		reply->hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY;
		reply->hdr.size = 0;
		*reply_len = VHOST_USER_HDR_SIZE;
		has_reply = true;
		d->why = "GET_CONFIG refused (no config space)";
		break;
	default: {
		int allowed = refused_fds(m.hdr.request);
		if (allowed < 0) {
			/* Unknown, or needs a feature we never offered. */
			r = fail(d, -EPROTO, "unexpected request");
			break;
		}
		if (nfds > (unsigned)allowed) {
			r = fail(d, -EINVAL, "too many fds for the request");
			break;
		}
		refused = true;
		d->why = "request not supported; refused";
		break;
	}
	}
	if (r == 0 && !has_reply && (m.hdr.flags & VHOST_USER_NEED_REPLY))
		reply_u64(&m, reply, reply_len, refused ? 1 : 0);
out:
	for (unsigned i = 0; i < nfds; i++)
		close_fd(&fds[i]);
	return r;
}
