#include "virtq.h"

#include <errno.h>
#include <string.h>

#include "util.h"

void virtq_init(struct virtq *vq)
{
	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = vq->call_fd = -1;
	vq->hdr_len = sizeof(struct vnet_hdr_mrg);
}

static inline uint16_t *used_event_of(struct virtq *vq)
{
	return vq_used_event(vq->avail, vq->num);
}

static inline uint16_t *avail_event_of(struct virtq *vq)
{
	return vq_avail_event(vq->used, vq->num);
}

int virtq_map(struct virtq *vq, struct vhost_mem *mem, const char **why)
{
	if (!vq->num || !vq->addr_set) {
		*why = "ring not configured";
		return -EINVAL;
	}
	uint8_t *d = vhost_mem_uva(mem, vq->desc_uva, vq_desc_bytes(vq->num));
	uint8_t *a = vhost_mem_uva(mem, vq->avail_uva, vq_avail_bytes(vq->num));
	uint8_t *u = vhost_mem_uva(mem, vq->used_uva, vq_used_bytes(vq->num));
	if (!d || !a || !u) {
		*why = "ring address outside guest memory";
		return -EFAULT;
	}
	if (((uintptr_t)d & 15) || ((uintptr_t)a & 1) || ((uintptr_t)u & 3)) {
		*why = "misaligned ring";
		return -EINVAL;
	}
	vq->desc = (struct vring_desc *)(void *)d;
	vq->avail = (struct vring_avail *)(void *)a;
	vq->used = (struct vring_used *)(void *)u;
	vq->mask = (uint16_t)(vq->num - 1);
	vq->last_avail_idx = vq->last_used_idx = vq->base;
	/* A frontend that lost track (a restarted peer sending base 0) would
	 * make us overwrite entries the guest has not read: the used index in
	 * memory is the truth for a ring we complete synchronously. */
	uint16_t u_idx = vq_le16(VQ_READ_ONCE(vq->used->idx));
	if (u_idx != vq->base)
		vq->last_avail_idx = vq->last_used_idx = u_idx;
	vq->used_flags = 0;
	VQ_WRITE_ONCE(vq->used->flags, 0);
	vq->kicks_on = true;
	vq->mapped = true;
	return 0;
}

void virtq_unmap(struct virtq *vq)
{
	if (vq->mapped)
		vq->base = vq->last_avail_idx;
	vq->mapped = false;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
}

/* Append guest-physical [addr, addr + len) to the chain, split at region
 * boundaries. */
static int chain_add(struct vhost_mem *mem, struct vq_chain *c, uint64_t addr, uint32_t len,
		     const char **why)
{
	uint64_t left = len;
	c->bytes += len;
	while (left) {
		uint64_t contig;
		uint8_t *h = vhost_mem_gpa(mem, addr, left, &contig);
		if (!h) {
			*why = "descriptor address outside guest memory";
			return -EFAULT;
		}
		if (c->nseg == VQ_MAX_SEGS)
			return -E2BIG;
		c->seg[c->nseg].p = h;
		c->seg[c->nseg].len = (uint32_t)contig;
		c->nseg++;
		addr += contig;
		left -= contig;
	}
	return 0;
}

static inline void desc_read(const struct vring_desc *src, struct vring_desc *d)
{
	d->addr = VQ_READ_ONCE(src->addr);
	d->len = VQ_READ_ONCE(src->len);
	d->flags = VQ_READ_ONCE(src->flags);
	d->next = VQ_READ_ONCE(src->next);
}

int virtq_walk(struct virtq *vq, struct vhost_mem *mem, uint16_t head, bool writable,
	       struct vq_chain *c, const char **why)
{
	const struct vring_desc *table = vq->desc;
	uint32_t size = vq->num;
	struct vring_desc d;

