/* Kernel interfaces (veth, physical NICs) through AF_PACKET.
 *
 * One SOCK_RAW socket per interface, bound to it, in promiscuous mode, with
 * PACKET_VNET_HDR so that checksum-offload and TSO frames travel with their
 * metadata instead of being segmented, and PACKET_IGNORE_OUTGOING so that we
 * do not hear our own transmissions.
 *
 * Receive: a TPACKET_V2 ring shared with the kernel (no system call per
 * frame or per burst: the kernel copies each frame into a slot and flags it;
 * we copy it out and hand the slot back).  V2 rather than V3: V2 flags every
 * frame at once, V3 only whole blocks, which costs a block timeout of latency
 * at low rates.  A frame bigger than a slot (a 64 KiB segmentation-offload
 * frame) is flagged TP_STATUS_COPY and waits whole on the socket's queue
 * (PACKET_COPY_THRESH), where recvmsg() takes it.  Frames the kernel drops
 * because the ring or the queue was full are counted from
 * PACKET_STATISTICS as rx_drop_overrun.
 *
 * Transmit: a TPACKET_V2 ring too, with PACKET_QDISC_BYPASS (about 15 % more
 * frames per second of 64-byte UDP on veth than through the qdisc).  Each
 * frame of a burst is copied into a slot and one send() hands them all over.
 * That is one system call per burst, like sendmmsg(), but it also matters
 * when the frame's receiver is on this machine: the kernel delivers each
 * frame into the receiving socket inside our call, and sendmmsg() offers the
 * CPU to the woken receiver after every frame (cond_resched()), so switch
 * and receiver ping-pong per frame; the ring walks the burst without that.
 * The vnet header's hdr_len is set to the whole frame so that the kernel
 * copies the frame out of the slot instead of pointing into it: the kernel
 * hands a slot back when the skb loses its owner (skb_orphan(), which IP
 * receive does), and a receiver could still hold page fragments of the slot
 * that we then overwrite.  A precaution, not the fix of a seen bug: without
 * it every test here still passed on kernel 6.18 (raw receivers, UDP
 * checksums verified at the receiver).
 * Frames that do not fit a slot (64 KiB offload frames, oversized ones) and
 * frames met when every slot is still in flight (a slow NIC) go by a second,
 * ring-less socket with sendmmsg().  That socket takes the direct path too
 * when the device has TSO; when it has none it uses the normal path, where
 * the kernel segments offload frames (the direct path drops a frame the
 * device cannot take as it is).  Runs of frames keep their order.
 *
 * The kernel strips VLAN tags into metadata on receive (auxdata); they are put
 * back in the frame so the switch sees the frame as it was on the wire.
 *
 * If the interface disappears the socket reports an error: the port goes down
 * and tick() re-attaches it by name when an interface of that name is back.
 * A link that goes down (same interface, same index) keeps its socket.
 */
#include "port-afpacket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eth.h"
#include "log.h"
#include "loop.h"
#include "rxbuf.h"
#include "rxmod.h"
#include "vnet.h"

/* The receive ring: 32 blocks of 32 slots of 2 KiB (2 MiB per port), as
 * many slots as a NIC's usual 1,024 receive descriptors.  The ring is what
 * absorbs a burst while the switch is not running.  64-byte UDP through two
 * netdev ports (bench/udp-probe.sh, interleaved): with 512 slots 1.6x as
 * many frames were lost in the ring (rx_drop_overrun) and 8-26 % fewer
 * reached the receiver; 2,048 slots lost fewer in the ring but delivered
 * no more.  A
 * slot holds its header, the vnet header and a frame of up to ~1,950 bytes:
 * every frame of a 1500-byte MTU, VLAN tag included. */
#define RING_FRAME 2048u
#define RING_BLOCK (64u * 1024u)
#define RING_BLOCKS 32u
#define RING_FRAMES (RING_BLOCKS * (RING_BLOCK / RING_FRAME))
#define RX_RING_SIZE ((size_t)RING_BLOCK * RING_BLOCKS)

