/* vhost-user port: sockets, watches and state around src/ports/vhost/.
 *
 * Control: the socket is read without blocking, one message at a time into a
 * buffer (header, then the payload it announces; fds come with the header),
 * and each complete message goes to vhost_dev_handle().  A frontend that
 * breaks the protocol or a guest that breaks its rings loses the connection
 * (stats.resets, a rate-limited log line); nothing else is affected.
 *
 * Data, guest to switch: the TX ring's kick eventfd is watched.  On a kick we
 * turn kicks off, take bursts until the ring is empty or the budget is spent,
 * then turn kicks on and look once more (a frame added while kicks were off
 * came without one).  Out of budget with frames left, we kick ourselves so
 * that epoll, level-triggered, brings us back after the other ports had
 * their turn.  In busy-poll mode (.poll called every loop pass) kicks stay
 * off; once poll stops being called, tick() turns them back on.
 *
 * Data, switch to guest: tx_burst copies into the RX ring and signals the
 * call eventfd once per burst, only if the guest asked for it.  A guest
 * without buffers loses frames; we never wait for it.
 */
#include "port-vhost-user.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "loop.h"
#include "port-stream.h"
#include "vhost/vhost-dev.h"

#define VU_TX_BUDGET 8	  /* bursts per kick before we let others run */
#define VU_MSGS_PER_CALL 64 /* control messages handled per wakeup */

enum vu_mode { VU_SERVER, VU_CLIENT, VU_ACCEPTED };

struct vu_priv {
	enum vu_mode mode;
	int listen_fd;
	struct loop_watch lw;
	int conn_fd;
	struct loop_watch cw;
	/* The message being received. */
	struct vhost_user_msg msg;
	uint32_t have;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nfds;
	struct vhost_dev dev;
	/* Our own reference to the TX ring's kick eventfd: the device may
	 * close its fd at any message, the watch must outlive that. */
	int kick_fd;
	unsigned kick_gen;
	struct loop_watch kw;
	bool running;
	bool polling, polled;
	int last_connect_err;
	struct ratelimit rl;	  /* warnings a peer can trigger */
	struct ratelimit info_rl; /* connects, starts, stops: a peer can loop them */
};

static void vu_conn_cb(void *arg, uint32_t events);

static enum port_state vu_idle_state(const struct vu_priv *v)
{
	return v->mode == VU_CLIENT ? PORT_CONNECTING : PORT_DOWN;
}

static void kick_watch_del(struct port *p)
{
	struct vu_priv *v = port_priv(p);
	if (loop_watch_active(&v->kw))
		loop_watch_del(p->loop, &v->kw);
	if (v->kick_fd >= 0)
		close(v->kick_fd);
	v->kick_fd = -1;
}

static void signal_call(const struct virtq *vq)
{
	if (vq->call_fd >= 0)
		eventfd_write(vq->call_fd, 1);
}

/* Everything the frontend gave us goes. */
static void conn_release(struct port *p)
{
	struct vu_priv *v = port_priv(p);
	kick_watch_del(p);
	if (loop_watch_active(&v->cw))
		loop_watch_del(p->loop, &v->cw);
	if (v->conn_fd >= 0)
		close(v->conn_fd);
	v->conn_fd = -1;
	for (unsigned i = 0; i < v->nfds; i++)
		close(v->fds[i]);
	v->nfds = 0;
	v->have = 0;
	vhost_dev_reset(&v->dev);
	v->running = false;
	p->tx_offloads = 0;
}

/* Drop the frontend; a server waits for the next, a client reconnects. */
static void conn_drop(struct port *p)
{
	struct vu_priv *v = port_priv(p);
	conn_release(p);
	port_set_state(p, vu_idle_state(v));
}

