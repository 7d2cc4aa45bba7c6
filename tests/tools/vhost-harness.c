/* vhost-harness: one switch with vhost-user ports and nothing else.
 *
 * An end-to-end stand-in for the daemon while it has no vhost-user ports of
 * its own, and the backend for benchmarks (vhost-bench.sh custom mode):
 *
 *   vhost-harness [--poll] [--connect] [--mtu N] [--stats] [--debug] SOCK...
 *
 * Each SOCK becomes a port vuN: the harness listens on it (server), or with
 * --connect connects to it and reconnects whenever it drops (client).  With
 * --poll the loop never sleeps and every port is polled each pass (the
 * fast mode, and what the guests see with VRING_USED_F_NO_NOTIFY); without
 * it the ports sleep on kicks.  SIGINT/SIGTERM end it, after one line of
 * counters per port on stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "pkt.h"
#include "port-vhost-user.h"
#include "port.h"
#include "sw.h"

#define MAX_PORTS 16

struct harness {
	struct loop *loop;
	struct sw *sw;
	struct port *ports[MAX_PORTS];
	unsigned n;
	bool stats;
	struct loop_watch sigw;
	int sigfd;
};

static void print_stats(struct harness *h, const char *tag)
{
	for (unsigned i = 0; i < h->n; i++) {
		struct port *p = h->ports[i];
		printf("%s port=%s state=%s rx=%llu tx=%llu rx_drop=%llu tx_drop=%llu "
		       "tx_queue_full=%llu resets=%llu\n",
		       tag, p->name, port_state_name(p->state),
		       (unsigned long long)p->stats.rx_packets,
		       (unsigned long long)p->stats.tx_packets,
		       (unsigned long long)port_rx_dropped(p), (unsigned long long)port_tx_dropped(p),
		       (unsigned long long)p->stats.tx_drop[TX_DROP_QUEUE_FULL],
		       (unsigned long long)p->stats.resets);
	}
	fflush(stdout);
}

static void on_tick(void *arg, uint32_t events)
{
	struct harness *h = arg;
	(void)events;
	for (unsigned i = 0; i < h->n; i++)
		if (h->ports[i]->ops->tick)
			h->ports[i]->ops->tick(h->ports[i]);
	if (h->stats)
		print_stats(h, "STATS");
}

static bool on_poll(void *arg)
{
	struct harness *h = arg;
	bool busy = false;
	for (unsigned i = 0; i < h->n; i++)
		busy |= h->ports[i]->ops->poll(h->ports[i]);
	return busy;
}

static void on_signal(void *arg, uint32_t events)
{
	struct harness *h = arg;
	struct signalfd_siginfo si;
	(void)events;
	if (read(h->sigfd, &si, sizeof(si)) > 0)
		loop_stop(h->loop);
}

static void usage(void)
{
	fprintf(stderr, "usage: vhost-harness [--poll] [--connect] [--mtu N] [--stats] [--debug] "
			"SOCK...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "poll", no_argument, NULL, 'p' },
		{ "connect", no_argument, NULL, 'c' },
		{ "mtu", required_argument, NULL, 'm' },
		{ "stats", no_argument, NULL, 's' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct harness h = { .sigfd = -1 };
	bool poll = false, connect = false;
	unsigned mtu = 1500;
	int c;

	while ((c = getopt_long(argc, argv, "pcm:sdh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			poll = true;
			break;
		case 'c':
			connect = true;
			break;
		case 'm':
			mtu = (unsigned)atoi(optarg);
			break;
		case 's':
			h.stats = true;
			break;
		case 'd':
			log_min_level = LOG_DEBUG;
			break;
		default:
			usage();
		}
	}
	if (optind == argc || argc - optind > MAX_PORTS)
		usage();
	signal(SIGPIPE, SIG_IGN);
	h.loop = loop_new();
	if (!h.loop || pkt_pool_init(4096, 256, 4096) < 0) {
		fprintf(stderr, "vhost-harness: out of memory\n");
		return 1;
	}
	h.sw = sw_new("harness", SW_PRIVATE, mtu, 65536, 300);
	if (!h.sw)
		return 1;
	for (int i = optind; i < argc; i++) {
		char name[PORT_NAME_MAX];
		snprintf(name, sizeof(name), "vu%u", h.n);
		struct port *p = port_new(&port_vhost_user_ops, name, h.loop);
		if (!p || sw_port_attach(h.sw, p) < 0)
			return 1;
		struct port_args a = { .fd = -1 };
		if (connect)
			a.connect_path = argv[i];
		else
			a.socket_path = argv[i];
		int r = p->ops->open(p, &a);
		if (r < 0) {
			fprintf(stderr, "vhost-harness: %s: %s\n", argv[i], strerror(-r));
			return 1;
		}
		h.ports[h.n++] = p;
	}
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	h.sigfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
	loop_watch_init(&h.sigw);
	if (h.sigfd < 0 || loop_watch_add(h.loop, &h.sigw, h.sigfd, EPOLLIN, on_signal, &h) < 0)
		return 1;
	loop_timer_add(h.loop, 1000, on_tick, &h);
	if (poll)
		loop_set_poll(h.loop, on_poll, &h);
	log_info("vhost-harness: %u ports, %s", h.n, poll ? "busy polling" : "sleeping on kicks");
	loop_run(h.loop);

	print_stats(&h, "FINAL");
	for (unsigned i = 0; i < h.n; i++) {
		h.ports[i]->ops->close(h.ports[i]);
		sw_port_detach(h.sw, h.ports[i]);
		port_free(h.ports[i]);
	}
	loop_watch_del(h.loop, &h.sigw);
	close(h.sigfd);
	sw_free(h.sw);
	loop_free(h.loop);
	pkt_pool_fini();
	return 0;
}
