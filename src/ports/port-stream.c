/* QEMU stream sockets: `-netdev stream` / `-netdev socket` framing.
 *
 * Three ways to get a peer, one data path:
 * - listen (a named port): the daemon listens on RUNDIR/SWITCH/PORT.sock and
 *   QEMU connects (`-netdev stream,server=off`); one peer at a time;
 * - connect (`--connect PATH`): QEMU listens (`server=on`) and the switch
 *   connects, and connects again whenever the connection drops (QEMU 7.2's
 *   stream client cannot reconnect; this way a VM survives a switch restart);
 * - an accepted connection handed over by the switch's plug.sock (anonymous
 *   plug-N port, removed when the peer leaves).
 *
 * Receive reads big chunks and cuts many frames out of each read.  Transmit
 * appends frames to a bounded per-peer buffer and writes it in one call per
 * burst; a peer that does not read loses frames (tx queue_full), it never
 * holds up the switch.  A zero or impossible length, or a partial frame at
 * disconnect, is a protocol error: this peer is dropped, nothing else.
 */
#include "port-stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "eth.h"
#include "log.h"
#include "util.h"
#include "loop.h"
#include "rxmod.h"

/* Per peer: one read takes up to RXBUF (many frames; at least one of the
 * largest, 65,539 bytes with its length); TXBUF bounds what a slow peer may
 * have queued before its frames are dropped. */
#define STREAM_RXBUF (128 * 1024)
#define STREAM_TXBUF (256 * 1024)

enum stream_mode { STREAM_LISTEN, STREAM_CONNECT, STREAM_ACCEPTED };

struct stream_priv {
	enum stream_mode mode;
	int listen_fd;
	struct loop_watch lw;
	int fd;
	struct loop_watch w;
	uint8_t *rx;
	uint32_t rx_len;
	uint8_t *tx;
	uint32_t tx_head, tx_tail;
	struct ratelimit rl;
	int last_connect_err;
	struct rxmod mod; /* receive moderation (rxmod.h) */
};

static void stream_io(void *arg, uint32_t events);
static unsigned stream_rx(struct port *p);

int stream_parse(const uint8_t *buf, size_t len,
		 void (*frame)(void *arg, const uint8_t *data, uint32_t flen), void *arg)
{
	size_t pos = 0;
	while (len - pos >= STREAM_HDR_LEN) {
		const uint8_t *h = buf + pos;
		uint32_t flen = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
		if (flen == 0 || flen > PKT_MAX_FRAME)
			return -EPROTO;
		if (len - pos - STREAM_HDR_LEN < flen)
			break;
		frame(arg, h + STREAM_HDR_LEN, flen);
		pos += STREAM_HDR_LEN + flen;
	}
	return (int)pos;
}

int unix_listen(const char *path, int type)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path));
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		unlink(path); /* stale, from a previous run */
	}
	int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		goto err;
	if (chmod(path, 0660) < 0)
		goto err_unlink;
	if (type == SOCK_STREAM && listen(fd, 16) < 0)
		goto err_unlink;
	return fd;
err_unlink:;
	int r = -errno;
	unlink(path);
	close(fd);
	return r;
err:
	r = -errno;
	close(fd);
	return r;
}

static void peer_gone(struct port *p, const char *why)
{
	struct stream_priv *s = port_priv(p);
	if (s->rx_len) {
		/* A frame cut short by the disconnect is lost: say so. */
		port_rx_drop(p, RX_DROP_MALFORMED);
	}
	if (why)
		log_info("port %s: peer disconnected (%s)", p->name, why);
	loop_watch_del(p->loop, &s->w);
	rxmod_stop(&s->mod);
	close(s->fd);
	s->fd = -1;
	s->rx_len = 0;
	s->tx_head = s->tx_tail = 0;
	port_set_state(p, s->mode == STREAM_CONNECT ? PORT_CONNECTING : PORT_DOWN);
}

static int peer_start(struct port *p, int fd)
{
	struct stream_priv *s = port_priv(p);
	int r = loop_watch_add(p->loop, &s->w, fd, EPOLLIN, stream_io, p);
	if (r < 0)
		return r;
	s->fd = fd;
	s->rx_len = 0;
	s->tx_head = s->tx_tail = 0;
	port_set_state(p, PORT_UP);
	return 0;
}