/* The transmit ring: 4 blocks of 32 slots (256 KiB per port), after the
 * receive ring in the same mapping.  In a slot the vnet header starts at
 * TX_DATA (after the slot's header); the frame follows it. */
#define TX_BLOCKS 4u
#define TX_FRAMES (TX_BLOCKS * (RING_BLOCK / RING_FRAME))
#define TX_DATA TPACKET_ALIGN(sizeof(struct tpacket2_hdr))
#define TX_ROOM (RING_FRAME - TX_DATA - VNET_HDR_LEN) /* biggest frame in a slot */
#define RINGS_SIZE (RX_RING_SIZE + (size_t)RING_BLOCK * TX_BLOCKS)

struct afp_priv {
	int fd;
	int fd_out; /* ring-less, for frames that do not go by the ring */
	bool out_bypass; /* fd_out takes the direct path (the device has TSO) */
	int ifindex;
	int mtu;
	struct loop_watch w;
	struct ratelimit rl;
	bool lost_logged;
	bool link_down; /* attached, but the interface's link is down */
	uint8_t *ring; /* receive ring, then transmit ring (NULL: none) */
	unsigned head; /* the next receive slot to look at */
	unsigned tx_head; /* the next transmit slot to fill */
	struct rxmod mod; /* receive moderation (rxmod.h) */
};

static void afp_rx(void *arg, uint32_t events);
static unsigned afp_rx_burst(struct port *p);

static int afp_socket(const char *ifname, int *ifindex_out, uint8_t **ring_out)
{
	int ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	/* Protocol 0: receive nothing until bound to the one interface. */
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1, bufsz = 4 << 20, v2 = TPACKET_V2;
	struct tpacket_req req = {
		.tp_block_size = RING_BLOCK,
		.tp_block_nr = RING_BLOCKS,
		.tp_frame_size = RING_FRAME,
		.tp_frame_nr = RING_FRAMES,
	};
	struct tpacket_req treq = {
		.tp_block_size = RING_BLOCK,
		.tp_block_nr = TX_BLOCKS,
		.tp_frame_size = RING_FRAME,
		.tp_frame_nr = TX_FRAMES,
	};
	if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v2, sizeof(v2)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_COPY_THRESH, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &treq, sizeof(treq)) < 0)
		goto err;
	void *ring = mmap(NULL, RINGS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED)
		goto err;
	/* Bigger socket buffers absorb bursts; best effort. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof(bufsz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz, sizeof(bufsz));
	/* Straight to the driver: the switch has its own queues and drops. */
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = ifindex,
	};
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto err_unmap;
	struct packet_mreq mr = { .mr_ifindex = ifindex, .mr_type = PACKET_MR_PROMISC };
	if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
		goto err_unmap;
	*ifindex_out = ifindex;
	*ring_out = ring;
	return fd;
err_unmap:;
	int r = -errno;
	munmap(ring, RINGS_SIZE);
	close(fd);
	return r;
err:
	r = -errno;
	close(fd);
	return r;
}

/* Does the device segment TCP itself (TSO)?  An interface can change that
 * at any time (ethtool -K IF tso off), so it is asked again once a second
 * and whenever the direct path refuses an offload frame. */
static bool afp_dev_tso(int fd, const char *ifname)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_GTSO };
	struct ifreq ifr = { .ifr_data = (void *)&ev };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	return ioctl(fd, SIOCETHTOOL, &ifr) == 0 && ev.data;
}

/* The ring-less socket (see the top of the file): opened with the port,
 * bound with protocol 0 so that it receives nothing; the direct path while
 * the device has TSO, the normal path (where the kernel segments) while it
 * has none.  Asked again once a second and whenever the direct path refuses
 * an offload frame. */