/* The frontend or its guest broke the protocol. */
static void vu_reset(struct port *p, const char *what, const char *why)
{
	struct vu_priv *v = port_priv(p);
	log_warn_rl(&v->rl, "port %s: %s: %s; dropping the vhost-user connection", p->name, what,
		    why ? why : "error");
	p->stats.resets++;
	port_rx_drop(p, RX_DROP_MALFORMED);
	conn_drop(p);
}

/* Take frames from the guest's TX ring; see the top of this file. */
static void tx_run(struct port *p, unsigned budget)
{
	struct vu_priv *v = port_priv(p);
	struct virtq *vq = &v->dev.vq[VHOST_NET_TXQ];
	struct pkt *pkts[PKT_BURST];
	const char *why = NULL;

	/* Started but not enabled, the spec says to take and discard: we
	 * leave the frames for when the device runs (a restarted switch
	 * loses nothing the guest queued meanwhile). */
	if (!vq->mapped || !vq->started || !v->running)
		return;
	if (vq->kicks_on)
		virtq_kicks_off(vq);
	/* Frames go to the switch by reference into guest memory where they
	 * can (virtq.h): one copy, into the receiving port. */
	vq->zero_copy = true;
	for (unsigned b = 0; b < budget; b++) {
		uint16_t old_used = vq->last_used_idx;
		int n = virtq_tx_dequeue(vq, &v->dev.mem, pkts, PKT_BURST, &p->stats, &why);
		if (n >= 0 && v->dev.mem.poisoned) {
			pkt_free_burst(pkts, (unsigned)n);
			n = -EFAULT;
			why = "the frontend shrank its memory under us";
		}
		if (n < 0) {
			vu_reset(p, "guest TX ring", why);
			return;
		}
		if (n) {
			port_input(p, pkts, (unsigned)n);
			/* port_input may have reset this port (never in
			 * practice: frames do not go back out of their
			 * ingress port), so look again. */
			if (!vq->mapped)
				return;
			if (unlikely(vq->zc_out)) {
				/* A packet outlived its pass: a bug.  The ring
				 * waits for it rather than let the guest reuse
				 * a buffer that is still read. */
				log_error_rl(&v->rl, "port %s: %u guest frames still held after a pass",
					     p->name, vq->zc_out);
			}
			/* The switch read the guest's frames in place: if
			 * the frontend shrank its memory meanwhile, it goes. */
			if (v->dev.mem.poisoned) {
				vu_reset(p, "guest TX ring", "the frontend shrank its memory under us");
				return;
			}
		}
		/* Completed chains are published by now (zero-copy ones when
		 * the switch let go of them): interrupt the guest if it asked. */
		if (vq->call_fd >= 0 && virtq_need_call(vq, old_used))
			signal_call(vq);
		/* Kicks off with an event index means "just behind us": keep
		 * it so, or the guest kicks each time it wraps past it. */
		if (vq->event_idx && !vq->kicks_on)
			virtq_kicks_off(vq);
		if (n == PKT_BURST || virtq_pending(vq))
			continue;
		if (v->polling)
			return;
		virtq_kicks_on(vq);
		if (!virtq_pending(vq))
			return; /* asleep until the next kick */
		virtq_kicks_off(vq);
	}
	if (!v->polling && v->kick_fd >= 0)
		eventfd_write(v->kick_fd, 1); /* more to do: come back after the others */
}

static void vu_kick_cb(void *arg, uint32_t events)
{
	struct port *p = arg;
	struct vu_priv *v = port_priv(p);
	eventfd_t cnt;
	(void)events;
	if (eventfd_read(v->kick_fd, &cnt) < 0 && errno != EAGAIN)
		return;
	tx_run(p, VU_TX_BUDGET);
}