	c->nseg = 0;
	c->bytes = 0;
	if (head >= size) {
		*why = "descriptor index out of range";
		return -EINVAL;
	}
	desc_read(&table[head], &d);
	if (d.flags & VRING_DESC_F_INDIRECT) {
		/* The whole chain is in a table of its own, which must not
		 * chain on, nest or straddle a region. */
		if (!vq->indirect || (d.flags & VRING_DESC_F_NEXT)) {
			*why = "unexpected indirect descriptor";
			return -EINVAL;
		}
		if (d.len == 0 || d.len % sizeof(struct vring_desc) ||
		    d.len / sizeof(struct vring_desc) > VQ_MAX_SIZE) {
			*why = "bad indirect table length";
			return -EINVAL;
		}
		table = (const struct vring_desc *)(void *)vhost_mem_gpa_range(mem, d.addr, d.len);
		if (!table) {
			*why = "indirect table outside guest memory";
			return -EFAULT;
		}
		if ((uintptr_t)table & 15) {
			*why = "misaligned indirect table";
			return -EINVAL;
		}
		size = d.len / sizeof(struct vring_desc);
		desc_read(&table[0], &d);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			*why = "nested indirect descriptor";
			return -EINVAL;
		}
	}
	/* A chain visits each entry at most once: more steps than entries
	 * means a loop. */
	for (uint32_t steps = 1;; steps++) {
		if (!!(d.flags & VRING_DESC_F_WRITE) != writable) {
			*why = writable ? "read-only buffer in the receive ring"
					: "writable buffer in the transmit ring";
			return -EINVAL;
		}
		int r = chain_add(mem, c, d.addr, d.len, why);
		if (r < 0)
			return r;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= size) {
			*why = "descriptor index out of range";
			return -EINVAL;
		}
		if (steps >= size) {
			*why = "descriptor chain loops";
			return -ELOOP;
		}
		desc_read(&table[d.next], &d);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			*why = "indirect descriptor inside a chain";
			return -EINVAL;
		}
	}
}

/* Copy len bytes out of the chain, starting `off` bytes into it. */
static void chain_read(const struct vq_chain *c, uint64_t off, uint8_t *dst, uint32_t len)
{
	unsigned i = 0;
	if (!len)
		return;
	while (off >= c->seg[i].len) {
		off -= c->seg[i].len;
		i++;
	}
	while (len) {
		uint32_t take = c->seg[i].len - (uint32_t)off;
		if (take > len)
			take = len;
		memcpy(dst, c->seg[i].p + off, take);
		dst += take;
		len -= take;
		off = 0;
		i++;
	}
}

static inline void used_put(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e = &vq->used->ring[vq->last_used_idx & vq->mask];
	e->id = head;
	e->len = len;
	vq->last_used_idx++;
}

static inline void used_publish(struct virtq *vq)
{
	/* The entries must be visible before the index that covers them. */
	vq_smp_wmb();
	VQ_WRITE_ONCE(vq->used->idx, vq->last_used_idx);
}

/* Whether the guest may ask for this offload: it must have been offered and
 * taken, like a real NIC's feature flags. */
static bool tx_offload_ok(const struct virtq *vq, const struct vnet_hdr_mrg *h)
{
	unsigned ok = vq->rx_offloads;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !(ok & PORT_OFF_CSUM))
		return false;
	uint8_t gso = h->gso_type;
	if ((gso & VIRTIO_NET_HDR_GSO_ECN) && !(ok & PORT_OFF_TSO_ECN))
		return false;
	switch (gso & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return !(gso & VIRTIO_NET_HDR_GSO_ECN);
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return ok & PORT_OFF_TSO4;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return ok & PORT_OFF_TSO6;
	default: /* UFO is obsolete; USO is not offered */
		return false;
	}
}

enum tx_verdict { TX_OK, TX_DROP, TX_NOBUF };

/* The last zero-copy packet of a burst is gone: the guest may have its
 * buffers back. */
static void zc_release(struct pkt *k)
{
	struct virtq *vq = k->owner;
	if (vq->zc_out)
		vq->zc_out--;
	if (vq->zc_out == 0 && vq->zc_unpublished && vq->mapped) {
		vq->zc_unpublished = false;
		used_publish(vq);
	}
}

/* A packet over the frame where it lies in guest memory, if it lies in one
 * piece and carries no offload work (checksum completion and segmentation
 * read and write the frame more than once).  NULL: copy it. */
static struct pkt *tx_ref(struct virtq *vq, const struct vq_chain *c, uint32_t flen)
{
	uint32_t hl = vq->hdr_len;
	unsigned i = 0;
	uint64_t off = hl;
	while (i < c->nseg && off >= c->seg[i].len)
		off -= c->seg[i++].len;
	if (i == c->nseg || c->seg[i].len - off < flen)
		return NULL;
	struct pkt *k = pkt_alloc_ext(c->seg[i].p + off, flen, zc_release, vq, 0);
	if (k)
		vq->zc_out++;
	return k;
}