static int afp_out_socket(struct afp_priv *a)
{
	int g = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, bufsz = 4 << 20;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = a->ifindex };
	if (g < 0)
		return -errno;
	if (setsockopt(g, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    bind(g, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int r = -errno;
		close(g);
		return r;
	}
	setsockopt(g, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz, sizeof(bufsz));
	a->out_bypass = false;
	return g;
}

/* Follow the device's TSO setting and MTU. */
static void afp_update_dev(struct port *p)
{
	struct afp_priv *a = port_priv(p);
	if (a->fd < 0)
		return;
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", p->ifname);
	if (ioctl(a->fd, SIOCGIFMTU, &ifr) == 0)
		a->mtu = ifr.ifr_mtu;
	int bypass = afp_dev_tso(a->fd, p->ifname);
	if (bypass == a->out_bypass)
		return;
	if (setsockopt(a->fd_out, SOL_PACKET, PACKET_QDISC_BYPASS, &bypass, sizeof(bypass)) == 0)
		a->out_bypass = bypass;
	else
		log_warn_rl(&a->rl, "port %s: qdisc bypass: %s", p->name, strerror(errno));
}

/* Follow the link: a port whose link is down is down (not flooded to, its
 * stations forgotten), and comes back up with the link. */
static void afp_check_link(struct port *p)
{
	struct afp_priv *a = port_priv(p);
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", p->ifname);
	bool up = ioctl(a->fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
	if (up == !a->link_down)
		return;
	a->link_down = !up;
	log_info("port %s: link of %s %s", p->name, p->ifname, up ? "up" : "down");
	port_set_state(p, up ? PORT_UP : PORT_DOWN);
}

static int afp_attach(struct port *p)
{
	struct afp_priv *a = port_priv(p);
	int ifindex = 0;
	uint8_t *ring = NULL;
	int fd = afp_socket(p->ifname, &ifindex, &ring);
	if (fd < 0)
		return fd;
	a->ifindex = ifindex;
	int out = afp_out_socket(a);
	int r = out < 0 ? out : loop_watch_add(p->loop, &a->w, fd, EPOLLIN, afp_rx, p);
	if (r < 0) {
		if (out >= 0)
			close(out);
		munmap(ring, RINGS_SIZE);
		close(fd);
		return r;
	}
	a->fd = fd;
	a->fd_out = out;
	a->ring = ring;
	a->head = a->tx_head = 0;
	a->mtu = 1500;
	a->lost_logged = false;
	a->link_down = false;
	afp_update_dev(p);
	port_set_state(p, PORT_UP);
	return 0;
}

/* Frames the kernel dropped for us (ring or queue full): the counter
 * resets when read, so it is added up here. */
static void afp_count_overruns(struct port *p)
{
	struct afp_priv *a = port_priv(p);
	struct tpacket_stats st;
	socklen_t l = sizeof(st);
	if (a->fd >= 0 && getsockopt(a->fd, SOL_PACKET, PACKET_STATISTICS, &st, &l) == 0)
		p->stats.rx_drop[RX_DROP_OVERRUN] += st.tp_drops;
}

static void afp_detach(struct port *p)
{
	struct afp_priv *a = port_priv(p);
	if (loop_watch_active(&a->w)) {
		afp_count_overruns(p);
		loop_watch_del(p->loop, &a->w);
		rxmod_stop(&a->mod);
		munmap(a->ring, RINGS_SIZE);
		close(a->fd);
		close(a->fd_out);
	}
	a->ring = NULL;
	a->fd = a->fd_out = -1;
}

static int afp_open(struct port *p, const struct port_args *args)
{
	struct afp_priv *a = port_priv(p);
	a->fd = a->fd_out = -1;
	a->rl = (struct ratelimit)RATELIMIT_INIT(10, 5);
	loop_watch_init(&a->w);
	rxmod_init(&a->mod, p, &a->w, afp_rx_burst, args->rx_usecs,
		   args->rx_usecs_max);
	snprintf(p->ifname, sizeof(p->ifname), "%s", args->ifname);
	p->tx_offloads = PORT_OFF_ALL;
	int r = afp_attach(p);
	if (r == -ENODEV && args->wait_missing) {
		log_warn("port %s: interface %s does not exist (yet); waiting for it", p->name,
			 p->ifname);
		a->lost_logged = true;
		return 0;
	}
	return r;
}

static void afp_close(struct port *p)
{
	afp_detach(p);
}

static void afp_lost(struct port *p, int err)
{
	log_warn("port %s: interface %s lost (%s); waiting for it to come back", p->name,
		 p->ifname, strerror(err));
	afp_detach(p);
	port_set_state(p, PORT_DOWN);
}

static void afp_tick(struct port *p)
{
	struct afp_priv *a = port_priv(p);
	if (a->fd >= 0) {
		if ((int)if_nametoindex(p->ifname) != a->ifindex) {
			afp_lost(p, ENODEV);
			return;
		}
		if (a->link_down)
			afp_check_link(p);
		afp_count_overruns(p);
		afp_update_dev(p);
		return;
	}
	int r = afp_attach(p);
	if (r == 0)
		log_info("port %s: interface %s is back", p->name, p->ifname);
	else if (!a->lost_logged && r != -ENODEV)
		log_warn("port %s: re-attach %s: %s", p->name, p->ifname, strerror(-r));
	a->lost_logged = true;
}

/* Put a VLAN tag the kernel took out of the frame back in. */
static int reinsert_vlan(struct pkt *k, uint32_t status, uint16_t tci, uint16_t tpid)
{
	if (pkt_headroom(k) < ETH_VLAN_LEN || k->len < 12)
		return -1;
	if (!(status & TP_STATUS_VLAN_TPID_VALID))
		tpid = ETH_TYPE_VLAN;
	k->data -= ETH_VLAN_LEN;
	memmove(k->data, k->data + ETH_VLAN_LEN, 12);
	eth_put_be16(k->data + 12, tpid);
	eth_put_be16(k->data + 14, tci);
	k->len += ETH_VLAN_LEN;
	if (k->off.flags & PKT_OFF_F_NEEDS_CSUM)
		k->off.csum_start += ETH_VLAN_LEN;
	if (k->off.hdr_len)
		k->off.hdr_len += ETH_VLAN_LEN;
	return 0;
}

/* A frame too big for a ring slot, whole from the socket's queue (the
 * kernel queues it in ring order: we take it when we meet its slot). */
static struct pkt *afp_recv_queued(struct port *p, unsigned slot)
{
	struct afp_priv *a = port_priv(p);
	struct virtio_net_hdr vh;
	struct iovec iov[3] = { { &vh, VNET_HDR_LEN } };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} cbuf;
	struct pkt *k = rxbuf_prepare(slot, &iov[1]);
	if (!k) {
		port_rx_drop(p, RX_DROP_NOBUF);
		return NULL;
	}
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3, .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf) };
	ssize_t r = recvmsg(a->fd, &mh, MSG_DONTWAIT);
	if (r < (ssize_t)VNET_HDR_LEN || (mh.msg_flags & MSG_TRUNC)) {
		pkt_free(k);
		if (r >= 0)
			port_rx_drop(p, (mh.msg_flags & MSG_TRUNC) ? RX_DROP_OVERSIZE
								  : RX_DROP_MALFORMED);
		/* r < 0: the copy was not queued (queue full): an overrun the
		 * kernel counts. */
		return NULL;
	}
	vnet_to_off(&vh, &k->off);
	struct pkt *pk = rxbuf_finish(k, slot, (size_t)r - VNET_HDR_LEN);
	if (!pk) {
		port_rx_drop(p, RX_DROP_OVERSIZE);
		return NULL;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
			continue;
		struct tpacket_auxdata aux;
		memcpy(&aux, CMSG_DATA(c), sizeof(aux));
		if ((aux.tp_status & TP_STATUS_VLAN_VALID) &&
		    reinsert_vlan(pk, aux.tp_status, aux.tp_vlan_tci, aux.tp_vlan_tpid) < 0) {
			pkt_free(pk);
			port_rx_drop(p, RX_DROP_MALFORMED);
			return NULL;
		}
		break;
	}
	return pk;
}

