/* Kernel interfaces (veth, physical NICs) through AF_PACKET.
 *
 * One SOCK_RAW socket per interface, bound to it, in promiscuous mode, with
 * PACKET_VNET_HDR so that checksum-offload and TSO frames travel with their
 * metadata instead of being segmented, and PACKET_IGNORE_OUTGOING so that we
 * do not hear our own transmissions.  Receive and transmit are batched:
 * recvmmsg() and sendmmsg(), one system call per burst.
 *
 * The kernel strips VLAN tags into metadata on receive (auxdata); they are put
 * back in the frame so the switch sees the frame as it was on the wire.
 *
 * If the interface disappears the socket reports an error: the port goes down
 * and tick() re-attaches it by name when an interface of that name is back.
 */
#include "port-afpacket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eth.h"
#include "log.h"
#include "loop.h"
#include "rxbuf.h"
#include "vnet.h"

struct afp_priv {
	int fd;
	int ifindex;
	struct loop_watch w;
	struct ratelimit rl;
	bool lost_logged;
};

static void afp_rx(void *arg, uint32_t events);

static int afp_socket(const char *ifname, int *ifindex_out)
{
	int ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	/* Protocol 0: receive nothing until bound to the one interface. */
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1, bufsz = 4 << 20;
	if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
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
		goto err;
	struct packet_mreq mr = { .mr_ifindex = ifindex, .mr_type = PACKET_MR_PROMISC };
	if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
		goto err;
	*ifindex_out = ifindex;
	return fd;
err:;
	int r = -errno;
	close(fd);
	return r;
}

static int afp_attach(struct port *p)
{
	struct afp_priv *a = port_priv(p);
	int ifindex = 0;
	int fd = afp_socket(p->ifname, &ifindex);
	if (fd < 0)
		return fd;
	int r = loop_watch_add(p->loop, &a->w, fd, EPOLLIN, afp_rx, p);
	if (r < 0) {
		close(fd);
		return r;
	}
	a->fd = fd;
	a->ifindex = ifindex;
	a->lost_logged = false;
	port_set_state(p, PORT_UP);
	return 0;
}

static void afp_detach(struct port *p)
{
	struct afp_priv *a = port_priv(p);
	if (loop_watch_active(&a->w)) {
		loop_watch_del(p->loop, &a->w);
		close(a->fd);
	}
	a->fd = -1;
}

static int afp_open(struct port *p, const struct port_args *args)
{
	struct afp_priv *a = port_priv(p);
	a->fd = -1;
	a->rl = (struct ratelimit)RATELIMIT_INIT(10, 5);
	loop_watch_init(&a->w);
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
	if (a->fd >= 0)
		return;
	int r = afp_attach(p);
	if (r == 0)
		log_info("port %s: interface %s is back", p->name, p->ifname);
	else if (!a->lost_logged && r != -ENODEV)
		log_warn("port %s: re-attach %s: %s", p->name, p->ifname, strerror(-r));
	a->lost_logged = true;
}

