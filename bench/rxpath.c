/* Receive-path probe: how many frames per second one thread takes from a
 * veth, and at what CPU cost, through each way a userspace switch can read
 * a kernel interface.  Answers "does AF_XDP on veth pay off over the
 * AF_PACKET ring vswitchd uses?" (issue 4) without changing the switch.
 *
 *   rxpath send IFNAME SECONDS            blast 106-byte UDP frames (what
 *                                         iperf3 -u -l 64 puts on the wire),
 *                                         32 per sendmmsg()
 *   rxpath v2|v3|xdp IFNAME SECONDS
 *       v2       TPACKET_V2 ring, 1,024 slots of 2 KiB (as vswitchd); with
 *                COALESCE_US=N in the environment it sleeps N microseconds
 *                after each read, as vswitchd's --rx-usecs does under load
 *       v3       TPACKET_V3 ring, 32 blocks of 64 KiB, 1 ms block timeout
 *       xdp      AF_XDP, native XDP on the veth (libxdp's default program),
 *                copy mode (veth has no zero-copy), 2,048-frame umem
 *
 * Prints one line: mode, frames, this thread's CPU seconds (user,
 * system), wakeups (poll() calls that returned), frames per wakeup.  The
 * kernel's share of receiving (copying into the ring or the umem, running
 * the XDP program) runs in the sender's softirq and is not in the CPU
 * figures: compare the rates too (bench/rxpath.sh).  A tool for deciding,
 * not a benchmark of record. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xdp/xsk.h>

#define BURST 32
#define FRAME_LEN 106

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "rxpath: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int packet_socket(const char *ifname)
{
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (fd < 0)
		die("socket");
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = (int)if_nametoindex(ifname) };
	if (sll.sll_ifindex == 0)
		die(ifname);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		die("bind");
	return fd;
}

static int run_send(const char *ifname, double secs)
{
	int fd = packet_socket(ifname);
	uint8_t f[FRAME_LEN] = {
		0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, /* ether */
		0x45, 0, 0, FRAME_LEN - 14, 0, 0, 0x40, 0, 64, 17, 0, 0, /* ip */
		10, 77, 0, 1, 10, 77, 0, 2,
		0x30, 0x39, 0x14, 0x51, 0, FRAME_LEN - 34, 0, 0, /* udp, no csum */
	};
	struct iovec iov = { f, sizeof(f) };
	struct mmsghdr m[BURST];
	for (int i = 0; i < BURST; i++)
		m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1 } };
	uint64_t sent = 0;
	double t0 = now(), t;
	while ((t = now()) - t0 < secs) {
		int n = sendmmsg(fd, m, BURST, 0);
		if (n > 0)
			sent += (uint64_t)n;
	}
	printf("send %llu %.0f\n", (unsigned long long)sent, sent / (t - t0));
	return 0;
}

struct counters {
	uint64_t frames, wakeups;
};

static void report(const char *mode, const struct counters *c, double secs)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double u = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	double s = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	(void)secs;
	printf("%s frames=%llu user=%.2f sys=%.2f wakeups=%llu per_wakeup=%.1f\n",
	       mode, (unsigned long long)c->frames, u, s,
	       (unsigned long long)c->wakeups,
	       c->wakeups ? (double)c->frames / c->wakeups : 0.0);
}

/* Every frame is read (one byte of it) so that each path pays for touching
 * the data, as a switch does. */
static volatile uint8_t sink;

static long coalesce_ns;

/* A receive ring of 2 MiB (32 blocks of 64 KiB, 2 KiB frames) on an
 * AF_PACKET socket bound to ifname; V3 retires a block after 1 ms. */
static uint8_t *ring_open(const char *ifname, int version, int *fd_out)
{
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	struct tpacket_req3 req = { .tp_block_size = 64 * 1024, .tp_block_nr = 32,
				    .tp_frame_size = 2048, .tp_frame_nr = 1024,
				    .tp_retire_blk_tov = 1 };
	socklen_t len = version == TPACKET_V3 ? sizeof(req) : sizeof(struct tpacket_req);
	if (fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, len) < 0)
		die("ring");
	uint8_t *ring = mmap(NULL, 2u << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED)
		die("mmap");
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = (int)if_nametoindex(ifname) };
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		die("bind");
	*fd_out = fd;
	return ring;
}

/* Sleep until fd is readable (counted as a wakeup); false on timeout. */
static bool wait_readable(int fd, struct counters *c)
{
	struct pollfd p = { fd, POLLIN, 0 };
	if (poll(&p, 1, 100) <= 0)
		return false;
	c->wakeups++;
	return true;
}