/* After each message: follow the device with our watches and state. */
static void vu_sync(struct port *p)
{
	struct vu_priv *v = port_priv(p);
	struct virtq *txq = &v->dev.vq[VHOST_NET_TXQ];
	struct virtq *rxq = &v->dev.vq[VHOST_NET_RXQ];

	bool want_kick = txq->started && txq->kick_fd >= 0;
	if (v->kick_fd >= 0 && (!want_kick || v->kick_gen != txq->kick_gen))
		kick_watch_del(p);
	if (want_kick && v->kick_fd < 0) {
		int fd = fcntl(txq->kick_fd, F_DUPFD_CLOEXEC, 0);
		if (fd >= 0 && loop_watch_add(p->loop, &v->kw, fd, EPOLLIN, vu_kick_cb, p) < 0) {
			close(fd);
			fd = -1;
		}
		if (fd < 0)
			log_warn_rl(&v->rl, "port %s: cannot watch the TX kick fd", p->name);
		v->kick_fd = fd;
		v->kick_gen = txq->kick_gen;
	}

	bool run = vhost_dev_running(&v->dev);
	if (run && !v->running) {
		v->running = true;
		p->tx_offloads = vhost_dev_tx_offloads(&v->dev);
		/* We never wait for RX buffers: no kicks for them. */
		virtq_kicks_off(rxq);
		if (ratelimit_ok(&v->info_rl))
			log_info("port %s: guest virtio-net running (features 0x%llx, ring sizes "
				 "%u/%u)",
				 p->name, (unsigned long long)v->dev.features, rxq->num, txq->num);
		port_set_state(p, PORT_UP);
	} else if (!run && v->running) {
		v->running = false;
		p->tx_offloads = 0;
		if (ratelimit_ok(&v->info_rl))
			log_info("port %s: guest virtio-net stopped", p->name);
		port_set_state(p, vu_idle_state(v));
	}
	/* Whatever the guest queued before we ran: take it now (this also
	 * turns kicks on when the ring is empty). */
	tx_run(p, VU_TX_BUDGET);
}

static void msg_dispatch(struct port *p)
{
	struct vu_priv *v = port_priv(p);
	struct vhost_user_msg reply;
	size_t reply_len;
	uint32_t req = v->msg.hdr.request;

	unsigned nfds = v->nfds;
	v->nfds = 0; /* the device owns them now */
	int r = vhost_dev_handle(&v->dev, &v->msg, v->have, v->fds, nfds, &reply, &reply_len);
	v->have = 0;
	log_debug("port %s: vhost-user %s -> %d%s%s", p->name, vhost_user_request_name(req), r,
		  v->dev.why ? ": " : "", v->dev.why ? v->dev.why : "");
	if (r < 0) {
		char what[64];
		snprintf(what, sizeof(what), "bad %s message", vhost_user_request_name(req));
		vu_reset(p, what, v->dev.why);
		return;
	}
	if (v->dev.why)
		log_warn_rl(&v->rl, "port %s: %s: %s", p->name, vhost_user_request_name(req),
			    v->dev.why);
	if (reply_len) {
		ssize_t w = send(v->conn_fd, &reply, reply_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w != (ssize_t)reply_len) {
			log_info("port %s: vhost-user frontend does not take replies; dropping it",
				 p->name);
			conn_drop(p);
			return;
		}
	}
	vu_sync(p);
}

/* Read what the socket has of the current message.  1: a whole message is
 * there; 0: wait for more; -1: the connection is gone. */