static enum tx_verdict tx_copy(struct virtq *vq, const struct vq_chain *c, struct pkt **out,
			       struct port_stats *st)
{
	struct vnet_hdr_mrg h = { 0 };
	uint32_t hl = vq->hdr_len;

	if (c->bytes < hl) {
		st->rx_drop[RX_DROP_MALFORMED]++;
		return TX_DROP;
	}
	uint64_t flen = c->bytes - hl;
	if (flen > PKT_MAX_FRAME) {
		st->rx_drop[RX_DROP_OVERSIZE]++;
		return TX_DROP;
	}
	/* The header is copied first and only the copy is looked at. */
	chain_read(c, 0, (uint8_t *)&h, hl);
	if ((h.flags | h.gso_type) && !tx_offload_ok(vq, &h)) {
		st->rx_drop[RX_DROP_MALFORMED]++;
		return TX_DROP;
	}
	struct pkt *k = NULL;
	if (vq->zero_copy && !(h.flags | h.gso_type) && (k = tx_ref(vq, c, (uint32_t)flen))) {
		/* The switch reads the MACs once the whole burst is taken:
		 * start fetching them now, so the misses overlap. */
		__builtin_prefetch(k->data);
		*out = k;
		return TX_OK;
	}
	k = pkt_alloc((uint32_t)flen);
	if (!k)
		return TX_NOBUF;
	chain_read(c, hl, k->data, (uint32_t)flen);
	k->len = (uint32_t)flen;
	k->off.flags = h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	k->off.gso_type = h.gso_type;
	k->off.hdr_len = vq_le16(h.hdr_len);
	k->off.gso_size = vq_le16(h.gso_size);
	k->off.csum_start = vq_le16(h.csum_start);
	k->off.csum_offset = vq_le16(h.csum_offset);
	*out = k;
	return TX_OK;
}

/* The guest's avail index, checked against what we have taken. */
static int avail_read(struct virtq *vq, uint16_t *idx, const char **why)
{
	uint16_t a = vq_le16(VQ_READ_ONCE(vq->avail->idx));
	if ((uint16_t)(a - vq->last_avail_idx) > vq->num) {
		*why = "avail index moved by more than the ring size";
		return -EPROTO;
	}
	/* Ring entries are read after the index that published them. */
	vq_smp_rmb();
	*idx = a;
	return 0;
}

int virtq_tx_dequeue(struct virtq *vq, struct vhost_mem *mem, struct pkt **pkts, unsigned max,
		     struct port_stats *st, const char **why)
{
	uint16_t avail_idx;
	struct vq_chain c;
	unsigned got = 0;
	int r = avail_read(vq, &avail_idx, why);
	if (r < 0)
		return r;
	uint16_t pending = (uint16_t)(avail_idx - vq->last_avail_idx);
	unsigned n = pending < max ? pending : max;
	if (!n)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		uint16_t head = vq_le16(VQ_READ_ONCE(vq->avail->ring[vq->last_avail_idx & vq->mask]));
		struct pkt *k = NULL;
		r = virtq_walk(vq, mem, head, false, &c, why);
		if (r == 0) {
			enum tx_verdict v = tx_copy(vq, &c, &k, st);
			if (v == TX_NOBUF) {
				/* Leave it in the ring: the guest waits, not drops. */
				st->rx_drop[RX_DROP_NOBUF]++;
				break;
			}
		} else if (r == -E2BIG) {
			st->rx_drop[RX_DROP_MALFORMED]++;
		} else {
			pkt_free_burst(pkts, got);
			return r;
		}
		/* The frame is ours now (copied, or referenced and published
		 * when released): the chain is done. */
		used_put(vq, head, 0);
		vq->last_avail_idx++;
		if (k)
			pkts[got++] = k;
	}
	if (vq->zc_out)
		vq->zc_unpublished = true;
	else
		used_publish(vq);
	return (int)got;
}

/* Copy len bytes into the chain from `off` bytes into it; returns how many
 * fit. */