static int run_v2(const char *ifname, double secs)
{
	if (getenv("COALESCE_US"))
		coalesce_ns = atol(getenv("COALESCE_US")) * 1000;
	int fd;
	uint8_t *ring = ring_open(ifname, TPACKET_V2, &fd);
	struct counters c = { 0 };
	unsigned slot = 0;
	double t0 = now(), t;
	while ((t = now()) - t0 < secs) {
		if (!wait_readable(fd, &c))
			continue;
		for (;;) {
			struct tpacket2_hdr *h = (void *)(ring + (size_t)slot * 2048);
			if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
				break;
			sink = ((uint8_t *)h)[h->tp_mac];
			__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
			slot = (slot + 1) % 1024;
			c.frames++;
		}
		if (coalesce_ns) {
			struct timespec ts = { 0, coalesce_ns };
			nanosleep(&ts, NULL);
		}
	}
	report("v2", &c, t - t0);
	return 0;
}

static int run_v3(const char *ifname, double secs)
{
	int fd;
	uint8_t *ring = ring_open(ifname, TPACKET_V3, &fd);
	struct counters c = { 0 };
	unsigned blk = 0;
	double t0 = now(), t;
	while ((t = now()) - t0 < secs) {
		if (!wait_readable(fd, &c))
			continue;
		for (;;) {
			struct tpacket_block_desc *b = (void *)(ring + (size_t)blk * 64 * 1024);
			if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
				break;
			uint8_t *f = (uint8_t *)b + b->hdr.bh1.offset_to_first_pkt;
			for (unsigned i = 0; i < b->hdr.bh1.num_pkts; i++) {
				struct tpacket3_hdr *h = (void *)f;
				sink = f[h->tp_mac];
				f += h->tp_next_offset;
				c.frames++;
			}
			__atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
			blk = (blk + 1) % 32;
		}
	}
	report("v3", &c, t - t0);
	return 0;
}

#define UMEM_FRAMES 2048u
#define UMEM_FRAME 2048u

static int run_xdp(const char *ifname, double secs)
{
	struct rlimit r = { RLIM_INFINITY, RLIM_INFINITY };
	setrlimit(RLIMIT_MEMLOCK, &r);
	size_t len = (size_t)UMEM_FRAMES * UMEM_FRAME;
	void *area = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		die("mmap umem");
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	struct xsk_umem *umem;
	struct xsk_umem_config uc = { .fill_size = UMEM_FRAMES, .comp_size = 1024,
				      .frame_size = UMEM_FRAME,
				      .frame_headroom = XSK_UMEM__DEFAULT_FRAME_HEADROOM };
	int err = xsk_umem__create(&umem, area, len, &fill, &comp, &uc);
	if (err) {
		errno = -err;
		die("xsk_umem__create");
	}
	struct xsk_socket_config sc = {
		.rx_size = 1024, .tx_size = 1024,
		.xdp_flags = XDP_FLAGS_DRV_MODE,
		.bind_flags = XDP_COPY,
	};
	struct xsk_socket *xsk;
	err = xsk_socket__create(&xsk, ifname, 0, umem, &rx, &tx, &sc);
	if (err) {
		errno = -err;
		die("xsk_socket__create");
	}
	uint32_t idx;
	if (xsk_ring_prod__reserve(&fill, UMEM_FRAMES, &idx) != UMEM_FRAMES)
		die("fill reserve");
	for (uint32_t i = 0; i < UMEM_FRAMES; i++)
		*xsk_ring_prod__fill_addr(&fill, idx + i) = (uint64_t)i * UMEM_FRAME;
	xsk_ring_prod__submit(&fill, UMEM_FRAMES);

	int fd = xsk_socket__fd(xsk);
	struct counters c = { 0 };
	double t0 = now(), t;
	while ((t = now()) - t0 < secs) {
		if (!wait_readable(fd, &c))
			continue;
		uint32_t ri;
		unsigned n;
		while ((n = xsk_ring_cons__peek(&rx, 64, &ri)) > 0) {
			uint32_t fi;
			while (xsk_ring_prod__reserve(&fill, n, &fi) != n)
				;
			for (unsigned i = 0; i < n; i++) {
				const struct xdp_desc *d = xsk_ring_cons__rx_desc(&rx, ri + i);
				sink = *(uint8_t *)xsk_umem__get_data(area, d->addr);
				*xsk_ring_prod__fill_addr(&fill, fi + i) =
					xsk_umem__extract_addr(d->addr);
			}
			xsk_ring_cons__release(&rx, n);
			xsk_ring_prod__submit(&fill, n);
			c.frames += n;
		}
	}
	report("xdp", &c, t - t0);
	xsk_socket__delete(xsk);
	xsk_umem__delete(umem);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: rxpath send|v2|v3|xdp IFNAME SECONDS\n");
		return 2;
	}
	const char *mode = argv[1], *ifname = argv[2];
	double secs = atof(argv[3]);
	if (!strcmp(mode, "send"))
		return run_send(ifname, secs);
	if (!strcmp(mode, "v2"))
		return run_v2(ifname, secs);
	if (!strcmp(mode, "v3"))
		return run_v3(ifname, secs);
	if (!strcmp(mode, "xdp"))
		return run_xdp(ifname, secs);
	fprintf(stderr, "rxpath: unknown mode '%s'\n", mode);
	return 2;
}
