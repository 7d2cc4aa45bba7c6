/* What `switch show`, `port show`, `stats` and `fdb show` return, as JSON.
 * The CLI prints text from the same objects (one printer, no second model). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth.h"
#include "util.h"
#include "vsd.h"

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static json_t *port_stats(struct port *p)
{
	const struct port_stats *st = &p->stats;
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			      "rx_packets", (json_int_t)st->rx_packets, "rx_bytes",
			      (json_int_t)st->rx_bytes, "tx_packets", (json_int_t)st->tx_packets,
			      "tx_bytes", (json_int_t)st->tx_bytes, "rx_dropped",
			      (json_int_t)port_rx_dropped(p), "tx_dropped",
			      (json_int_t)port_tx_dropped(p), "rx_flooded",
			      (json_int_t)st->rx_flooded, "tx_flooded", (json_int_t)st->tx_flooded,
			      "rx_filtered", (json_int_t)st->rx_filtered, "learn_refused",
			      (json_int_t)st->learn_refused, "resets", (json_int_t)st->resets,
			      "rx_moderated", (json_int_t)st->rx_moderated);
	char key[48];
	for (unsigned i = 0; i < RX_DROP_MAX; i++) {
		snprintf(key, sizeof(key), "rx_drop_%s", port_rx_drop_names[i]);
		json_object_set_new(o, key, json_integer((json_int_t)st->rx_drop[i]));
	}
	for (unsigned i = 0; i < TX_DROP_MAX; i++) {
		snprintf(key, sizeof(key), "tx_drop_%s", port_tx_drop_names[i]);
		json_object_set_new(o, key, json_integer((json_int_t)st->tx_drop[i]));
	}
	if (p->sw)
		json_object_set_new(o, "macs", json_integer(fdb_port_count(p->sw->fdb, p->idx)));
	return o;
}

json_t *vsd_render_port(struct vsd_port *vp)
{
	struct port *p = vp->port;
	char *qemu = vsd_port_qemu_args(vp);
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:i, s:o, s:o}", "name",
			      vp->name, "type", vp->type, "state", port_state_name(p->state),
			      "socket", str_or_null(p->socket_path), "ifname",
			      str_or_null(vp->ifname), "connect", str_or_null(vp->connect),
			      "anonymous", p->anonymous, "max_macs", (json_int_t)vp->max_macs,
			      "qemu", str_or_null(qemu), "stats", port_stats(p));
	free(qemu);
	return o;
}

/* Ports in a stable order: host, uplink, then by name. */
static int port_cmp(const void *a, const void *b)
{
	const struct vsd_port *x = *(struct vsd_port *const *)a, *y = *(struct vsd_port *const *)b;
	int rx = strcmp(x->name, "host") == 0 ? 0 : strcmp(x->name, "uplink") == 0 ? 1 : 2;
	int ry = strcmp(y->name, "host") == 0 ? 0 : strcmp(y->name, "uplink") == 0 ? 1 : 2;
	if (rx != ry)
		return rx - ry;
	return strcmp(x->name, y->name);
}

json_t *vsd_render_ports(struct vsd_switch *vs)
{
	struct sw *sw = vs->sw;
	struct vsd_port **v = calloc(sw->nports ? sw->nports : 1, sizeof(*v));
	unsigned n = 0;
	json_t *a = json_array();
	if (!v)
		return a;
	for (unsigned i = 0; i < sw->nports_cap; i++)
		if (sw->ports[i])
			v[n++] = sw->ports[i]->owner;
	qsort(v, n, sizeof(*v), port_cmp);
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, vsd_render_port(v[i]));
	free(v);
	return a;
}

json_t *vsd_render_switch(struct vsd_switch *vs)
{
	struct sw *sw = vs->sw;
	const struct fdb_stats *fs = fdb_get_stats(sw->fdb);
	char plug[sizeof(vs->dir) + 16];
	snprintf(plug, sizeof(plug), "%s/plug.sock", vs->dir);
	json_t *stats = json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "macs",
				  (json_int_t)fdb_count(sw->fdb), "learned", (json_int_t)fs->learned,
				  "moved", (json_int_t)fs->moved, "expired", (json_int_t)fs->expired,
				  "table_full", (json_int_t)fs->refused_full, "port_limit",
				  (json_int_t)fs->refused_port_limit, "flushed",
				  (json_int_t)fs->flushed, "flooded", (json_int_t)sw->stats.flood_frames);
	char mode[8];
	snprintf(mode, sizeof(mode), "%04o", vs->sock_mode);
	json_t *access = json_pack("{s:o, s:o, s:s}", "owner",
				   vs->sock_uid > 0 ? json_integer(vs->sock_uid) : json_null(),
				   "group", vs->sock_gid > 0 ? json_integer(vs->sock_gid) : json_null(),
				   "mode", mode);
	return json_pack("{s:s, s:s, s:o, s:o, s:i, s:i, s:i, s:s, s:o, s:o, s:o}", "name",
			 sw->name, "type", sw_type_name(vs->type), "uplink", str_or_null(vs->uplink),
			 "host_nic", vs->host_nic ? json_string(sw->name) : json_null(), "mtu",
			 (json_int_t)sw->mtu, "aging", (json_int_t)vs->aging, "max_macs",
			 (json_int_t)vs->max_macs, "plug", plug, "access", access, "stats", stats,
			 "ports", vsd_render_ports(vs));
}

struct fdb_ctx {
	struct sw *sw;
	json_t *a;
};

static void fdb_entry(void *arg, uint64_t key, uint16_t port, uint32_t age)
{
	struct fdb_ctx *c = arg;
	uint8_t mac[6];
	char buf[18];
	eth_addr_from_u64(key & 0xffffffffffffull, mac);
	eth_addr_format(mac, buf);
	struct port *p = port < c->sw->nports_cap ? c->sw->ports[port] : NULL;
	json_array_append_new(c->a, json_pack("{s:s, s:i, s:s, s:i}", "mac", buf, "vlan",
					      (json_int_t)(key >> 48), "port", p ? p->name : "?",
					      "age", (json_int_t)age));
}

static int fdb_cmp(const void *a, const void *b)
{
	json_t *const *x = a, *const *y = b;
	int c = strcmp(json_string_value(json_object_get(*x, "port")),
		       json_string_value(json_object_get(*y, "port")));
	return c ? c : strcmp(json_string_value(json_object_get(*x, "mac")),
			      json_string_value(json_object_get(*y, "mac")));
}

json_t *vsd_render_fdb(struct vsd_switch *vs)
{
	struct fdb_ctx c = { vs->sw, json_array() };
	fdb_foreach(vs->sw->fdb, mono_seconds(), fdb_entry, &c);
	/* Sorted by port, then MAC, so that output is stable. */
	size_t n = json_array_size(c.a);
	json_t **v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return c.a;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(c.a, i));
	qsort(v, n, sizeof(*v), fdb_cmp);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, v[i]);
	free(v);
	json_decref(c.a);
	return out;
}