static int msg_read(struct port *p)
{
	struct vu_priv *v = port_priv(p);
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} ctl;

	for (;;) {
		uint32_t need = VHOST_USER_HDR_SIZE;
		if (v->have >= VHOST_USER_HDR_SIZE) {
			if (v->msg.hdr.size > VHOST_USER_MAX_PAYLOAD) {
				vu_reset(p, "vhost-user message", "payload too large");
				return -1;
			}
			need += v->msg.hdr.size;
		}
		if (v->have == need)
			return 1;
		struct iovec iov = { (uint8_t *)&v->msg + v->have, need - v->have };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = ctl.buf,
			.msg_controllen = sizeof(ctl.buf),
		};
		ssize_t n = recvmsg(v->conn_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) {
			if (ratelimit_ok(&v->info_rl))
				log_info("port %s: vhost-user frontend disconnected%s%s", p->name,
					 n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			conn_drop(p);
			return -1;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			int *in = (int *)(void *)CMSG_DATA(c);
			for (unsigned i = 0; i < k; i++) {
				if (v->nfds < VHOST_USER_MAX_FDS)
					v->fds[v->nfds++] = in[i];
				else {
					close(in[i]);
					mh.msg_flags |= MSG_CTRUNC;
				}
			}
		}
		if (mh.msg_flags & MSG_CTRUNC) {
			vu_reset(p, "vhost-user message", "too many file descriptors");
			return -1;
		}
		v->have += (uint32_t)n;
	}
}

static void conn_readable(struct port *p)
{
	struct vu_priv *v = port_priv(p);
	for (unsigned i = 0; i < VU_MSGS_PER_CALL && v->conn_fd >= 0; i++) {
		if (msg_read(p) <= 0)
			return;
		msg_dispatch(p);
	}
}

static void vu_conn_cb(void *arg, uint32_t events)
{
	(void)events;
	conn_readable(arg);
}

static int conn_start(struct port *p, int fd)
{
	struct vu_priv *v = port_priv(p);
	int r = loop_watch_add(p->loop, &v->cw, fd, EPOLLIN, vu_conn_cb, p);
	if (r < 0)
		return r;
	v->conn_fd = fd;
	v->have = 0;
	v->nfds = 0;
	vhost_dev_init(&v->dev);
	return 0;
}

static void vu_accept_cb(void *arg, uint32_t events)
{
	struct port *p = arg;
	struct vu_priv *v = port_priv(p);
	(void)events;
	int fd = accept_or_shed(v->listen_fd);
	if (fd < 0)
		return;
	if (v->conn_fd >= 0) {
		log_warn_rl(&v->rl, "port %s: refusing a second vhost-user frontend (one is connected)",
			    p->name);
		close(fd);
		return;
	}
	if (conn_start(p, fd) < 0) {
		close(fd);
		return;
	}
	if (ratelimit_ok(&v->info_rl))
		log_info("port %s: vhost-user frontend connected", p->name);
}