static void stream_accept(void *arg, uint32_t events)
{
	struct port *p = arg;
	struct stream_priv *s = port_priv(p);
	int fd = accept_or_shed(s->listen_fd);
	if (fd < 0)
		return;
	if (s->fd >= 0) {
		log_warn_rl(&s->rl, "port %s: refusing a second peer (one is connected)", p->name);
		close(fd);
		return;
	}
	if (peer_start(p, fd) < 0) {
		close(fd);
		return;
	}
	log_info("port %s: peer connected", p->name);
}

static void try_connect(struct port *p)
{
	struct stream_priv *s = port_priv(p);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	memcpy(sun.sun_path, p->connect_path, strlen(p->connect_path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = errno;
		close(fd);
		if (err != s->last_connect_err)
			log_info("port %s: connect %s: %s; retrying every second", p->name,
				 p->connect_path, strerror(err));
		s->last_connect_err = err;
		return;
	}
	s->last_connect_err = 0;
	if (peer_start(p, fd) < 0) {
		close(fd);
		return;
	}
	log_info("port %s: connected to %s", p->name, p->connect_path);
}

static int stream_open(struct port *p, const struct port_args *a)
{
	struct stream_priv *s = port_priv(p);
	s->fd = s->listen_fd = -1;
	loop_watch_init(&s->w);
	loop_watch_init(&s->lw);
	rxmod_init(&s->mod, p, &s->w, stream_rx, a->rx_usecs,
		   a->rx_usecs_max);
	s->rl = (struct ratelimit)RATELIMIT_INIT(10, 5);
	/* The transmit buffer comes with the first frame to send: many
	 * ports only ever listen. */
	s->rx = malloc(STREAM_RXBUF);
	if (!s->rx)
		return -ENOMEM;
	int r;
	if (a->fd >= 0) {
		s->mode = STREAM_ACCEPTED;
		r = peer_start(p, a->fd);
		if (r < 0)
			goto err_free;
		return 0;
	}
	if (a->connect_path) {
		if (strlen(a->connect_path) >= sizeof(p->connect_path)) {
			r = -ENAMETOOLONG;
			goto err_free;
		}
		s->mode = STREAM_CONNECT;
		snprintf(p->connect_path, sizeof(p->connect_path), "%s", a->connect_path);
		port_set_state(p, PORT_CONNECTING);
		try_connect(p);
		return 0;
	}
	s->mode = STREAM_LISTEN;
	r = unix_listen(a->socket_path, SOCK_STREAM);
	if (r < 0)
		goto err_free;
	s->listen_fd = r;
	r = loop_watch_add(p->loop, &s->lw, s->listen_fd, EPOLLIN, stream_accept, p);
	if (r < 0)
		goto err_listen;
	snprintf(p->socket_path, sizeof(p->socket_path), "%s", a->socket_path);
	return 0;
err_listen:
	close(s->listen_fd);
	unlink(a->socket_path);
err_free:
	free(s->rx);
	free(s->tx);
	return r;
}

static void stream_close(struct port *p)
{
	struct stream_priv *s = port_priv(p);
	if (s->fd >= 0) {
		loop_watch_del(p->loop, &s->w);
		rxmod_stop(&s->mod);
		close(s->fd);
	}
	if (s->listen_fd >= 0) {
		loop_watch_del(p->loop, &s->lw);
		close(s->listen_fd);
		unlink(p->socket_path);
	}
	free(s->rx);
	free(s->tx);
}

static void stream_tick(struct port *p)
{
	struct stream_priv *s = port_priv(p);
	if (s->mode == STREAM_CONNECT && s->fd < 0)
		try_connect(p);
}

struct rx_ctx {
	struct port *p;
	unsigned n;	/* frames in burst[] */
	unsigned total; /* frames parsed */
	struct pkt *burst[PKT_BURST];
};

static void on_frame(void *arg, const uint8_t *data, uint32_t flen)
{
	struct rx_ctx *c = arg;
	c->total++;
	struct pkt *k = pkt_alloc(flen);
	if (!k) {
		port_rx_drop(c->p, RX_DROP_NOBUF);
		return;
	}
	memcpy(k->data, data, flen);
	k->len = flen;
	c->burst[c->n++] = k;
	if (c->n == PKT_BURST) {
		port_input(c->p, c->burst, c->n);
		c->n = 0;
	}
}

/* One read, parsed; returns the number of frames it completed. */
static unsigned stream_rx(struct port *p)
{
	struct stream_priv *s = port_priv(p);
	ssize_t r = read(s->fd, s->rx + s->rx_len, STREAM_RXBUF - s->rx_len);
	if (r == 0) {
		peer_gone(p, "end of stream");
		return 0;
	}
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			peer_gone(p, strerror(errno));
		return 0;
	}
	s->rx_len += (uint32_t)r;
	struct rx_ctx c = { .p = p };
	int used = stream_parse(s->rx, s->rx_len, on_frame, &c);
	if (c.n)
		port_input(p, c.burst, c.n);
	if (used < 0) {
		log_warn_rl(&s->rl, "port %s: bad frame length from peer: dropping the connection",
			    p->name);
		p->stats.resets++;
		port_rx_drop(p, RX_DROP_MALFORMED);
		s->rx_len = 0;
		peer_gone(p, NULL);
		return c.total;
	}
	s->rx_len -= (uint32_t)used;
	if (s->rx_len && used)
		memmove(s->rx, s->rx + used, s->rx_len);
	return c.total;
}

