/* vhost-peer: a vhost-user frontend of our own (the VM side) that sends and
 * receives frames through a vhost-user backend, as fast as it can or at a
 * rate, and checks what it receives.  The load generator for benchmarks and
 * the peer for integration tests.
 *
 *   vhost-peer [options] --port SPEC [--port SPEC ...]
 *     SPEC = PATH[,listen][,tx][,rx][,mac=MAC][,dst=MAC]
 *
 * With two ports and no roles given, port 0 sends to port 1's MAC and port 1
 * receives.  A port that only receives announces its MAC (one frame of
 * EtherType 0x88b5 every 100 ms) so that a learning switch stops flooding.
 *
 * Frames are Ethernet/IPv4/UDP of --size bytes (no FCS), carrying a sequence
 * number per sending port; the receiver checks length, addresses, the fixed
 * headers, the pattern (--verify full) and the order.  Everything is written
 * into the transmit buffers once; a send touches the sequence number, one
 * descriptor length and one avail entry per frame, and kicks only when the
 * backend asks for kicks (never when it polls with NO_NOTIFY).
 *
 * One line on stdout at the end:
 *   RESULT tx=N rx=N tx_mpps=X rx_mpps=X rx_gbps=X errors=N ooo=N lost=N ...
 * rates over the measured window (after --warmup).  Exit status 1 on a
 * setup failure, on content errors, or with fewer than --expect-rx frames.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vhost/vu-front.h"

#define MAX_PORTS 4
#define BURST 32
#define ANNOUNCE_TYPE 0x88b5
#define SEQ_OFF 42
#define MAGIC_OFF 46
#define PATTERN_OFF 50

enum verify { VERIFY_NONE, VERIFY_HDR, VERIFY_FULL };

struct peer_port {
	const char *path;
	bool listen, do_tx, do_rx, roles_given, dst_given;
	uint8_t mac[6], dst[6];
	struct vf f;
	uint8_t tpl[65536]; /* the frame this port sends */
	uint32_t seq_tx;
	uint32_t seq_rx_next;
	bool seq_rx_started;
	uint64_t tx, rx, rx_bytes, errors, ooo, gaps, other, tx_full;
	uint64_t next_announce_ns;
};

static struct {
	struct peer_port port[MAX_PORTS];
	unsigned n;
	uint32_t size;
	uint64_t count;
	double duration, warmup, drain, rate;
	uint32_t qsize, rxbuf;
	bool irq;
	uint64_t features;
	enum verify verify;
	uint64_t expect_rx;
	bool announce;
	volatile sig_atomic_t stop;
} g = {
	.size = 60,
	.duration = 10,
	.drain = 0.5,
	.qsize = 256,
	.rxbuf = 2048,
	.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MRG_RXBUF) |
		    (1ull << VIRTIO_RING_F_EVENT_IDX),
	.verify = VERIFY_HDR,
	.announce = true,
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse_mac(const char *s, uint8_t *m)
{
	unsigned v[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)v[i];
	return 0;
}

static void parse_port(char *spec)
{
	if (g.n == MAX_PORTS) {
		fprintf(stderr, "vhost-peer: at most %d ports\n", MAX_PORTS);
		exit(1);
	}
	struct peer_port *p = &g.port[g.n];
	uint8_t def[6] = { 2, 0, 0, 0, 0, (uint8_t)(g.n + 1) };
	memcpy(p->mac, def, 6);
	char *save = NULL;
	p->path = strtok_r(spec, ",", &save);
	for (char *t; (t = strtok_r(NULL, ",", &save));) {
		if (!strcmp(t, "listen"))
			p->listen = true;
		else if (!strcmp(t, "tx"))
			p->do_tx = p->roles_given = true;
		else if (!strcmp(t, "rx"))
			p->do_rx = p->roles_given = true;
		else if (!strncmp(t, "mac=", 4) && !parse_mac(t + 4, p->mac))
			;
		else if (!strncmp(t, "dst=", 4) && !parse_mac(t + 4, p->dst))
			p->dst_given = true;
		else {
			fprintf(stderr, "vhost-peer: bad port option '%s'\n", t);
			exit(1);
		}
	}
	g.n++;
}

static uint16_t ip_csum(const uint8_t *h, unsigned len)
{
	uint32_t s = 0;
	for (unsigned i = 0; i < len; i += 2)
		s += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet/IPv4/UDP, same headers from every port but the MACs. */
static void build_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint32_t size)
{
	memset(f, 0, size);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	uint16_t tot = htons((uint16_t)(size - 14));
	memcpy(ip + 2, &tot, 2);
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = 17;
	uint8_t sa[4] = { 10, 0, 0, 1 }, da[4] = { 10, 0, 0, 2 };
	memcpy(ip + 12, sa, 4);
	memcpy(ip + 16, da, 4);
	uint16_t c = htons(ip_csum(ip, 20));
	memcpy(ip + 10, &c, 2);
	uint8_t *udp = ip + 20;
	uint16_t port = htons(1024), ulen = htons((uint16_t)(size - 34));
	memcpy(udp, &port, 2);
	memcpy(udp + 2, &port, 2);
	memcpy(udp + 4, &ulen, 2);
	memcpy(f + MAGIC_OFF, "VSPR", 4);
	for (uint32_t i = PATTERN_OFF; i < size; i++)
		f[i] = (uint8_t)(i * 7 + 3);
}