/* One frame out of the slot `h` (the slot stays ours until the caller hands
 * it back). */
static struct pkt *afp_from_slot(struct port *p, struct tpacket2_hdr *h, uint32_t status,
				 unsigned slot)
{
	if (status & TP_STATUS_COPY)
		return afp_recv_queued(p, slot);
	uint32_t len = h->tp_snaplen;
	uint16_t mac = h->tp_mac;
	if (len < h->tp_len || mac < VNET_HDR_LEN || (uint32_t)mac + len > RING_FRAME) {
		/* Cut short and no whole copy queued: the queue was full. */
		port_rx_drop(p, RX_DROP_OVERRUN);
		return NULL;
	}
	struct pkt *k = pkt_alloc(len);
	if (!k) {
		port_rx_drop(p, RX_DROP_NOBUF);
		return NULL;
	}
	const uint8_t *frame = (const uint8_t *)h + mac;
	struct virtio_net_hdr vh;
	memcpy(&vh, frame - VNET_HDR_LEN, VNET_HDR_LEN);
	vnet_to_off(&vh, &k->off);
	memcpy(k->data, frame, len);
	k->len = len;
	if ((status & TP_STATUS_VLAN_VALID) &&
	    reinsert_vlan(k, status, h->tp_vlan_tci, h->tp_vlan_tpid) < 0) {
		pkt_free(k);
		port_rx_drop(p, RX_DROP_MALFORMED);
		return NULL;
	}
	return k;
}

