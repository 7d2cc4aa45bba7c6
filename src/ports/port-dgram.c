/* QEMU `-netdev dgram` over UNIX datagram sockets: one frame per datagram.
 *
 * The switch binds RUNDIR/SWITCH/PORT.sock; QEMU binds its own local path and
 * sends to ours (`local.path=..., remote.path=PORT.sock`).  The switch sends
 * back to the address the last datagram came from, so the peer is whoever
 * spoke last; until someone speaks the port is down.  A peer that vanished
 * (ECONNREFUSED/ENOENT on send) puts the port down again.
 */
#include "port-dgram.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "port-stream.h"
#include "rxbuf.h"
#include "rxmod.h"

struct dgram_priv {
	int fd;
	struct loop_watch w;
	struct sockaddr_un peer;
	socklen_t peer_len;
	struct ratelimit rl;
	struct rxmod mod; /* receive moderation (rxmod.h) */
};

/* Up to a burst of datagrams; returns how many were taken. */
static unsigned dgram_rx_burst(struct port *p)
{
	struct dgram_priv *d = port_priv(p);
	struct mmsghdr msg[PKT_BURST];
	struct iovec iov[PKT_BURST][2];
	struct sockaddr_un from[PKT_BURST];
	struct pkt *k[PKT_BURST];
	unsigned n;
	for (n = 0; n < PKT_BURST; n++) {
		k[n] = rxbuf_prepare(n, iov[n]);
		if (!k[n])
			break;
		msg[n].msg_hdr = (struct msghdr){
			.msg_name = &from[n],
			.msg_namelen = sizeof(from[n]),
			.msg_iov = iov[n],
			.msg_iovlen = 2,
		};
	}
	if (n == 0) {
		port_rx_drop(p, RX_DROP_NOBUF);
		return 0;
	}
	int r = recvmmsg(d->fd, msg, n, MSG_DONTWAIT, NULL);
	if (r < 0) {
		pkt_free_burst(k, n);
		if (errno != EAGAIN && errno != EINTR)
			log_warn_rl(&d->rl, "port %s: recvmmsg: %s", p->name, strerror(errno));
		return 0;
	}
	unsigned got = 0;
	for (unsigned i = 0; i < n; i++) {
		if (i >= (unsigned)r) {
			pkt_free(k[i]);
			continue;
		}
		if (msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
			pkt_free(k[i]);
			port_rx_drop(p, RX_DROP_OVERSIZE);
			continue;
		}
		socklen_t fl = msg[i].msg_hdr.msg_namelen;
		if (fl > offsetof(struct sockaddr_un, sun_path) &&
		    (fl != d->peer_len || memcmp(&from[i], &d->peer, fl) != 0)) {
			memcpy(&d->peer, &from[i], fl);
			d->peer_len = fl;
			log_info("port %s: peer is %.*s", p->name,
				 (int)(fl - offsetof(struct sockaddr_un, sun_path)), from[i].sun_path);
		}
		struct pkt *pk = rxbuf_finish(k[i], i, msg[i].msg_len);
		if (!pk) {
			port_rx_drop(p, RX_DROP_NOBUF);
			continue;
		}
		k[got++] = pk;
	}
	/* A datagram from an unnamed socket cannot be answered; the port comes
	 * up only with a peer it can send to. */
	if (d->peer_len && p->state != PORT_UP)
		port_set_state(p, PORT_UP);
	if (got)
		port_input(p, k, got);
	return (unsigned)r;
}

static void dgram_rx(void *arg, uint32_t events)
{
	(void)events;
	struct port *p = arg;
	struct dgram_priv *d = port_priv(p);
	rxmod_wakeup(&d->mod);
}

static int dgram_open(struct port *p, const struct port_args *a)
{
	struct dgram_priv *d = port_priv(p);
	loop_watch_init(&d->w);
	rxmod_init(&d->mod, p, &d->w, dgram_rx_burst, a->rx_usecs,
		   a->rx_usecs_max);
	d->rl = (struct ratelimit)RATELIMIT_INIT(10, 5);
	int fd = unix_listen(a->socket_path, SOCK_DGRAM);
	if (fd < 0)
		return fd;
	int bufsz = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof(bufsz));
	int r = loop_watch_add(p->loop, &d->w, fd, EPOLLIN, dgram_rx, p);
	if (r < 0) {
		close(fd);
		unlink(a->socket_path);
		return r;
	}
	d->fd = fd;
	snprintf(p->socket_path, sizeof(p->socket_path), "%s", a->socket_path);
	return 0;
}

static void dgram_close(struct port *p)
{
	struct dgram_priv *d = port_priv(p);
	loop_watch_del(p->loop, &d->w);
	rxmod_stop(&d->mod);
	close(d->fd);
	unlink(p->socket_path);
}

static void dgram_tx_burst(struct port *p, struct pkt **pkts, unsigned n)
{
	struct dgram_priv *d = port_priv(p);
	struct mmsghdr msg[PKT_BURST];
	struct iovec iov[PKT_BURST];
	for (unsigned i = 0; i < n; i++) {
		iov[i] = (struct iovec){ pkts[i]->data, pkts[i]->len };
		msg[i].msg_hdr = (struct msghdr){
			.msg_name = &d->peer,
			.msg_namelen = d->peer_len,
			.msg_iov = &iov[i],
			.msg_iovlen = 1,
		};
	}
	unsigned done = 0;
	while (done < n) {
		if (!d->peer_len) {
			port_tx_drop(p, TX_DROP_LINK_DOWN);
			done++;
			continue;
		}
		int r = sendmmsg(d->fd, msg + done, n - done, MSG_DONTWAIT);
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
			for (; done < n; done++)
				port_tx_drop(p, TX_DROP_QUEUE_FULL);
		} else if (err == ECONNREFUSED || err == ENOENT) {
			log_info("port %s: peer went away", p->name);
			d->peer_len = 0;
			port_set_state(p, PORT_DOWN);
			for (; done < n; done++)
				port_tx_drop(p, TX_DROP_LINK_DOWN);
		} else {
			log_warn_rl(&d->rl, "port %s: send: %s", p->name, strerror(err));
			port_tx_drop(p, TX_DROP_ERROR);
			done++;
		}
	}
	pkt_free_burst(pkts, n);
}

const struct port_ops port_dgram_ops = {
	.type = "dgram",
	.priv_size = sizeof(struct dgram_priv),
	.open = dgram_open,
	.close = dgram_close,
	.tx_burst = dgram_tx_burst,
};
