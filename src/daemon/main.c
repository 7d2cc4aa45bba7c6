/* vswitchd: the virtual switch daemon.  See vswitchd(8).
 *
 *   vswitchd [--rundir DIR] [--statedir DIR] [--log-level LEVEL]
 *
 * Foreground; logs to stderr.  Restores the saved switches (or creates the
 * default internal switch vswitch0 on first start), serves the control socket
 * and forwards frames until SIGINT/SIGTERM.  Host vNICs persist after exit,
 * with their addresses: the host never loses its configuration because the
 * daemon stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pkt.h"
#include "util.h"
#include "vsd.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: vswitchd [--rundir DIR] [--statedir DIR] [--log-level debug|info|warn|error]\n"
		   "                [--busy-poll] [--rx-usecs N] [--rx-usecs-max N]\n"
		   "\n"
		   "  --rundir DIR     sockets (default $VSWITCH_RUNDIR or /run/vswitch)\n"
		   "  --statedir DIR   saved configuration (default $VSWITCH_STATEDIR or /var/lib/vswitch)\n"
		   "  --log-level L    least severe messages to print (default info)\n"
		   "  --busy-poll      poll vhost-user rings without sleeping: lower latency and more\n"
		   "                   frames per second, for one whole core even when idle (yielded\n"
		   "                   to other tasks when a pass finds nothing)\n"
		   "  --rx-usecs N     under load, read kernel, TAP, dgram and stream ports every N µs\n"
		   "                   instead of being woken per frame (default %u; 0: off; off with\n"
		   "                   --busy-poll)\n"
		   "  --rx-usecs-max N under a steady load of small frames, let that window grow up\n"
		   "                   to N µs, for fewer wakeups (default %u; at most --rx-usecs:\n"
		   "                   a fixed window)\n",
	VSD_DEFAULT_RX_USECS, VSD_DEFAULT_RX_USECS_MAX);
}

/* Busy-poll mode: every pass of the loop looks at the ports that can be
 * polled (vhost-user rings, AF_PACKET rings) instead of waiting for their
 * kicks.  Returns whether any port had frames. */