static uint32_t chain_write(const struct vq_chain *c, uint32_t off, const uint8_t *src,
			    uint32_t len)
{
	uint32_t done = 0;
	for (unsigned i = 0; i < c->nseg && done < len; i++) {
		uint32_t sl = c->seg[i].len;
		if (off >= sl) {
			off -= sl;
			continue;
		}
		uint32_t take = sl - off;
		if (take > len - done)
			take = len - done;
		/* memmove: with zero copy the source may be guest memory too,
		 * and a hostile guest may post the same buffer both ways. */
		memmove(c->seg[i].p + off, src + done, take);
		done += take;
		off = 0;
	}
	return done;
}

static void hdr_from_pkt(const struct pkt *k, struct vnet_hdr_mrg *h, uint16_t nbufs)
{
	h->flags = k->off.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = k->off.gso_type;
	h->hdr_len = htole16(k->off.hdr_len);
	h->gso_size = htole16(k->off.gso_size);
	h->csum_start = htole16(k->off.csum_start);
	h->csum_offset = htole16(k->off.csum_offset);
	h->num_buffers = htole16(nbufs);
}

enum rx_verdict { RX_SENT, RX_DROPPED, RX_NO_ROOM };

/* One frame into as many chains as it takes (one without MRG_RXBUF).
 * RX_NO_ROOM consumes nothing: what we wrote stays invisible until the used
 * index covers it.  -errno for a broken ring. */
static int rx_one(struct virtq *vq, struct vhost_mem *mem, const struct pkt *k,
		  uint16_t *avail_idx, struct port_stats *st, const char **why)
{
	struct vq_chain c;
	struct vnet_hdr_mrg h;
	uint32_t hl = vq->hdr_len;
	uint16_t start_avail = vq->last_avail_idx, start_used = vq->last_used_idx;
	uint32_t done = 0; /* frame bytes written */
	uint16_t nbufs = 0;
	/* Where the header goes, written last (num_buffers is known then):
	 * the start of the first chain, pieces of at least one byte. */
	struct vq_seg hseg[sizeof(h)];
	unsigned nh = 0;

	while (nbufs == 0 || done < k->len) {
		if (vq->last_avail_idx == *avail_idx) {
			int r = avail_read(vq, avail_idx, why);
			if (r < 0)
				return r;
			if (vq->last_avail_idx == *avail_idx)
				goto no_room;
		}
		if (nbufs == VQ_MAX_MERGE)
			goto no_room;
		uint16_t head = vq_le16(VQ_READ_ONCE(vq->avail->ring[vq->last_avail_idx & vq->mask]));
		int r = virtq_walk(vq, mem, head, true, &c, why);
		if (r == -E2BIG) {
			/* Too many pieces: the first VQ_MAX_SEGS are valid and
			 * enough to write into. */
			c.bytes = 0;
			for (unsigned i = 0; i < c.nseg; i++)
				c.bytes += c.seg[i].len;
		} else if (r < 0) {
			return r;
		}
		uint32_t off = 0, room = c.bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)c.bytes;
		if (nbufs == 0) {
			if (room < hl) {
				*why = "receive buffer smaller than the virtio-net header";
				return -EINVAL;
			}
			if (!vq->mrg && room - hl < k->len) {
				/* Without MRG_RXBUF a frame must fit one chain:
				 * keep the chain for a smaller frame. */
				st->tx_drop[TX_DROP_ERROR]++;
				return RX_DROPPED;
			}
			for (unsigned i = 0, need = hl; need; i++) {
				uint32_t take = c.seg[i].len < need ? c.seg[i].len : need;
				hseg[nh].p = c.seg[i].p;
				hseg[nh++].len = take;
				need -= take;
			}
			off = hl;
		}
		uint32_t w = chain_write(&c, off, k->data + done, k->len - done);
		done += w;
		used_put(vq, head, off + w);
		vq->last_avail_idx++;
		nbufs++;
	}
	hdr_from_pkt(k, &h, nbufs);
	const uint8_t *hp = (const uint8_t *)&h;
	for (unsigned i = 0; i < nh; i++) {
		memcpy(hseg[i].p, hp, hseg[i].len);
		hp += hseg[i].len;
	}
	return RX_SENT;
no_room:
	vq->last_avail_idx = start_avail;
	vq->last_used_idx = start_used;
	return RX_NO_ROOM;
}