static void on_rx(void *arg, const struct vnet_hdr_mrg *h, const uint8_t *fr, uint32_t len)
{
	struct peer_port *p = arg;
	/* Announcements, and other stations' broadcasts and multicasts on a
	 * shared switch, are not this flow's frames. */
	if (len >= 14 && ((fr[12] == (ANNOUNCE_TYPE >> 8) && fr[13] == (ANNOUNCE_TYPE & 0xff)) ||
			  (fr[0] & 1))) {
		p->other++;
		return;
	}
	p->rx++;
	p->rx_bytes += len;
	if (g.verify == VERIFY_NONE)
		return;
	/* tpl holds this port's own frame: only the MACs differ. */
	if (len != g.size || memcmp(fr, p->mac, 6) || h->flags || h->gso_type ||
	    memcmp(fr + 12, p->tpl + 12, SEQ_OFF - 12) ||
	    memcmp(fr + MAGIC_OFF, p->tpl + MAGIC_OFF, PATTERN_OFF - MAGIC_OFF) ||
	    (g.verify == VERIFY_FULL &&
	     memcmp(fr + PATTERN_OFF, p->tpl + PATTERN_OFF, len - PATTERN_OFF))) {
		if (p->errors++ < 5)
			fprintf(stderr, "vhost-peer: port %s: bad frame (len %u)\n", p->path, len);
		return;
	}
	uint32_t seq;
	memcpy(&seq, fr + SEQ_OFF, 4);
	seq = ntohl(seq);
	if (!p->seq_rx_started || seq == p->seq_rx_next) {
		p->seq_rx_started = true;
	} else if ((int32_t)(seq - p->seq_rx_next) > 0) {
		p->gaps += seq - p->seq_rx_next;
	} else {
		p->ooo++;
		return;
	}
	p->seq_rx_next = seq + 1;
}

static int sock_connect(const char *path, bool listen_mode)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path));
	if (listen_mode) {
		int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		unlink(path);
		if (l < 0 || bind(l, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(l, 1) < 0)
			return -errno;
		struct pollfd pfd = { l, POLLIN, 0 };
		if (poll(&pfd, 1, 30000) <= 0) {
			close(l);
			return -ETIMEDOUT;
		}
		int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		int err = errno;
		close(l);
		unlink(path);
		return fd < 0 ? -err : fd;
	}
	/* The backend may still be starting: retry for a while. */
	for (int tries = 0;; tries++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
		int err = errno;
		close(fd);
		if (tries == 100)
			return -err;
		usleep(100000);
	}
}

static void send_announce(struct peer_port *p)
{
	if (vf_tx_reclaim(&p->f) == 0)
		return;
	uint8_t *b = vf_tx_buf(&p->f, 0);
	memset(b, 0, p->f.hdr_len);
	uint8_t *fr = b + p->f.hdr_len;
	memset(fr, 0xff, 6);
	memcpy(fr + 6, p->mac, 6);
	fr[12] = ANNOUNCE_TYPE >> 8;
	fr[13] = ANNOUNCE_TYPE & 0xff;
	memset(fr + 14, 0, 46);
	vf_tx_post(&p->f, 1, p->f.hdr_len + 60);
}