/* Up to a burst from the ring, handed to the switch.  Returns the number
 * of slots taken (frames passed on or dropped). */
static unsigned afp_rx_burst(struct port *p)
{
	struct afp_priv *a = port_priv(p);
	struct pkt *k[PKT_BURST];
	unsigned n = 0, i;

	for (i = 0; i < PKT_BURST; i++) {
		struct tpacket2_hdr *h = (struct tpacket2_hdr *)(a->ring + (size_t)a->head * RING_FRAME);
		uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
		if (!(status & TP_STATUS_USER))
			break;
		struct pkt *pk = afp_from_slot(p, h, status, n);
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		a->head = (a->head + 1) % RING_FRAMES;
		if (pk)
			k[n++] = pk;
	}
	if (n)
		port_input(p, k, n);
	return i;
}

static void afp_rx(void *arg, uint32_t events)
{
	struct port *p = arg;
	struct afp_priv *a = port_priv(p);

	if (events & EPOLLERR) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		/* The kernel says ENETDOWN when the link goes down (or was down
		 * when we bound: a fresh veth the daemon is about to bring up),
		 * and on deletion, which begins with the link going down.  The
		 * socket stays: the kernel hooks it in again when the link comes
		 * up.  tick() notices a deletion by the name's index. */
		if (err == ENETDOWN && (int)if_nametoindex(p->ifname) == a->ifindex) {
			afp_check_link(p);
		} else if (err == ENETDOWN || err == ENXIO || err == ENODEV) {
			afp_lost(p, err);
			return;
		}
	}
	/* Up to a burst from the ring; epoll (level-triggered on the ring)
	 * brings us back for the rest after the other ports had their turn,
	 * or, under load, the moderation timer does. */
	rxmod_wakeup(&a->mod);
}

/* Busy-poll mode: the ring says itself whether a frame is waiting (one
 * read of shared memory, no system call). */