static bool poll_ports(void *arg)
{
	struct vsd *d = arg;
	bool busy = false;
	for (unsigned i = 0; i < d->nsw; i++) {
		struct sw *sw = d->sw[i]->sw;
		for (unsigned j = 0; j < sw->nports_cap; j++) {
			struct port *p = sw->ports[j];
			if (p && p->ops->poll && p->ops->poll(p))
				busy = true;
		}
	}
	return busy;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void on_signal(void *arg, uint32_t events)
{
	struct vsd *d = arg;
	log_info("stopping (signal); host vNICs stay configured");
	loop_stop(d->loop);
}

static void on_tick(void *arg, uint32_t events)
{
	struct vsd *d = arg;
	uint32_t now = mono_seconds();
	for (unsigned i = 0; i < d->nsw; i++) {
		struct sw *sw = d->sw[i]->sw;
		fdb_expire(sw->fdb, now);
		for (unsigned j = 0; j < sw->nports_cap; j++) {
			struct port *p = sw->ports[j];
			if (p && p->ops->tick)
				p->ops->tick(p);
		}
	}
	vsd_counters_save(d, false);
}

static void print_howto(struct vsd *d)
{
	for (unsigned i = 0; i < d->nsw; i++) {
		struct vsd_switch *vs = d->sw[i];
		fprintf(stderr,
			"\nswitch %s (%s)%s%s. Plug a QEMU VM into it with:\n"
			"  qemu-system-x86_64 ... -netdev stream,id=n0,server=off,addr.type=unix,"
			"addr.path=%s/plug.sock -device virtio-net-pci,netdev=n0\n",
			vs->sw->name, sw_type_name(vs->type), vs->host_nic ? ", host vNIC " : "",
			vs->host_nic ? vs->sw->name : "", vs->dir);
	}
	if (d->nsw)
		fprintf(stderr, "(or add named ports: vswitchctl port add SWITCH PORT --type stream; "
				"vswitchctl port show SWITCH PORT prints the QEMU arguments)\n\n");
}

static int parse_usecs(const char *opt, const char *s, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v > max || s[0] == '-') {
		fprintf(stderr, "vswitchd: %s wants 0 to %lu, not '%s'\n", opt, max, s);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rundir", required_argument, NULL, 'r' },
		{ "statedir", required_argument, NULL, 's' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "busy-poll", no_argument, NULL, 'b' },
		{ "rx-usecs", required_argument, NULL, 'u' },
		{ "rx-usecs-max", required_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *rundir = getenv("VSWITCH_RUNDIR"), *statedir = getenv("VSWITCH_STATEDIR");
	bool busy_poll = false;
	unsigned rx_usecs = VSD_DEFAULT_RX_USECS, rx_usecs_max = VSD_DEFAULT_RX_USECS_MAX;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rundir = optarg;
			break;
		case 's':
			statedir = optarg;
			break;
		case 'l':
			if (log_parse_level(optarg, &log_min_level) < 0) {
				fprintf(stderr, "vswitchd: unknown log level '%s'\n", optarg);
				usage(stderr);
				return 2;
			}
			break;
		case 'b':
			busy_poll = true;
			break;
		case 'u':
			if (parse_usecs("--rx-usecs", optarg, 1000, &rx_usecs) < 0)
				return 2;
			break;
		case 'U':
			if (parse_usecs("--rx-usecs-max", optarg, 10000, &rx_usecs_max) < 0)
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vswitchd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!rundir || !*rundir)
		rundir = "/run/vswitch";
	if (!statedir || !*statedir)
		statedir = "/var/lib/vswitch";

	struct vsd d = { .rx_usecs = busy_poll ? 0 : rx_usecs, .rx_usecs_max = rx_usecs_max };
	struct vsd_err e = { .code = NULL };
	int r, ret = 1, lockfd = -1, sigfd = -1;
	if (rundir[0] != '/' || statedir[0] != '/') {
		fprintf(stderr, "vswitchd: --rundir and --statedir must be absolute paths\n");
		return 2;
	}
	if (strlen(rundir) > VSD_RUNDIR_MAX) {
		fprintf(stderr, "vswitchd: --rundir may have at most %d characters (socket paths "
				"inside it must fit in 108 bytes)\n", VSD_RUNDIR_MAX);
		return 2;
	}
	snprintf(d.rundir, sizeof(d.rundir), "%s", rundir);
	snprintf(d.statedir, sizeof(d.statedir), "%s", statedir);
	if ((r = mkdir_p(d.rundir, 0755)) < 0 || (r = mkdir_p(d.statedir, 0700)) < 0) {
		log_error("creating %s / %s: %s", d.rundir, d.statedir, strerror(-r));
		return 1;
	}
	/* One daemon per directory: two would fight over the same vNICs. */
	char lockpath[PATH_MAX + 16];
	snprintf(lockpath, sizeof(lockpath), "%s/vswitchd.lock", d.statedir);
	lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
		log_error("another vswitchd uses %s (%s)", d.statedir, strerror(errno));
		return 1;
	}

	/* Ports come and go by the thousand: their buffers (over 64 KiB) are
	 * always mapped and unmapped, never left in the heap, which glibc's
	 * adaptive threshold would do after the first free. */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	/* Every port holds one to four descriptors: 1,024 ports need more
	 * than the usual soft limit of 1,024.  Take what the hard limit
	 * allows. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	accept_reserve_init();
	signal(SIGPIPE, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

	if (pkt_pool_init(4096, 256, 4096) < 0 || (r = hn_init()) < 0 || !(d.loop = loop_new())) {
		log_error("initialisation failed (memory or netlink)");
		goto out;
	}
	struct loop_watch sigw;
	loop_watch_init(&sigw);
	loop_watch_add(d.loop, &sigw, sigfd, EPOLLIN, on_signal, &d);
	loop_timer_add(d.loop, 1000, on_tick, &d);
	if (busy_poll)
		loop_set_poll(d.loop, poll_ports, &d);

	bool found;
	if (vsd_state_load(&d, &found, &e) < 0) {
		log_error("%s", e.msg);
		goto out;
	}
	if (found)
		vsd_counters_load(&d);
	if (!found) {
		struct vsd_switch_opts o = {
			.name = "vswitch0",
			.type = SW_INTERNAL,
			.mtu = VSD_DEFAULT_MTU,
			.aging = VSD_DEFAULT_AGING,
			.max_macs = VSD_DEFAULT_MAX_MACS,
		};
		log_info("no saved configuration: creating the default internal switch vswitch0");
		if (vsd_switch_create(&d, &o, &e) < 0) {
			log_error("creating vswitch0: %s", e.msg);
			/* Still save, so that an empty configuration exists. */
		}
		vsd_state_save(&d, &e);
	}
	if ((r = vsd_ctl_open(&d)) < 0) {
		log_error("control socket in %s: %s", d.rundir, strerror(-r));
		goto out;
	}
	log_info("vswitchd running: %u switch(es), control socket %s/vswitchd.sock", d.nsw,
		 d.rundir);
	print_howto(&d);
	if (loop_run(d.loop) == 0)
		ret = 0;
	vsd_ctl_close();
	vsd_counters_save(&d, true);
out:
	vsd_switch_close_all(&d);
	vsd_state_fini();
	loop_free(d.loop);
	hn_fini();
	pkt_pool_fini();
	if (sigfd >= 0)
		close(sigfd);
	close(lockfd);
	return ret;
}