/* Write what is buffered; watch for EPOLLOUT while something is left. */
static void stream_flush(struct port *p)
{
	struct stream_priv *s = port_priv(p);
	while (s->tx_head < s->tx_tail) {
		ssize_t r = write(s->fd, s->tx + s->tx_head, s->tx_tail - s->tx_head);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				peer_gone(p, strerror(errno));
				return;
			}
			break;
		}
		s->tx_head += (uint32_t)r;
	}
	if (s->tx_head == s->tx_tail)
		s->tx_head = s->tx_tail = 0;
	loop_watch_mod(p->loop, &s->w,
		       rxmod_events(&s->mod) | (s->tx_head < s->tx_tail ? EPOLLOUT : 0));
}

static void stream_io(void *arg, uint32_t events)
{
	struct port *p = arg;
	struct stream_priv *s = port_priv(p);
	if (events & EPOLLOUT)
		stream_flush(p);
	if (s->fd < 0)
		return;
	if (events & (EPOLLHUP | EPOLLERR))
		stream_rx(p); /* finds the end or the error, even while moderated */
	else if (events & EPOLLIN)
		rxmod_wakeup(&s->mod);
}

static void stream_tx_burst(struct port *p, struct pkt **pkts, unsigned n)
{
	struct stream_priv *s = port_priv(p);
	for (unsigned i = 0; i < n; i++) {
		struct pkt *k = pkts[i];
		uint32_t need = STREAM_HDR_LEN + k->len;
		if (!s->tx && s->fd >= 0 && !(s->tx = malloc(STREAM_TXBUF))) {
			port_tx_drop(p, TX_DROP_ERROR);
		} else if (s->fd < 0) {
			port_tx_drop(p, TX_DROP_LINK_DOWN);
		} else {
			if (STREAM_TXBUF - s->tx_tail < need && s->tx_head) {
				memmove(s->tx, s->tx + s->tx_head, s->tx_tail - s->tx_head);
				s->tx_tail -= s->tx_head;
				s->tx_head = 0;
			}
			if (STREAM_TXBUF - s->tx_tail < need) {
				port_tx_drop(p, TX_DROP_QUEUE_FULL);
			} else {
				uint8_t *h = s->tx + s->tx_tail;
				h[0] = (uint8_t)(k->len >> 24);
				h[1] = (uint8_t)(k->len >> 16);
				h[2] = (uint8_t)(k->len >> 8);
				h[3] = (uint8_t)k->len;
				memcpy(h + STREAM_HDR_LEN, k->data, k->len);
				s->tx_tail += need;
				port_tx_ok(p, k->len);
			}
		}
		pkt_free(k);
	}
	if (s->fd >= 0 && s->tx_tail > s->tx_head && !(s->w.events & EPOLLOUT))
		stream_flush(p);
}

const struct port_ops port_stream_ops = {
	.type = "stream",
	.priv_size = sizeof(struct stream_priv),
	.open = stream_open,
	.close = stream_close,
	.tx_burst = stream_tx_burst,
	.tick = stream_tick,
};
