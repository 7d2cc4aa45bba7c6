/* The host's virtual NIC: a persistent TAP interface named after the switch.
 *
 * Persistent (TUNSETPERSIST), so that the interface, its addresses and its
 * routes outlive the daemon: if vswitchd stops or crashes the host keeps its
 * configuration, and the next start reopens the TAP by name and goes on.
 * With IFF_VNET_HDR the host's stack hands us frames with partial checksums
 * and 64 KiB TSO segments, and takes them from us: fewer, bigger frames.
 */
#include "port-tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "rxbuf.h"
#include "rxmod.h"
#include "vnet.h"

struct tap_priv {
	int fd;
	struct loop_watch w;
	struct ratelimit rl;
	struct rxmod mod; /* receive moderation (rxmod.h) */
};

static void tap_rx(void *arg, uint32_t events);
static unsigned tap_rx_burst(struct port *p);

int tap_open_fd(const char *ifname, bool persist)
{
	struct ifreq ifr;
	if (strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		goto err;
	if (persist && ioctl(fd, TUNSETPERSIST, 1) < 0)
		goto err;
	/* Let the host send us checksum-offloaded and TSO frames; the switch
	 * finishes them for any port that cannot take them. */
	unsigned off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	if (ioctl(fd, TUNSETOFFLOAD, off) < 0)
		goto err;
	return fd;
err:;
	int r = -errno;
	close(fd);
	return r;
}

int tap_destroy(const char *ifname)
{
	int fd = tap_open_fd(ifname, false);
	if (fd < 0)
		return fd;
	int r = ioctl(fd, TUNSETPERSIST, 0) < 0 ? -errno : 0;
	close(fd); /* the last fd of a non-persistent TAP removes it */
	return r;
}

static int tap_open(struct port *p, const struct port_args *a)
{
	struct tap_priv *t = port_priv(p);
	t->rl = (struct ratelimit)RATELIMIT_INIT(10, 5);
	loop_watch_init(&t->w);
	rxmod_init(&t->mod, p, &t->w, tap_rx_burst, a->rx_usecs,
		   a->rx_usecs_max);
	int fd = tap_open_fd(a->ifname, true);
	if (fd < 0)
		return fd;
	int r = loop_watch_add(p->loop, &t->w, fd, EPOLLIN, tap_rx, p);
	if (r < 0) {
		close(fd);
		return r;
	}
	t->fd = fd;
	snprintf(p->ifname, sizeof(p->ifname), "%s", a->ifname);
	p->tx_offloads = PORT_OFF_CSUM | PORT_OFF_TSO4 | PORT_OFF_TSO6 | PORT_OFF_TSO_ECN;
	port_set_state(p, PORT_UP);
	return 0;
}

static void tap_close(struct port *p)
{
	struct tap_priv *t = port_priv(p);
	if (loop_watch_active(&t->w)) {
		loop_watch_del(p->loop, &t->w);
		rxmod_stop(&t->mod);
		close(t->fd);
	}
	/* The interface stays (persistent): only `switch delete` removes it. */
}

/* The interface went away under us (deleted from outside). */
static void tap_lost(struct port *p, int err)
{
	struct tap_priv *t = port_priv(p);
	log_error("port %s: host vNIC %s is gone (%s); traffic to the host stops until "
		  "`vswitchctl switch repair`", p->name, p->ifname, strerror(err));
	loop_watch_del(p->loop, &t->w);
	rxmod_stop(&t->mod);
	close(t->fd);
	t->fd = -1;
	port_set_state(p, PORT_DOWN);
}

/* Up to a burst of frames; returns how many were taken from the TAP. */
static unsigned tap_rx_burst(struct port *p)
{
	struct tap_priv *t = port_priv(p);
	struct pkt *burst[PKT_BURST];
	unsigned n = 0, taken = 0;
	while (taken < PKT_BURST) {
		struct virtio_net_hdr vh;
		struct iovec iov[3] = { { &vh, VNET_HDR_LEN } };
		struct pkt *k = rxbuf_prepare(n, &iov[1]);
		if (!k) {
			/* Leave the frame in the kernel; count it when we drop. */
			port_rx_drop(p, RX_DROP_NOBUF);
			break;
		}
		ssize_t r = readv(t->fd, iov, 3);
		if (r < 0) {
			int err = errno;
			pkt_free(k);
			if (err == EAGAIN || err == EINTR)
				break;
			if (err == EBADFD || err == EIO || err == ENODEV) {
				if (n)
					port_input(p, burst, n);
				tap_lost(p, err);
				return taken;
			}
			log_warn_rl(&t->rl, "port %s: read: %s", p->name, strerror(err));
			break;
		}
		taken++;
		if ((size_t)r < VNET_HDR_LEN) {
			pkt_free(k);
			port_rx_drop(p, RX_DROP_MALFORMED);
			continue;
		}
		vnet_to_off(&vh, &k->off);
		k = rxbuf_finish(k, n, (size_t)r - VNET_HDR_LEN);
		if (!k) {
			port_rx_drop(p, RX_DROP_NOBUF);
			continue;
		}
		burst[n++] = k;
	}
	if (n)
		port_input(p, burst, n);
	return taken;
}

static void tap_rx(void *arg, uint32_t events)
{
	(void)events;
	struct port *p = arg;
	struct tap_priv *t = port_priv(p);
	rxmod_wakeup(&t->mod);
}

static void tap_tx_burst(struct port *p, struct pkt **pkts, unsigned n)
{
	struct tap_priv *t = port_priv(p);
	for (unsigned i = 0; i < n; i++) {
		struct pkt *k = pkts[i];
		struct virtio_net_hdr vh;
		vnet_from_off(&k->off, &vh);
		struct iovec iov[2] = { { &vh, VNET_HDR_LEN }, { k->data, k->len } };
		if (t->fd < 0) {
			port_tx_drop(p, TX_DROP_LINK_DOWN);
		} else if (writev(t->fd, iov, 2) >= 0) {
			port_tx_ok(p, k->len);
		} else if (errno == EAGAIN || errno == ENOBUFS) {
			port_tx_drop(p, TX_DROP_QUEUE_FULL);
		} else if (errno == EIO) {
			/* The host has the interface down. */
			port_tx_drop(p, TX_DROP_LINK_DOWN);
		} else {
			port_tx_drop(p, TX_DROP_ERROR);
			log_warn_rl(&t->rl, "port %s: write: %s", p->name, strerror(errno));
		}
		pkt_free(k);
	}
}

const struct port_ops port_tap_ops = {
	.type = "host",
	.priv_size = sizeof(struct tap_priv),
	.open = tap_open,
	.close = tap_close,
	.tx_burst = tap_tx_burst,
};