/* Start fetching what the frame after this one touches, so that its cache
 * misses overlap this frame's copy: its data, and the guest buffer it will
 * most likely go to (the next available one; a plain descriptor only, a
 * guess that needs no checking beyond staying inside guest memory). */
static void rx_prefetch_next(struct virtq *vq, struct vhost_mem *mem, const struct pkt *next,
			     uint16_t avail_idx)
{
	__builtin_prefetch(next->data);
	__builtin_prefetch(next->data + 64);
	if ((uint16_t)(avail_idx - vq->last_avail_idx) < 2)
		return; /* no buffer published after the one this frame takes */
	uint16_t slot = (uint16_t)(vq->last_avail_idx + 1);
	uint16_t head = vq_le16(VQ_READ_ONCE(vq->avail->ring[slot & vq->mask]));
	if (head >= vq->num)
		return;
	uint64_t addr = VQ_READ_ONCE(vq->desc[head].addr), contig;
	uint8_t *h = vhost_mem_gpa(mem, addr, 128, &contig);
	if (h) {
		__builtin_prefetch(h, 1);
		if (contig > 64)
			__builtin_prefetch(h + 64, 1);
	}
}

int virtq_rx_enqueue(struct virtq *vq, struct vhost_mem *mem, struct pkt **pkts, unsigned n,
		     struct port_stats *st, const char **why)
{
	uint16_t avail_idx;
	unsigned i = 0;
	int r = avail_read(vq, &avail_idx, why);
	if (r < 0)
		return r;
	for (; i < n; i++) {
		if (i + 1 < n)
			rx_prefetch_next(vq, mem, pkts[i + 1], avail_idx);
		r = rx_one(vq, mem, pkts[i], &avail_idx, st, why);
		if (r < 0)
			return r;
		if (r == RX_SENT) {
			st->tx_packets++;
			st->tx_bytes += pkts[i]->len;
		} else if (r == RX_NO_ROOM) {
			st->tx_drop[TX_DROP_QUEUE_FULL]++;
			if (vq->last_avail_idx == avail_idx)
				break; /* no buffers at all: the rest cannot fit */
		}
	}
	/* The frames after a full ring are lost too. */
	for (i++; i < n; i++)
		st->tx_drop[TX_DROP_QUEUE_FULL]++;
	used_publish(vq);
	if (vq->event_idx)
		virtq_kicks_off(vq); /* never kick us for RX buffers */
	return 0;
}

void virtq_kicks_on(struct virtq *vq)
{
	if (vq->event_idx) {
		VQ_WRITE_ONCE(*avail_event_of(vq), htole16(vq->last_avail_idx));
	} else if (vq->used_flags & VRING_USED_F_NO_NOTIFY) {
		vq->used_flags &= (uint16_t)~VRING_USED_F_NO_NOTIFY;
		VQ_WRITE_ONCE(vq->used->flags, htole16(vq->used_flags));
	}
	vq->kicks_on = true;
	/* The guest must see this before we look at its index again. */
	vq_smp_mb();
}

void virtq_kicks_off(struct virtq *vq)
{
	if (vq->event_idx) {
		/* An event index just behind what we took is one the guest
		 * has already passed: it never kicks (until 64K entries
		 * later, and we move it on every burst). */
		VQ_WRITE_ONCE(*avail_event_of(vq), htole16((uint16_t)(vq->last_avail_idx - 1)));
	} else if (!(vq->used_flags & VRING_USED_F_NO_NOTIFY)) {
		vq->used_flags |= VRING_USED_F_NO_NOTIFY;
		VQ_WRITE_ONCE(vq->used->flags, htole16(vq->used_flags));
	}
	vq->kicks_on = false;
}

bool virtq_need_call(struct virtq *vq, uint16_t old_used)
{
	if (vq->last_used_idx == old_used)
		return false;
	/* Our used index store must be visible before we read the guest's
	 * wish, or we could miss the interrupt it just asked for. */
	vq_smp_mb();
	if (vq->event_idx)
		return vq_need_event(vq_le16(VQ_READ_ONCE(*used_event_of(vq))), vq->last_used_idx,
				     old_used);
	return !(vq_le16(VQ_READ_ONCE(vq->avail->flags)) & VRING_AVAIL_F_NO_INTERRUPT);
}
