/* Load for stream (QEMU -netdev stream framing) ports: N clients of a
 * switch's plug.sock, each one port, sending 64-byte (or --size) frames.
 *
 *   stream-bench --sock RUNDIR/SW/plug.sock [--ports N] [--size B]
 *                [--duration S] [--single] [--pid PID] [--rate FPS]
 *
 * Pattern: client i sends to client (i+1) mod N (unicast: every client
 * announces its MAC first, so the switch learns them all).  With two
 * ports, client 0 only sends and client 1 only receives.  --single writes
 * one frame per write() as QEMU does; otherwise batches of 64 frames per
 * write.  --rate caps each sender's frames per second (soak runs below
 * capacity).  Prints one RESULT line: frames received per second, and with
 * --pid the switch's CPU (% of a core, and ns per frame) over the window.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

struct client {
	int fd;
	uint8_t rx[1 << 18];
	size_t rx_len;
	uint64_t rx_frames;
	uint64_t tx_frames;
	uint8_t mac[6];
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long cpu_ticks(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	long ut = 0, st = 0;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st) != 2)
		return -1;
	return ut + st;
}

static void mac(unsigned i, uint8_t *m)
{
	m[0] = 0x02;
	m[1] = 0x5b;
	m[2] = (uint8_t)(i >> 24);
	m[3] = (uint8_t)(i >> 16);
	m[4] = (uint8_t)(i >> 8);
	m[5] = (uint8_t)i;
}

static size_t put_frame(uint8_t *b, const uint8_t *dst, const uint8_t *src, unsigned size)
{
	b[0] = (uint8_t)(size >> 24);
	b[1] = (uint8_t)(size >> 16);
	b[2] = (uint8_t)(size >> 8);
	b[3] = (uint8_t)size;
	memset(b + 4, 0, size);
	memcpy(b + 4, dst, 6);
	memcpy(b + 10, src, 6);
	b[16] = 0x88;
	b[17] = 0xb5;
	return 4 + size;
}

/* Read what is there; returns the bytes read. */
static size_t drain(struct client *c)
{
	size_t total = 0;
	for (;;) {
		ssize_t r = read(c->fd, c->rx + c->rx_len, sizeof(c->rx) - c->rx_len);
		if (r <= 0)
			return total;
		total += (size_t)r;
		c->rx_len += (size_t)r;
		size_t pos = 0;
		while (c->rx_len - pos >= 4) {
			uint32_t l = (uint32_t)c->rx[pos] << 24 | (uint32_t)c->rx[pos + 1] << 16 |
				     (uint32_t)c->rx[pos + 2] << 8 | c->rx[pos + 3];
			if (c->rx_len - pos - 4 < l)
				break;
			/* Only this tool's frames (source 02:5b:...) for this
			 * client count: on a shared switch other stations'
			 * broadcasts arrive too, and before the switch has
			 * learned, frames for others are flooded here. */
			if (l >= 12 && c->rx[pos + 10] == 0x02 && c->rx[pos + 11] == 0x5b &&
			    memcmp(c->rx + pos + 4, c->mac, 6) == 0)
				c->rx_frames++;
			pos += 4 + l;
		}
		memmove(c->rx, c->rx + pos, c->rx_len - pos);
		c->rx_len -= pos;
	}
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	unsigned nports = 2, size = 64, single = 0;
	double duration = 5, rate = 0;
	int pid = 0;
	static const struct option opts[] = {
		{ "sock", required_argument, NULL, 's' },   { "ports", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 'z' },   { "duration", required_argument, NULL, 'd' },
		{ "single", no_argument, NULL, '1' },	    { "pid", required_argument, NULL, 'p' },
		{ "rate", required_argument, NULL, 'r' },
		{ 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'n': nports = (unsigned)atoi(optarg); break;
		case 'z': size = (unsigned)atoi(optarg); break;
		case 'd': duration = atof(optarg); break;
		case '1': single = 1; break;
		case 'p': pid = atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		default: return 2;
		}
	}
	if (!sock || nports < 2 || size < 60 || size > 1514) {
		fprintf(stderr, "usage: stream-bench --sock PLUG.SOCK [--ports N>=2] [--size 60..1514] "
				"[--duration S] [--single] [--pid PID]\n");
		return 2;
	}
	struct client *c = calloc(nports, sizeof(*c));
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, m[6], d[6];
	uint8_t buf[BATCH * 1600];
	for (unsigned i = 0; i < nports; i++) {
		c[i].fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (c[i].fd < 0 || connect(c[i].fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			perror("connect");
			return 1;
		}
		int big = 4 << 20;
		setsockopt(c[i].fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		setsockopt(c[i].fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}
	usleep(200000); /* the switch makes its ports */
	for (unsigned i = 0; i < nports; i++) {
		mac(i, m);
		memcpy(c[i].mac, m, 6);
		size_t l = put_frame(buf, bc, m, 60);
		if (write(c[i].fd, buf, l) != (ssize_t)l)
			return 1;
		fcntl(c[i].fd, F_SETFL, O_NONBLOCK);
	}
	/* Each announcement is flooded to every other port: with 1,024
	 * ports a million frames, one write per port per burst.  Wait until
	 * that storm is over (nothing arrives for half a second), so the
	 * measurement starts with every station learned. */
	for (double quiet_since = now(), limit = now() + 60; now() - quiet_since < 0.5 && now() < limit;) {
		usleep(50000);
		size_t got = 0;
		for (unsigned i = 0; i < nports; i++)
			got += drain(&c[i]);
		if (got)
			quiet_since = now();
	}
	for (unsigned i = 0; i < nports; i++)
		c[i].rx_frames = 0;
	/* One prepared batch per client. */
	uint8_t **batch = calloc(nports, sizeof(*batch));
	size_t blen = 0;
	for (unsigned i = 0; i < nports; i++) {
		batch[i] = malloc(sizeof(buf));
		mac(i, m);
		mac((i + 1) % nports, d);
		blen = 0;
		for (unsigned k = 0; k < (single ? 1 : BATCH); k++)
			blen += put_frame(batch[i] + blen, d, m, size);
	}
	unsigned senders = nports == 2 ? 1 : nports;
	long t0 = pid ? cpu_ticks(pid) : 0;
	double start = now(), end = start + duration;
	struct pollfd *pf = calloc(nports, sizeof(*pf));
	double next_announce = start + 10;
	while (now() < end) {
		/* Clients that only receive speak now and then, as a real
		 * station does, or the switch forgets them after its aging time
		 * (300 s) and floods their frames to every port. */
		if (senders < nports && now() >= next_announce) {
			next_announce += 10;
			for (unsigned i = senders; i < nports; i++) {
				size_t l = put_frame(buf, bc, c[i].mac, 60);
				fcntl(c[i].fd, F_SETFL, 0);
				if (write(c[i].fd, buf, l) != (ssize_t)l)
					return 1;
				fcntl(c[i].fd, F_SETFL, O_NONBLOCK);
			}
		}
		/* Paced: no sender gets ahead of rate * elapsed. */
		bool ahead = rate > 0 && (double)c[0].tx_frames >= rate * (now() - start);
		for (unsigned i = 0; i < senders && !ahead; i++) {
			ssize_t w = write(c[i].fd, batch[i], blen);
			if (w > 0)
				c[i].tx_frames += (size_t)w / (4 + size); /* partial frames: see below */
			if (w > 0 && (size_t)w % (4 + size)) {
				/* Finish the frame cut short, blocking: framing must hold. */
				size_t left = (4 + size) - (size_t)w % (4 + size);
				fcntl(c[i].fd, F_SETFL, 0);
				if (write(c[i].fd, batch[i] + (size_t)w, left) != (ssize_t)left)
					return 1;
				fcntl(c[i].fd, F_SETFL, O_NONBLOCK);
				c[i].tx_frames++;
			}
		}
		for (unsigned i = 0; i < nports; i++)
			pf[i] = (struct pollfd){ .fd = c[i].fd, .events = POLLIN };
		if (poll(pf, nports, ahead ? 1 : 0) > 0)
			for (unsigned i = 0; i < nports; i++)
				if (pf[i].revents & POLLIN)
					drain(&c[i]);
	}
	double t = now() - start;
	long t1 = pid ? cpu_ticks(pid) : 0;
	usleep(200000);
	uint64_t rx = 0, tx = 0;
	unsigned silent = 0; /* receivers that got none of their frames */
	for (unsigned i = 0; i < nports; i++) {
		drain(&c[i]);
		rx += c[i].rx_frames;
		tx += c[i].tx_frames;
		if (!c[i].rx_frames && (senders > 1 || i == 1))
			silent++;
	}
	double cpu = pid ? (double)(t1 - t0) / sysconf(_SC_CLK_TCK) : 0;
	printf("RESULT ports=%u size=%u mode=%s tx_fps=%.0f rx_fps=%.0f loss_pct=%.2f "
	       "switch_cpu_pct=%.1f switch_ns_per_frame=%.0f silent_ports=%u\n",
	       nports, size, single ? "single" : "batch", tx / t, rx / t,
	       tx ? 100.0 * ((double)tx - (double)rx) / (double)tx : 0.0, pid ? 100 * cpu / t : 0.0,
	       rx && pid ? cpu * 1e9 / (double)rx : 0.0, silent);
	return 0;
}