/* Put a VLAN tag the kernel took out of the frame back in. */
static int reinsert_vlan(struct pkt *k, const struct tpacket_auxdata *aux)
{
	if (pkt_headroom(k) < ETH_VLAN_LEN || k->len < 12)
		return -1;
	uint16_t tpid = (aux->tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux->tp_vlan_tpid
								      : ETH_TYPE_VLAN;
	k->data -= ETH_VLAN_LEN;
	memmove(k->data, k->data + ETH_VLAN_LEN, 12);
	eth_put_be16(k->data + 12, tpid);
	eth_put_be16(k->data + 14, aux->tp_vlan_tci);
	k->len += ETH_VLAN_LEN;
	if (k->off.flags & PKT_OFF_F_NEEDS_CSUM)
		k->off.csum_start += ETH_VLAN_LEN;
	if (k->off.hdr_len)
		k->off.hdr_len += ETH_VLAN_LEN;
	return 0;
}

static void afp_rx(void *arg, uint32_t events)
{
	struct port *p = arg;
	struct afp_priv *a = port_priv(p);
	struct mmsghdr msg[PKT_BURST];
	struct iovec iov[PKT_BURST][3];
	struct virtio_net_hdr vh[PKT_BURST];
	struct pkt *k[PKT_BURST];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} cbuf[PKT_BURST];
	unsigned n;

	if (events & EPOLLERR) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err == ENETDOWN || err == ENXIO || err == ENODEV) {
			afp_lost(p, err);
			return;
		}
	}
	for (n = 0; n < PKT_BURST; n++) {
		iov[n][0] = (struct iovec){ &vh[n], VNET_HDR_LEN };
		k[n] = rxbuf_prepare(n, &iov[n][1]);
		if (!k[n])
			break;
		msg[n].msg_hdr = (struct msghdr){
			.msg_iov = iov[n],
			.msg_iovlen = 3,
			.msg_control = cbuf[n].buf,
			.msg_controllen = sizeof(cbuf[n].buf),
		};
	}
	if (n == 0) {
		port_rx_drop(p, RX_DROP_NOBUF);
		return;
	}
	int r = recvmmsg(a->fd, msg, n, MSG_DONTWAIT, NULL);
	if (r < 0) {
		int err = errno;
		pkt_free_burst(k, n);
		if (err == ENETDOWN || err == ENXIO || err == ENODEV)
			afp_lost(p, err);
		else if (err != EAGAIN && err != EINTR)
			log_warn_rl(&a->rl, "port %s: recvmmsg: %s", p->name, strerror(err));
		return;
	}
	unsigned got = 0;
	for (unsigned i = 0; i < n; i++) {
		if (i >= (unsigned)r) {
			pkt_free(k[i]);
			continue;
		}
		size_t len = msg[i].msg_len;
		if (len < VNET_HDR_LEN || (msg[i].msg_hdr.msg_flags & MSG_TRUNC)) {
			pkt_free(k[i]);
			port_rx_drop(p, len < VNET_HDR_LEN ? RX_DROP_MALFORMED : RX_DROP_OVERSIZE);
			continue;
		}
		vnet_to_off(&vh[i], &k[i]->off);
		struct pkt *pk = rxbuf_finish(k[i], i, len - VNET_HDR_LEN);
		if (!pk) {
			port_rx_drop(p, RX_DROP_NOBUF);
			continue;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg[i].msg_hdr); c;
		     c = CMSG_NXTHDR(&msg[i].msg_hdr, c)) {
			if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
				continue;
			struct tpacket_auxdata aux;
			memcpy(&aux, CMSG_DATA(c), sizeof(aux));
			if ((aux.tp_status & TP_STATUS_VLAN_VALID) && reinsert_vlan(pk, &aux) < 0) {
				pkt_free(pk);
				pk = NULL;
				port_rx_drop(p, RX_DROP_MALFORMED);
			}
			break;
		}
		if (pk)
			k[got++] = pk;
	}
	if (got)
		port_input(p, k, got);
}

static void afp_tx_burst(struct port *p, struct pkt **pkts, unsigned n)
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
	unsigned done = 0;
	while (done < n) {
		if (a->fd < 0) {
			port_tx_drop(p, TX_DROP_LINK_DOWN);
			done++;
			continue;
		}
		int r = sendmmsg(a->fd, msg + done, n - done, MSG_DONTWAIT);
		if (r > 0) {
			for (int i = 0; i < r; i++)
				port_tx_ok(p, pkts[done + (unsigned)i]->len);
			done += (unsigned)r;
			continue;
		}
		int err = r < 0 ? errno : EAGAIN;
		if (err == EINTR)
			continue;
		if (err == EAGAIN || err == ENOBUFS) {
			/* The interface's queue is full: drop the rest. */
			for (; done < n; done++)
				port_tx_drop(p, TX_DROP_QUEUE_FULL);
		} else if (err == ENETDOWN || err == ENXIO) {
			for (; done < n; done++)
				port_tx_drop(p, TX_DROP_LINK_DOWN);
		} else {
			/* This one frame is bad for the device (e.g. too big);
			 * skip it and send the rest. */
			log_warn_rl(&a->rl, "port %s: send: %s", p->name, strerror(err));
			port_tx_drop(p, TX_DROP_ERROR);
			done++;
		}
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
};

const struct port_ops port_uplink_ops = {
	.type = "uplink",
	.priv_size = sizeof(struct afp_priv),
	.open = afp_open,
	.close = afp_close,
	.tx_burst = afp_tx_burst,
	.tick = afp_tick,
};