static bool afp_poll(struct port *p)
{
	struct afp_priv *a = port_priv(p);
	if (!a->ring)
		return false;
	const struct tpacket2_hdr *h =
		(const struct tpacket2_hdr *)(a->ring + (size_t)a->head * RING_FRAME);
	if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
		return false;
	afp_rx(p, 0);
	return true;
}

static struct tpacket2_hdr *tx_slot(const struct afp_priv *a, unsigned i)
{
	return (struct tpacket2_hdr *)(a->ring + RX_RING_SIZE + (size_t)i * RING_FRAME);
}

static uint32_t tx_status(const struct afp_priv *a, unsigned i)
{
	return __atomic_load_n(&tx_slot(a, i)->tp_status, __ATOMIC_ACQUIRE);
}

static void tx_set_status(const struct afp_priv *a, unsigned i, uint32_t st)
{
	__atomic_store_n(&tx_slot(a, i)->tp_status, st, __ATOMIC_RELEASE);
}

/* Does this frame go by the ring?  (Else by fd_out.) */
static bool tx_by_ring(const struct afp_priv *a, const struct pkt *k)
{
	return k->off.gso_type == PKT_GSO_NONE && k->len <= TX_ROOM &&
	       k->len <= (uint32_t)a->mtu + ETH_HLEN + ETH_VLAN_LEN;
}

static void tx_drop_for(struct port *p, int err)
{
	port_tx_drop(p, err == ENETDOWN || err == ENXIO ? TX_DROP_LINK_DOWN : TX_DROP_QUEUE_FULL);
}

/* Send frames through the transmit ring: copy each into a free slot, then
 * one send() for all.  Returns how many frames it took (each counted as sent
 * or dropped), 0 if the next slot is still in flight. */
static unsigned afp_tx_ring(struct port *p, struct pkt **pkts, unsigned n)
{
	struct afp_priv *a = port_priv(p);
	unsigned first = a->tx_head, queued = 0;
	for (; queued < n; queued++) {
		if (tx_status(a, a->tx_head) != TP_STATUS_AVAILABLE)
			break;
		const struct pkt *k = pkts[queued];
		struct tpacket2_hdr *h = tx_slot(a, a->tx_head);
		uint8_t *d = (uint8_t *)h + TX_DATA;
		struct virtio_net_hdr vh;
		vnet_from_off(&k->off, &vh);
		vh.hdr_len = (uint16_t)k->len; /* copy it all (see the top) */
		memcpy(d, &vh, VNET_HDR_LEN);
		memcpy(d + VNET_HDR_LEN, k->data, k->len);
		h->tp_len = VNET_HDR_LEN + k->len;
		tx_set_status(a, a->tx_head, TP_STATUS_SEND_REQUEST);
		a->tx_head = (a->tx_head + 1) % TX_FRAMES;
	}
	if (!queued)
		return 0;
	int err = 0;
	while (send(a->fd, NULL, 0, MSG_DONTWAIT) < 0 && (err = errno) == EINTR)
		err = 0;
	/* The kernel took the slots in order (now sending or done) up to the
	 * first it could not send, and starts from that one next time.  Take
	 * back the slots from there. */
	unsigned i = 0, slot = first;
	for (; i < queued; i++, slot = (slot + 1) % TX_FRAMES) {
		uint32_t st = tx_status(a, slot);
		if (st == TP_STATUS_SEND_REQUEST || st == TP_STATUS_WRONG_FORMAT)
			break;
		port_tx_ok(p, pkts[i]->len);
	}
	if (i == queued)
		return queued;
	bool bad = tx_status(a, slot) == TP_STATUS_WRONG_FORMAT;
	for (unsigned j = i, s = slot; j < queued; j++, s = (s + 1) % TX_FRAMES)
		tx_set_status(a, s, TP_STATUS_AVAILABLE);
	a->tx_head = slot;
	if (bad) {
		/* This frame is bad for the device: skip it; the caller sends
		 * the rest. */
		log_warn_rl(&a->rl, "port %s: send: frame refused (%s)", p->name,
			    strerror(err ? err : EINVAL));
		port_tx_drop(p, TX_DROP_ERROR);
		return i + 1;
	}
	/* The interface's queue or our socket buffer is full, or the link is
	 * down: the kernel would try this frame again, we drop it and the
	 * rest of the run. */
	for (; i < queued; i++)
		tx_drop_for(p, err);
	return queued;
}

