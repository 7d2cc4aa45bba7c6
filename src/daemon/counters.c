/* Counters that outlive the daemon: STATEDIR/counters.json.
 *
 * A user reading `vswitchctl stats` after a crash wants the history, and
 * wants to know what was lost while no switch was running.  So:
 *
 * - Every named port's counters are written out once a second when they
 *   changed, and at a clean exit; at start each restored port gets them back.
 *   The file is replaced by rename but not fsync'ed: counters are history,
 *   not configuration, and a file lost to a power cut loses only history.
 *   A kill -9 loses at most the last second of counting.
 *
 * - A port on a kernel interface (netdev, uplink, the host vNIC) also keeps
 *   a baseline: how many frames the interface had handed the switch's side
 *   (the kernel's own counter: rx of a netdev or uplink, tx plus tx-dropped
 *   of the host's TAP) minus what the switch saw of them.  What the
 *   interface handed over beyond that baseline by the time the switch is
 *   back was handed over while no switch read it: counted as
 *   rx_drop_down.  (Up to a second of frames forwarded just before a kill
 *   -9 land there too, since their counting was lost.)  An interface that
 *   was recreated meanwhile (another ifindex, or counters that went
 *   backwards) gives no figure rather than a wrong one.
 *
 * Socket and vhost-user ports cannot be counted this way: while the switch
 * is down their frames wait in, or are dropped by, the peer (QEMU's queue,
 * the guest's ring), which is where they are counted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "vsd.h"

#define COUNTERS_FILE "counters.json"

static uint64_t last_sum = UINT64_MAX; /* what the file holds, roughly */

/* The kernel's count of frames an interface handed to the switch's side:
 * what a netdev or uplink received, what the host sent into its TAP (sent
 * or dropped for want of a reader).  Also the interface's ifindex. */
static int kernel_offered(const struct vsd_port *vp, uint64_t *out, int *ifindex)
{
	struct hn_link l;
	int r = hn_link_get_stats(vp->ifname, &l);
	if (r < 0)
		return r;
	*out = strcmp(vp->type, "host") == 0 ? l.tx_packets + l.tx_dropped : l.rx_packets;
	*ifindex = l.ifindex;
	return 0;
}

static bool on_kernel_interface(const struct vsd_port *vp)
{
	return vp->ifname[0] && (strcmp(vp->type, "netdev") == 0 ||
				 strcmp(vp->type, "uplink") == 0 || strcmp(vp->type, "host") == 0);
}

static uint64_t seen(const struct port *p)
{
	return p->stats.rx_packets + port_rx_dropped(p);
}

static json_t *stats_to_json(const struct port_stats *st)
{
	json_t *rxd = json_object(), *txd = json_object();
	for (unsigned i = 0; i < RX_DROP_MAX; i++)
		if (st->rx_drop[i])
			json_object_set_new(rxd, port_rx_drop_names[i],
					    json_integer((json_int_t)st->rx_drop[i]));
	for (unsigned i = 0; i < TX_DROP_MAX; i++)
		if (st->tx_drop[i])
			json_object_set_new(txd, port_tx_drop_names[i],
					    json_integer((json_int_t)st->tx_drop[i]));
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "rx_packets",
			 (json_int_t)st->rx_packets, "rx_bytes", (json_int_t)st->rx_bytes,
			 "tx_packets", (json_int_t)st->tx_packets, "tx_bytes",
			 (json_int_t)st->tx_bytes, "rx_flooded", (json_int_t)st->rx_flooded,
			 "tx_flooded", (json_int_t)st->tx_flooded, "rx_filtered",
			 (json_int_t)st->rx_filtered, "learn_refused", (json_int_t)st->learn_refused,
			 "resets", (json_int_t)st->resets, "rx_moderated", (json_int_t)st->rx_moderated,
			 "rx_drop", rxd, "tx_drop", txd);
}