static void on_sig(int s)
{
	(void)s;
	g.stop = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vhost-peer [options] --port PATH[,listen][,tx][,rx][,mac=M][,dst=M] ...\n"
		"  -s, --size N        frame size without FCS (60)\n"
		"  -n, --count N       frames to send per sending port (0: until --duration)\n"
		"  -d, --duration S    seconds of measured sending (10)\n"
		"  -w, --warmup S      seconds sent before measuring (0)\n"
		"      --drain S       seconds to keep receiving after sending (0.5)\n"
		"  -r, --rate PPS      per sending port (0: as fast as possible)\n"
		"  -q, --qsize N       ring entries (256)\n"
		"      --rxbuf N       bytes per receive buffer (2048)\n"
		"      --irq           sleep on calls when idle instead of polling\n"
		"      --no-mrg, --no-event-idx, --csum (offer to take partial checksums)\n"
		"      --verify none|hdr|full (hdr)\n"
		"      --no-announce   receive-only ports do not announce their MAC\n"
		"      --expect-rx N   exit 1 if fewer frames arrive\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "drain", required_argument, NULL, 'D' },
		{ "rate", required_argument, NULL, 'r' },
		{ "qsize", required_argument, NULL, 'q' },
		{ "rxbuf", required_argument, NULL, 'B' },
		{ "irq", no_argument, NULL, 'I' },
		{ "no-mrg", no_argument, NULL, 'M' },
		{ "no-event-idx", no_argument, NULL, 'E' },
		{ "csum", no_argument, NULL, 'C' },
		{ "verify", required_argument, NULL, 'V' },
		{ "no-announce", no_argument, NULL, 'A' },
		{ "expect-rx", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "p:s:n:d:w:r:q:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			parse_port(optarg);
			break;
		case 's':
			g.size = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'n':
			g.count = strtoull(optarg, NULL, 0);
			break;
		case 'd':
			g.duration = atof(optarg);
			break;
		case 'w':
			g.warmup = atof(optarg);
			break;
		case 'D':
			g.drain = atof(optarg);
			break;
		case 'r':
			g.rate = atof(optarg);
			break;
		case 'q':
			g.qsize = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'B':
			g.rxbuf = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'I':
			g.irq = true;
			break;
		case 'M':
			g.features &= ~(1ull << VIRTIO_NET_F_MRG_RXBUF);
			break;
		case 'E':
			g.features &= ~(1ull << VIRTIO_RING_F_EVENT_IDX);
			break;
		case 'C':
			g.features |= 1ull << VIRTIO_NET_F_GUEST_CSUM;
			break;
		case 'V':
			g.verify = !strcmp(optarg, "full") ? VERIFY_FULL
				   : !strcmp(optarg, "none") ? VERIFY_NONE
							       : VERIFY_HDR;
			break;
		case 'A':
			g.announce = false;
			break;
		case 'x':
			g.expect_rx = strtoull(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	if (!g.n || g.size < 60 || g.size > 65535 - 64)
		usage();
	if (g.n == 2 && !g.port[0].roles_given && !g.port[1].roles_given) {
		g.port[0].do_tx = true;
		g.port[1].do_rx = true;
		if (!g.port[0].dst_given)
			memcpy(g.port[0].dst, g.port[1].mac, 6);
	}
	for (unsigned i = 0; i < g.n; i++) {
		struct peer_port *p = &g.port[i];
		if (!p->roles_given && g.n != 2)
			p->do_tx = p->do_rx = true;
		if (!p->dst_given && !(g.n == 2 && i == 0))
			memcpy(p->dst, g.port[(i + 1) % g.n].mac, 6);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);

	uint32_t txbuf = 2048;
	while (txbuf < g.size + 12)
		txbuf *= 2;
	for (unsigned i = 0; i < g.n; i++) {
		struct peer_port *p = &g.port[i];
		int fd = sock_connect(p->path, p->listen);
		if (fd < 0) {
			fprintf(stderr, "vhost-peer: %s: %s\n", p->path, strerror(-fd));
			return 1;
		}
		struct vf_opts o = {
			.features = g.features, .qsize = g.qsize, .txbuf = txbuf, .rxbuf = g.rxbuf,
			.irq = g.irq,
		};
		if (vf_init(&p->f, fd, &o) < 0 || vf_handshake(&p->f) < 0) {
			fprintf(stderr, "vhost-peer: %s: %s\n", p->path, p->f.err);
			return 1;
		}
		build_frame(p->tpl, p->dst, p->mac, g.size);
		for (unsigned s = 0; s < g.qsize; s++) {
			uint8_t *b = vf_tx_buf(&p->f, s);
			memset(b, 0, p->f.hdr_len);
			memcpy(b + p->f.hdr_len, p->tpl, g.size);
		}
		/* Receivers check against their own template: make its MACs
		 * theirs, the rest is the same on every port. */
		memcpy(p->tpl, p->mac, 6);
	}

	uint64_t t0 = now_ns();
	uint64_t t_meas = t0 + (uint64_t)(g.warmup * 1e9);
	uint64_t t_end = g.duration > 0 ? t_meas + (uint64_t)(g.duration * 1e9) : UINT64_MAX;
	uint64_t tx_at_meas = 0, rx_at_meas = 0, bytes_at_meas = 0;
	bool measuring = g.warmup <= 0, sending = true;
	uint64_t t_stop = 0, t_last = t0;
	double tokens = 0;
	uint32_t flen = 0;

	while (!g.stop) {
		uint64_t t = now_ns();
		if (!measuring && t >= t_meas) {
			measuring = true;
			for (unsigned i = 0; i < g.n; i++) {
				tx_at_meas += g.port[i].tx;
				rx_at_meas += g.port[i].rx;
				bytes_at_meas += g.port[i].rx_bytes;
			}
		}
		if (sending && t >= t_end) {
			sending = false;
			t_stop = t;
		}
		if (!sending && t >= t_stop + (uint64_t)(g.drain * 1e9))
			break;
		if (g.rate > 0) {
			tokens += g.rate * (double)(t - t_last) / 1e9;
			if (tokens > BURST * 4)
				tokens = BURST * 4;
		}
		t_last = t;
		bool work = false, all_done = true;
		for (unsigned i = 0; i < g.n; i++) {
			struct peer_port *p = &g.port[i];
			struct vf *f = &p->f;
			flen = f->hdr_len + g.size;
			if (p->do_tx && sending && (!g.count || p->tx < g.count)) {
				all_done = false;
				unsigned n = vf_tx_reclaim(f);
				if (!n)
					p->tx_full++;
				if (n > BURST)
					n = BURST;
				if (g.count && n > g.count - p->tx)
					n = (unsigned)(g.count - p->tx);
				if (g.rate > 0 && n > (unsigned)tokens)
					n = (unsigned)tokens;
				for (unsigned k = 0; k < n; k++) {
					uint32_t s = htonl(p->seq_tx++);
					memcpy(vf_tx_buf(f, k) + f->hdr_len + SEQ_OFF, &s, 4);
				}
				if (n) {
					vf_tx_post(f, n, flen);
					p->tx += n;
					tokens -= n;
					work = true;
				}
			} else if (!p->do_tx && g.announce && t >= p->next_announce_ns) {
				send_announce(p);
				p->next_announce_ns = t + 100000000ull;
			}
			if (vf_rx_poll(f, g.qsize, on_rx, p))
				work = true;
		}
		if (sending && g.count && all_done) {
			sending = false;
			t_stop = t;
		}
		if (g.irq && !work) {
			/* Sleep until the backend calls (bounded: the clock
			 * and the announces must go on). */
			struct pollfd pfd[MAX_PORTS * 2];
			unsigned np = 0;
			bool armed = true;
			for (unsigned i = 0; i < g.n; i++) {
				armed &= vf_irq_arm(&g.port[i].f, VF_RXQ);
				armed &= vf_irq_arm(&g.port[i].f, VF_TXQ);
				pfd[np++] = (struct pollfd){ g.port[i].f.q[VF_RXQ].call_fd, POLLIN, 0 };
				pfd[np++] = (struct pollfd){ g.port[i].f.q[VF_TXQ].call_fd, POLLIN, 0 };
			}
			if (armed)
				poll(pfd, np, 10);
			for (unsigned i = 0; i < g.n; i++) {
				vf_call_seen(&g.port[i].f, VF_RXQ);
				vf_call_seen(&g.port[i].f, VF_TXQ);
			}
		}
	}
	if (!t_stop)
		t_stop = now_ns();
	if (!measuring)
		t_meas = t0;

	uint64_t tx = 0, rx = 0, bytes = 0, errors = 0, ooo = 0, gaps = 0, other = 0, full = 0;
	uint64_t kicks = 0, bad_used = 0;
	for (unsigned i = 0; i < g.n; i++) {
		struct peer_port *p = &g.port[i];
		tx += p->tx;
		rx += p->rx;
		bytes += p->rx_bytes;
		errors += p->errors;
		ooo += p->ooo;
		gaps += p->gaps;
		other += p->other;
		full += p->tx_full;
		kicks += p->f.q[VF_RXQ].kicks + p->f.q[VF_TXQ].kicks;
		bad_used += p->f.tx_bad_used;
	}
	errors += bad_used;
	double secs = (double)(t_stop - t_meas) / 1e9;
	if (secs <= 0)
		secs = 1e-9;
	/* Frames in flight at the end of the window still count as received
	 * in it: the drain only collects them. */
	printf("RESULT tx=%llu rx=%llu tx_mpps=%.3f rx_mpps=%.3f rx_gbps=%.3f errors=%llu ooo=%llu "
	       "lost=%llu other=%llu tx_full=%llu kicks=%llu size=%u duration=%.3f\n",
	       (unsigned long long)tx, (unsigned long long)rx,
	       (double)(tx - tx_at_meas) / secs / 1e6, (double)(rx - rx_at_meas) / secs / 1e6,
	       (double)(bytes - bytes_at_meas) * 8 / secs / 1e9, (unsigned long long)errors,
	       (unsigned long long)ooo, (unsigned long long)(tx > rx ? tx - rx : 0),
	       (unsigned long long)other, (unsigned long long)full, (unsigned long long)kicks,
	       g.size, secs);
	(void)gaps;
	for (unsigned i = 0; i < g.n; i++)
		vf_fini(&g.port[i].f);
	if (errors || rx < g.expect_rx)
		return 1;
	return 0;
}