static void try_connect(struct port *p)
{
	struct vu_priv *v = port_priv(p);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	memcpy(sun.sun_path, p->connect_path, strlen(p->connect_path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	/* A unix socket connects at once or fails at once (EAGAIN when the
	 * listener's backlog is full): no EINPROGRESS to wait for. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = errno;
		close(fd);
		if (err != v->last_connect_err)
			log_info("port %s: connect %s: %s; retrying every second", p->name,
				 p->connect_path, strerror(err));
		v->last_connect_err = err;
		return;
	}
	v->last_connect_err = 0;
	if (conn_start(p, fd) < 0) {
		close(fd);
		return;
	}
	log_info("port %s: connected to vhost-user frontend %s", p->name, p->connect_path);
}

static int vu_open(struct port *p, const struct port_args *a)
{
	struct vu_priv *v = port_priv(p);
	int r;

	v->listen_fd = v->conn_fd = v->kick_fd = -1;
	loop_watch_init(&v->lw);
	loop_watch_init(&v->cw);
	loop_watch_init(&v->kw);
	v->rl = (struct ratelimit)RATELIMIT_INIT(10, 5);
	v->info_rl = (struct ratelimit)RATELIMIT_INIT(10, 10);
	vhost_dev_init(&v->dev);
	if (a->fd >= 0) {
		v->mode = VU_ACCEPTED;
		return conn_start(p, a->fd);
	}
	if (a->connect_path) {
		if (strlen(a->connect_path) >= sizeof(p->connect_path) ||
		    strlen(a->connect_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return -ENAMETOOLONG;
		v->mode = VU_CLIENT;
		snprintf(p->connect_path, sizeof(p->connect_path), "%s", a->connect_path);
		port_set_state(p, PORT_CONNECTING);
		try_connect(p);
		return 0;
	}
	if (!a->socket_path)
		return -EINVAL;
	if (strlen(a->socket_path) >= sizeof(p->socket_path))
		return -ENAMETOOLONG;
	v->mode = VU_SERVER;
	r = unix_listen(a->socket_path, SOCK_STREAM);
	if (r < 0)
		return r;
	v->listen_fd = r;
	r = loop_watch_add(p->loop, &v->lw, v->listen_fd, EPOLLIN, vu_accept_cb, p);
	if (r < 0)
		goto err_listen;
	snprintf(p->socket_path, sizeof(p->socket_path), "%s", a->socket_path);
	port_set_state(p, PORT_DOWN);
	return 0;
err_listen:
	close(v->listen_fd);
	unlink(a->socket_path);
	return r;
}

static void vu_close(struct port *p)
{
	struct vu_priv *v = port_priv(p);
	conn_release(p);
	if (v->listen_fd >= 0) {
		loop_watch_del(p->loop, &v->lw);
		close(v->listen_fd);
		v->listen_fd = -1;
		unlink(p->socket_path);
	}
}

static void vu_tx_burst(struct port *p, struct pkt **pkts, unsigned n)
{
	struct vu_priv *v = port_priv(p);
	struct virtq *vq = &v->dev.vq[VHOST_NET_RXQ];
	const char *why = NULL;

	if (!v->running) {
		for (unsigned i = 0; i < n; i++)
			port_tx_drop(p, TX_DROP_LINK_DOWN);
		pkt_free_burst(pkts, n);
		return;
	}
	uint16_t old_used = vq->last_used_idx;
	int r = virtq_rx_enqueue(vq, &v->dev.mem, pkts, n, &p->stats, &why);
	pkt_free_burst(pkts, n);
	if (r == 0 && v->dev.mem.poisoned) {
		r = -EFAULT;
		why = "the frontend shrank its memory under us";
	}
	if (r < 0) {
		vu_reset(p, "guest RX ring", why);
		return;
	}
	if (vq->call_fd >= 0 && virtq_need_call(vq, old_used))
		signal_call(vq);
}

static void vu_tick(struct port *p)
{
	struct vu_priv *v = port_priv(p);
	if (v->mode == VU_CLIENT && v->conn_fd < 0)
		try_connect(p);
	/* Busy polling ended: go back to sleeping on kicks. */
	if (v->polling && !v->polled) {
		v->polling = false;
		tx_run(p, VU_TX_BUDGET);
	}
	v->polled = false;
}

static bool vu_poll(struct port *p)
{
	struct vu_priv *v = port_priv(p);
	struct virtq *vq = &v->dev.vq[VHOST_NET_TXQ];
	v->polling = v->polled = true;
	/* Idle cost: one read of the guest's avail index. */
	if (!v->running)
		return false;
	bool pending = virtq_pending(vq);
	if (pending || vq->kicks_on)
		tx_run(p, VU_TX_BUDGET);
	return pending;
}

void vhost_user_test_conn_readable(struct port *p)
{
	conn_readable(p);
}

void vhost_user_test_kick(struct port *p)
{
	struct vu_priv *v = port_priv(p);
	if (v->kick_fd >= 0)
		vu_kick_cb(p, EPOLLIN);
}

bool vhost_user_test_kicks_on(struct port *p)
{
	struct vu_priv *v = port_priv(p);
	return v->dev.vq[VHOST_NET_TXQ].kicks_on;
}

const struct port_ops port_vhost_user_ops = {
	.type = "vhost-user",
	.priv_size = sizeof(struct vu_priv),
	.open = vu_open,
	.close = vu_close,
	.tx_burst = vu_tx_burst,
	.tick = vu_tick,
	.poll = vu_poll,
};