/* Send frames by the ring-less socket, one sendmmsg() per run.  Returns how
 * many frames it took (each counted as sent or dropped). */
static unsigned afp_tx_msg(struct port *p, struct pkt **pkts, unsigned n)
{
	struct afp_priv *a = port_priv(p);
	struct mmsghdr msg[PKT_BURST];
	struct iovec iov[PKT_BURST][2];
	struct virtio_net_hdr vh[PKT_BURST];

	for (unsigned i = 0; i < n; i++) {
		vnet_from_off(&pkts[i]->off, &vh[i]);
		iov[i][0] = (struct iovec){ &vh[i], VNET_HDR_LEN };
		iov[i][1] = (struct iovec){ pkts[i]->data, pkts[i]->len };
		msg[i].msg_hdr = (struct msghdr){ .msg_iov = iov[i], .msg_iovlen = 2 };
	}
	for (;;) {
		int r = sendmmsg(a->fd_out, msg, n, MSG_DONTWAIT);
		if (r > 0) {
			for (int i = 0; i < r; i++)
				port_tx_ok(p, pkts[i]->len);
			return (unsigned)r;
		}
		int err = r < 0 ? errno : EAGAIN;
		if (err == EINTR)
			continue;
		if (err == ENOBUFS && a->out_bypass && pkts[0]->off.gso_type != PKT_GSO_NONE) {
			/* Perhaps TSO was just turned off: look, and if so
			 * send this run again the normal way. */
			afp_update_dev(p);
			if (!a->out_bypass)
				continue;
		}
		if (err == EAGAIN || err == ENOBUFS || err == ENETDOWN || err == ENXIO) {
			for (unsigned i = 0; i < n; i++)
				tx_drop_for(p, err);
			return n;
		}
		/* This one frame is bad for the device (e.g. too big); skip
		 * it, the caller sends the rest. */
		log_warn_rl(&a->rl, "port %s: send: %s", p->name, strerror(err));
		port_tx_drop(p, TX_DROP_ERROR);
		return 1;
	}
}

static void afp_tx_burst(struct port *p, struct pkt **pkts, unsigned n)
{
	struct afp_priv *a = port_priv(p);
	unsigned done = 0;
	while (done < n) {
		if (a->fd < 0) {
			port_tx_drop(p, TX_DROP_LINK_DOWN);
			done++;
			continue;
		}
		/* A run of frames for one way (see the top of the file). */
		bool ring = tx_by_ring(a, pkts[done]);
		unsigned end = done + 1;
		while (end < n && tx_by_ring(a, pkts[end]) == ring)
			end++;
		unsigned r = ring ? afp_tx_ring(p, pkts + done, end - done) : 0;
		if (!r)
			r = afp_tx_msg(p, pkts + done, end - done);
		done += r;
	}
	pkt_free_burst(pkts, n);
}

const struct port_ops port_netdev_ops = {
	.type = "netdev",
	.priv_size = sizeof(struct afp_priv),
	.open = afp_open,
	.close = afp_close,
	.tx_burst = afp_tx_burst,
	.tick = afp_tick,
	.poll = afp_poll,
};

const struct port_ops port_uplink_ops = {
	.type = "uplink",
	.priv_size = sizeof(struct afp_priv),
	.open = afp_open,
	.close = afp_close,
	.tx_burst = afp_tx_burst,
	.tick = afp_tick,
	.poll = afp_poll,
};