static uint64_t get_u64(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

/* Add saved counters to a port's (which has counted nothing yet, or little). */
static void stats_add_json(struct port_stats *st, const json_t *o)
{
	st->rx_packets += get_u64(o, "rx_packets");
	st->rx_bytes += get_u64(o, "rx_bytes");
	st->tx_packets += get_u64(o, "tx_packets");
	st->tx_bytes += get_u64(o, "tx_bytes");
	st->rx_flooded += get_u64(o, "rx_flooded");
	st->tx_flooded += get_u64(o, "tx_flooded");
	st->rx_filtered += get_u64(o, "rx_filtered");
	st->learn_refused += get_u64(o, "learn_refused");
	st->resets += get_u64(o, "resets");
	st->rx_moderated += get_u64(o, "rx_moderated");
	json_t *rxd = json_object_get(o, "rx_drop"), *txd = json_object_get(o, "tx_drop");
	for (unsigned i = 0; i < RX_DROP_MAX; i++)
		st->rx_drop[i] += get_u64(rxd, port_rx_drop_names[i]);
	for (unsigned i = 0; i < TX_DROP_MAX; i++)
		st->tx_drop[i] += get_u64(txd, port_tx_drop_names[i]);
}

static uint64_t counters_sum(struct vsd *d)
{
	uint64_t s = 0;
	for (unsigned i = 0; i < d->nsw; i++) {
		struct sw *sw = d->sw[i]->sw;
		for (unsigned j = 0; j < sw->nports_cap; j++) {
			struct port *p = sw->ports[j];
			if (p && !p->anonymous)
				s += seen(p) + p->stats.tx_packets + port_tx_dropped(p) +
				     p->stats.resets + 1;
		}
	}
	return s;
}

static json_t *port_entry(struct vsd_port *vp)
{
	struct port *p = vp->port;
	json_t *o = json_pack("{s:o}", "stats", stats_to_json(&p->stats));
	uint64_t k;
	int ifindex;
	if (on_kernel_interface(vp) && kernel_offered(vp, &k, &ifindex) == 0) {
		json_object_set_new(o, "ifindex", json_integer(ifindex));
		json_object_set_new(o, "unseen", json_integer((json_int_t)(k - seen(p))));
	}
	return o;
}

int vsd_counters_save(struct vsd *d, bool force)
{
	uint64_t sum = counters_sum(d);
	if (!force && sum == last_sum)
		return 0;
	json_t *sws = json_object();
	for (unsigned i = 0; i < d->nsw; i++) {
		struct sw *sw = d->sw[i]->sw;
		json_t *ports = json_object();
		for (unsigned j = 0; j < sw->nports_cap; j++) {
			struct port *p = sw->ports[j];
			if (p && !p->anonymous)
				json_object_set_new(ports, p->name, port_entry(p->owner));
		}
		json_object_set_new(sws, sw->name, ports);
	}
	json_t *root = json_pack("{s:I, s:o}", "saved_at", (json_int_t)time(NULL), "switches", sws);
	char path[PATH_MAX + 32], tmp[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", d->statedir, COUNTERS_FILE);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", d->statedir, COUNTERS_FILE);
	int r = 0;
	if (json_dump_file(root, tmp, JSON_COMPACT) < 0 || rename(tmp, path) < 0) {
		r = -EIO;
		unlink(tmp);
	}
	json_decref(root);
	if (r == 0)
		last_sum = sum;
	return r;
}

void vsd_counters_load(struct vsd *d)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", d->statedir, COUNTERS_FILE);
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	if (!root) {
		if (access(path, F_OK) == 0)
			log_warn("counters: %s unreadable (%s); counting starts from zero", path,
				 je.text);
		return;
	}
	json_t *sws = json_object_get(root, "switches");
	json_t *at = json_object_get(root, "saved_at");
	long long down = json_is_integer(at) ? (long long)time(NULL) - json_integer_value(at) : -1;
	uint64_t total_missed = 0;
	for (unsigned i = 0; i < d->nsw; i++) {
		struct sw *sw = d->sw[i]->sw;
		json_t *ports = json_object_get(sws, sw->name);
		for (unsigned j = 0; ports && j < sw->nports_cap; j++) {
			struct port *p = sw->ports[j];
			json_t *o = p && !p->anonymous ? json_object_get(ports, p->name) : NULL;
			if (!o)
				continue;
			struct vsd_port *vp = p->owner;
			stats_add_json(&p->stats, json_object_get(o, "stats"));
			json_t *ix = json_object_get(o, "ifindex"), *un = json_object_get(o, "unseen");
			uint64_t k;
			int ifindex;
			if (!on_kernel_interface(vp) || !json_is_integer(ix) || !json_is_integer(un) ||
			    kernel_offered(vp, &k, &ifindex) < 0 || json_integer_value(ix) != ifindex)
				continue;
			uint64_t base = seen(p) + (uint64_t)json_integer_value(un);
			if (k < base)
				continue; /* the kernel's counters were reset */
			p->stats.rx_drop[RX_DROP_DOWN] += k - base;
			total_missed += k - base;
		}
	}
	if (down >= 0)
		log_info("counters restored; the last were saved %lld s ago%s", down,
			 total_missed ? "" : ", and no kernel interface missed a frame since");
	if (total_missed)
		log_warn("kernel interfaces handed over %llu frames while no switch was reading "
			 "(counted per port as rx_drop_down)",
			 (unsigned long long)total_missed);
	json_decref(root);
	last_sum = counters_sum(d);
}
