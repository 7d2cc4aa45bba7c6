/* Switches: create, delete, restore at start.
 *
 * external = uplink port (AF_PACKET on the NIC) + host vNIC (TAP named after
 *            the switch, taking over the NIC's MAC, addresses and routes)
 *            unless --no-host-nic;
 * internal = host vNIC only;  private = neither.
 *
 * Creating an external switch, step by step (each undone on failure, in
 * reverse):  1. save what the uplink has (write-ahead, in the state file);
 * 2. create the vNIC with the uplink's MAC;  3. attach the uplink;  4. take
 * the uplink off the host's stack (its addresses and routes go);  5. put the
 * addresses and routes on the vNIC.  Deleting moves the vNIC's addresses and
 * routes (the current ones: DHCP may have renewed) back to the uplink.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if_arp.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eth.h"
#include "log.h"
#include "port-tap.h"
#include "util.h"
#include "vsd.h"

struct vsd_switch *vsd_switch_find(struct vsd *d, const char *name)
{
	for (unsigned i = 0; i < d->nsw; i++)
		if (strcmp(d->sw[i]->sw->name, name) == 0)
			return d->sw[i];
	return NULL;
}

static int add_record(struct vsd *d, struct vsd_switch *vs)
{
	struct vsd_switch **n = realloc(d->sw, (d->nsw + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	d->sw = n;
	d->sw[d->nsw++] = vs;
	return 0;
}

static void remove_record(struct vsd *d, struct vsd_switch *vs)
{
	for (unsigned i = 0; i < d->nsw; i++) {
		if (d->sw[i] == vs) {
			memmove(&d->sw[i], &d->sw[i + 1], (d->nsw - i - 1) * sizeof(*d->sw));
			d->nsw--;
			return;
		}
	}
}

static struct vsd_switch *vs_new(struct vsd *d, const struct vsd_switch_opts *o,
				 struct vsd_err *e)
{
	struct vsd_switch *vs = calloc(1, sizeof(*vs));
	if (!vs)
		return NULL;
	vs->sw = sw_new(o->name, o->type, o->mtu, o->max_macs, o->aging);
	if (!vs->sw) {
		free(vs);
		return NULL;
	}
	vs->sw->owner = vs;
	vs->type = o->type;
	vs->d = d;
	vs->aging = o->aging;
	vs->max_macs = o->max_macs;
	vs->sock_uid = o->sock_uid > 0 ? o->sock_uid : -1;
	vs->sock_gid = o->sock_gid > 0 ? o->sock_gid : -1;
	vs->sock_mode = o->sock_mode ? o->sock_mode : 0660;
	vs->plug_fd = -1;
	loop_watch_init(&vs->plug_w);
	vs->host_nic = o->type == SW_INTERNAL || (o->type == SW_EXTERNAL && !o->no_host_nic);
	if (o->uplink)
		snprintf(vs->uplink, sizeof(vs->uplink), "%s", o->uplink);
	snprintf(vs->dir, sizeof(vs->dir), "%s/%s", d->rundir, o->name);
	return vs;
}

static void vs_free(struct vsd_switch *vs)
{
	sw_free(vs->sw);
	free(vs);
}

static struct vsd_port *special_port(struct vsd_switch *vs, const char *name)
{
	return vsd_port_find(vs, name);
}

/* Close every port; with restore, netdev ports give their interface back. */
static void close_ports(struct vsd_switch *vs, bool restore)
{
	struct sw *sw = vs->sw;
	for (unsigned i = 0; i < sw->nports_cap; i++) {
		struct port *p = sw->ports[i];
		if (p)
			vsd_port_close(p->owner, restore);
	}
}

static int open_host_nic(struct vsd_switch *vs, const uint8_t *mac, struct vsd_err *e)
{
	const char *name = vs->sw->name;
	struct hn_link l;
	bool existed = hn_link_get(name, &l) == 0;
	struct vsd_port_opts o = { .sw = name, .name = "host", .type = "host", .ifname = name };
	struct vsd_port *vp;
	int r = vsd_port_open(vs, &o, -1, false, &vp, e);
	if (r < 0)
		return r;
	if (existed) {
		/* Adopted as it is; remember its MAC in case it must be remade. */
		memcpy(vs->host_mac, l.mac, 6);
		vs->has_host_mac = true;
		return 0;
	}
	/* A new vNIC: the uplink's MAC, or the one it had before. */
	if (!mac && vs->has_host_mac)
		mac = vs->host_mac;
	r = hn_link_get(name, &l);
	if (r == 0 && mac)
		r = hn_link_set_mac(l.ifindex, mac);
	if (r == 0 && !mac) {
		memcpy(vs->host_mac, l.mac, 6);
		vs->has_host_mac = true;
	} else if (r == 0) {
		memcpy(vs->host_mac, mac, 6);
		vs->has_host_mac = true;
	}
	if (r == 0)
		r = hn_link_set_mtu(l.ifindex, vs->sw->mtu);
	if (r == 0)
		r = hn_link_set_up(l.ifindex, true);
	if (r < 0) {
		vsd_port_close(vp, false);
		tap_destroy(name);
		return vsd_fail(e, r, "setting up the host vNIC %s: %s", name, strerror(-r));
	}
	return 1; /* created */
}

static void close_host_nic(struct vsd_switch *vs, bool destroy)
{
	struct vsd_port *vp = special_port(vs, "host");
	if (vp)
		vsd_port_close(vp, false);
	if (destroy && vs->host_nic) {
		int r = tap_destroy(vs->sw->name);
		if (r < 0)
			log_warn("switch %s: removing the host vNIC: %s", vs->sw->name, strerror(-r));
	}
}

/* The switch's directory stays root's, so nobody else can plant files (a
 * symlink where a socket will be) in it; its group and "other" bits let
 * through whoever the socket mode lets in: traverse, no listing for others. */
static int dir_perms(struct vsd_switch *vs)
{
	mode_t m = 0700;
	if (vs->sock_mode & 0060)
		m |= 0050;
	if ((vs->sock_mode & 0006) || vs->sock_uid > 0)
		m |= 0001;
	gid_t g = vs->sock_gid > 0 ? (gid_t)vs->sock_gid : 0;
	if (lchown(vs->dir, 0, g) < 0 || chmod(vs->dir, m) < 0)
		return -errno;
	return 0;
}

int vsd_switch_socket_perms(struct vsd_switch *vs, const char *path)
{
	uid_t u = vs->sock_uid > 0 ? (uid_t)vs->sock_uid : 0;
	gid_t g = vs->sock_gid > 0 ? (gid_t)vs->sock_gid : 0;
	/* The directory is root's: no one can have swapped the socket for a
	 * link, and lchown would not follow one anyway. */
	if (lchown(path, u, g) < 0 || chmod(path, vs->sock_mode) < 0)
		return -errno;
	return 0;
}

static int make_dir(struct vsd_switch *vs, struct vsd_err *e)
{
	struct stat st;
	if (mkdir(vs->dir, 0700) < 0 && errno != EEXIST)
		return vsd_fail(e, -errno, "creating %s: %s", vs->dir, strerror(errno));
	if (lstat(vs->dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0)
		return vsd_fail(e, -EEXIST, "%s exists and is not root's directory", vs->dir);
	int r = dir_perms(vs);
	if (r < 0)
		return vsd_fail(e, r, "setting the permissions of %s: %s", vs->dir, strerror(-r));
	return 0;
}

int vsd_switch_set_access(struct vsd *d, const char *name, int64_t uid, int64_t gid,
			  unsigned mode, struct vsd_err *e)
{
	struct vsd_switch *vs = vsd_switch_find(d, name);
	if (!vs)
		return vsd_fail(e, -ENOENT, "no switch named '%s'", name);
	if (mode & ~0777u)
		return vsd_fail(e, -EINVAL, "--mode takes permission bits only (e.g. 0660)");
	int64_t ou = vs->sock_uid, og = vs->sock_gid;
	unsigned om = vs->sock_mode;
	if (uid >= 0)
		vs->sock_uid = uid > 0 ? uid : -1;
	if (gid >= 0)
		vs->sock_gid = gid > 0 ? gid : -1;
	if (mode)
		vs->sock_mode = mode;
	int r = dir_perms(vs);
	char path[sizeof(vs->dir) + 16];
	snprintf(path, sizeof(path), "%s/plug.sock", vs->dir);
	if (r == 0 && vs->plug_fd >= 0)
		r = vsd_switch_socket_perms(vs, path);
	for (unsigned i = 0; r == 0 && i < vs->sw->nports_cap; i++) {
		struct port *p = vs->sw->ports[i];
		if (p && p->socket_path[0])
			r = vsd_switch_socket_perms(vs, p->socket_path);
	}
	if (r == 0)
		r = vsd_state_save(d, e);
	else
		vsd_fail(e, r, "changing the owner or mode of %s's sockets: %s", name, strerror(-r));
	if (r < 0) {
		vs->sock_uid = ou;
		vs->sock_gid = og;
		vs->sock_mode = om;
		struct vsd_err e2;
		vsd_switch_set_access(d, name, -1, -1, 0, &e2); /* put the old ones back */
	}
	return r;
}

int vsd_switch_repair(struct vsd *d, const char *name, struct vsd_err *e)
{
	struct vsd_switch *vs = vsd_switch_find(d, name);
	if (!vs)
		return vsd_fail(e, -ENOENT, "no switch named '%s'", name);
	if (!vs->host_nic)
		return vsd_fail(e, -EINVAL, "switch %s has no host vNIC to repair", name);
	struct vsd_port *hp = special_port(vs, "host");
	struct hn_link l;
	bool exists = hn_link_get(name, &l) == 0;
	if (hp && hp->port->state == PORT_UP && exists)
		return 0; /* nothing to repair */
	if (exists && strcmp(l.kind, "tun") != 0)
		return vsd_fail(e, -EEXIST,
				"an interface named %s exists and is not a TAP; remove it first", name);
	if (hp)
		vsd_port_close(hp, false);
	struct vsd_port *uplink = special_port(vs, "uplink");
	struct hn_link upl;
	const uint8_t *mac = uplink && hn_link_get(vs->uplink, &upl) == 0 ? upl.mac : NULL;
	int r = open_host_nic(vs, mac, e);
	if (r < 0)
		return r;
	if (r == 1 && uplink && uplink->saved.valid && hn_link_get(name, &l) == 0) {
		r = vsd_apply_moved(l.ifindex, &uplink->saved.cfg);
		if (r < 0)
			return vsd_fail(e, r, "host vNIC %s recreated, but its addresses: %s", name,
					strerror(-r));
	}
	log_info("switch %s: host vNIC repaired", name);
	return 0;
}

static void describe_addrs(const struct hn_ifconfig *c, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = 0;
	for (size_t i = 0; i < c->n_addrs; i++) {
		char a[INET6_ADDRSTRLEN];
		if (!inet_ntop(c->addrs[i].family, c->addrs[i].addr, a, sizeof(a)))
			continue;
		int n = snprintf(buf + off, len - off, "%s%s/%u", off ? ", " : "", a,
				 c->addrs[i].prefixlen);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

static int check_opts(struct vsd *d, const struct vsd_switch_opts *o, struct vsd_err *e)
{
	if (!vs_name_valid(o->name))
		return vsd_fail(e, -EINVAL,
				"invalid switch name '%s': use 1 to 15 characters of A-Z a-z 0-9 _ . -",
				o->name);
	if (vsd_switch_find(d, o->name))
		return vsd_fail(e, -EEXIST, "a switch named %s already exists", o->name);
	if (strcmp(o->name, "vswitchd.sock") == 0 || strcmp(o->name, "vswitchd.lock") == 0)
		return vsd_fail(e, -EINVAL, "switch name '%s' is reserved", o->name);
	if (o->mtu < 68 || o->mtu > 9000)
		return vsd_fail(e, -EINVAL, "--mtu must be between 68 and 9000");
	if (o->aging < 1 || o->aging > 1000000)
		return vsd_fail(e, -EINVAL, "--aging must be between 1 and 1000000 seconds");
	if (o->max_macs < 1 || o->max_macs > 16777216)
		return vsd_fail(e, -EINVAL, "--max-macs must be between 1 and 16777216");
	if (o->type == SW_EXTERNAL && !o->uplink)
		return vsd_fail(e, -EINVAL, "an external switch needs --uplink IFNAME");
	if (o->type != SW_EXTERNAL && o->uplink)
		return vsd_fail(e, -EINVAL, "--uplink is only for external switches");
	if (o->type != SW_EXTERNAL && o->no_host_nic)
		return vsd_fail(e, -EINVAL,
				"--no-host-nic is only for external switches (a private switch has none)");
	bool nic = o->type == SW_INTERNAL || (o->type == SW_EXTERNAL && !o->no_host_nic);
	struct hn_link l;
	if (nic && hn_link_get(o->name, &l) == 0)
		return vsd_fail(e, -EEXIST,
				"an interface named %s already exists; the host vNIC needs that name",
				o->name);
	return 0;
}

int vsd_switch_create(struct vsd *d, const struct vsd_switch_opts *o, struct vsd_err *e)
{
	int r = check_opts(d, o, e);
	if (r < 0)
		return r;
	struct vsd_saved saved = { 0 };
	struct hn_link up;
	if (o->type == SW_EXTERNAL) {
		/* check_attachable() lives with the ports; same rules. */
		if (!vs_name_valid(o->uplink))
			return vsd_fail(e, -EINVAL, "invalid interface name '%s'", o->uplink);
		r = hn_link_get(o->uplink, &up);
		if (r < 0)
			return vsd_fail(e, r, "no interface named %s", o->uplink);
		if (up.type != ARPHRD_ETHER || (up.flags & IFF_LOOPBACK))
			return vsd_fail(e, -EINVAL, "%s is not an Ethernet interface", o->uplink);
		if (vsd_ifname_in_use(d, o->uplink))
			return vsd_fail(e, -EBUSY, "%s is already attached to a switch", o->uplink);
		if (up.master)
			return vsd_fail(e, -EBUSY, "%s is enslaved to a bridge or bond; release it first",
					o->uplink);
		r = vsd_saved_capture(o->uplink, &saved, e);
		if (r < 0)
			return r;
		if (saved.cfg.n_addrs && !o->yes) {
			char addrs[256];
			describe_addrs(&saved.cfg, addrs, sizeof(addrs));
			e->code = "confirm";
			vsd_fail(e, -EAGAIN,
				 o->no_host_nic
					 ? "%s has addresses (%s); a switch without a host vNIC takes "
					   "them off the host (they are kept and given back on delete), "
					   "and the host loses connectivity on %s"
					 : "%s has addresses (%s); they and its routes move to the new "
					   "host vNIC %s, interrupting connectivity on it briefly",
				 o->uplink, addrs, o->no_host_nic ? o->uplink : o->name);
			vsd_saved_free(&saved);
			return -EAGAIN;
		}
	}

	struct vsd_switch *vs = vs_new(d, o, e);
	if (!vs) {
		vsd_saved_free(&saved);
		return vsd_fail(e, -ENOMEM, "out of memory");
	}
	r = make_dir(vs, e);
	if (r < 0)
		goto err_free;
	r = add_record(d, vs);
	if (r < 0) {
		vsd_fail(e, r, "out of memory");
		goto err_dir;
	}
	struct vsd_port *uplink = NULL;
	if (o->type == SW_EXTERNAL) {
		/* The uplink record carries the saved host state: open it
		 * first so that the write-ahead save below includes it. */
		struct vsd_port_opts po = { .sw = o->name, .name = "uplink", .type = "uplink",
					    .ifname = o->uplink };
		r = vsd_port_open(vs, &po, -1, false, &uplink, e);
		if (r < 0)
			goto err_record;
		uplink->saved = saved;
		memset(&saved, 0, sizeof(saved));
	}
	r = vsd_state_save(d, e);
	if (r < 0)
		goto err_uplink;
	if (vs->host_nic) {
		r = open_host_nic(vs, o->type == SW_EXTERNAL ? up.mac : NULL, e);
		if (r < 0)
			goto err_uplink;
		if (fault_fail("create-host-nic")) {
			r = vsd_fail(e, -EIO, "injected fault after creating the host vNIC");
			goto err_restore_uplink;
		}
	}
	if (uplink) {
		r = vsd_iface_strip(o->uplink, &uplink->saved);
		if (r == 0 && fault_fail("create-strip"))
			r = -EIO;
		if (r < 0) {
			vsd_fail(e, r, "taking %s off the host stack: %s", o->uplink, strerror(-r));
			goto err_restore_uplink;
		}
		if (vs->host_nic && uplink->saved.cfg.n_addrs + uplink->saved.cfg.n_routes) {
			struct hn_link nic;
			r = hn_link_get(o->name, &nic);
			if (r == 0)
				r = vsd_apply_moved(nic.ifindex, &uplink->saved.cfg);
			if (r == 0 && fault_fail("create-move")) {
				hn_ifconfig_remove(nic.ifindex, &uplink->saved.cfg);
				r = -EIO;
			}
			if (r < 0) {
				vsd_fail(e, r, "moving the addresses of %s to %s: %s", o->uplink,
					 o->name, strerror(-r));
				goto err_restore_uplink;
			}
		}
	}
	r = vsd_plug_listen(vs, e);
	if (r == 0 && fault_fail("create-plug")) {
		vsd_plug_close(vs);
		r = vsd_fail(e, -EIO, "injected fault at the plug socket");
	}
	if (r < 0)
		goto err_move_back;
	r = vsd_state_save(d, e);
	if (r < 0)
		goto err_plug;
	log_info("switch %s (%s) created%s%s", o->name, sw_type_name(o->type),
		 uplink ? " on uplink " : "", uplink ? o->uplink : "");
	return 0;

err_plug:
	vsd_plug_close(vs);
err_move_back:
	if (uplink && vs->host_nic) {
		struct hn_link nic;
		if (hn_link_get(o->name, &nic) == 0)
			hn_ifconfig_remove(nic.ifindex, &uplink->saved.cfg);
	}
err_restore_uplink:
	if (uplink)
		vsd_iface_restore(o->uplink, &uplink->saved, NULL);
	close_host_nic(vs, true);
err_uplink:
	if (uplink) {
		vsd_saved_free(&uplink->saved); /* given back above, or never taken */
		vsd_port_close(uplink, false);
	}
err_record:
	remove_record(d, vs);
	{
		struct vsd_err e2;
		vsd_state_save(d, &e2);
	}
err_dir:
	rmdir(vs->dir);
err_free:
	vsd_saved_free(&saved);
	vs_free(vs);
	return r;
}

int vsd_switch_delete(struct vsd *d, const char *name, struct vsd_err *e)
{
	struct vsd_switch *vs = vsd_switch_find(d, name);
	int r;
	if (!vs)
		return vsd_fail(e, -ENOENT, "no switch named '%s'", name);
	struct vsd_port *uplink = special_port(vs, "uplink");
	if (uplink && uplink->saved.valid) {
		/* Give the uplink what the host has now on the vNIC (it may
		 * have changed since: DHCP, the user), or what was saved. */
		struct hn_ifconfig now = { 0 };
		struct hn_link nic;
		bool from_nic = vs->host_nic && hn_link_get(name, &nic) == 0 &&
				hn_ifconfig_get(nic.ifindex, &now) == 0;
		const struct hn_ifconfig *cfg = from_nic ? &now : &uplink->saved.cfg;
		if (from_nic)
			hn_ifconfig_remove(nic.ifindex, &now);
		r = vsd_iface_restore(vs->uplink, &uplink->saved, cfg);
		if (r < 0 && r != -ENODEV) {
			/* Put everything back as it was: keep the switch. */
			if (from_nic)
				vsd_apply_moved(nic.ifindex, &now);
			vsd_iface_strip(vs->uplink, &uplink->saved);
			hn_ifconfig_free(&now);
			return vsd_fail(e, r,
					"could not give the addresses back to %s (%s); the switch "
					"is kept as it was",
					vs->uplink, strerror(-r));
		}
		if (r == -ENODEV)
			log_warn("switch %s: uplink %s is gone; its saved addresses are dropped",
				 name, vs->uplink);
		hn_ifconfig_free(&now);
		vsd_saved_free(&uplink->saved);
	}
	vsd_plug_close(vs);
	close_host_nic(vs, true);
	close_ports(vs, true);
	rmdir(vs->dir);
	remove_record(d, vs);
	vs_free(vs);
	log_info("switch %s deleted", name);
	return vsd_state_save(d, e);
}

void vsd_switch_close_all(struct vsd *d)
{
	for (unsigned i = 0; i < d->nsw; i++) {
		struct vsd_switch *vs = d->sw[i];
		vsd_plug_close(vs);
		close_ports(vs, false);
		rmdir(vs->dir);
		vs_free(vs);
	}
	free(d->sw);
	d->sw = NULL;
	d->nsw = 0;
}

/* ---- restore from the state file ---- */

static int get_uint(const json_t *o, const char *k, uint32_t *out)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 0xffffffffLL)
		return -EINVAL;
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static const char *get_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int vsd_switch_restore(struct vsd *d, const json_t *rec, struct vsd_err *e)
{
	struct vsd_switch_opts o = { .name = get_str(rec, "name") };
	const char *type = get_str(rec, "type");
	uint32_t mtu;
	int r;
	if (!o.name || !type || sw_type_parse(type, &o.type) < 0 || get_uint(rec, "mtu", &mtu) ||
	    get_uint(rec, "aging", &o.aging) || get_uint(rec, "max_macs", &o.max_macs))
		return vsd_fail(e, -EINVAL, "malformed switch record");
	o.mtu = mtu;
	/* Access settings (absent in older records: root, 0660). */
	json_t *su = json_object_get(rec, "sock_uid"), *sg = json_object_get(rec, "sock_gid");
	json_t *sm = json_object_get(rec, "sock_mode");
	o.sock_uid = json_is_integer(su) ? json_integer_value(su) : -1;
	o.sock_gid = json_is_integer(sg) ? json_integer_value(sg) : -1;
	o.sock_mode = json_is_integer(sm) ? (unsigned)json_integer_value(sm) : 0660;
	if (o.sock_uid > 0xfffffffeLL || o.sock_gid > 0xfffffffeLL || (o.sock_mode & ~0777u) ||
	    !o.sock_mode)
		return vsd_fail(e, -EINVAL, "switch %s: invalid socket access settings",
				o.name ? o.name : "?");
	o.uplink = get_str(rec, "uplink");
	const char *hmac = get_str(rec, "host_mac");
	o.no_host_nic = !json_is_true(json_object_get(rec, "host_nic"));
	json_t *ports = json_object_get(rec, "ports");
	if (!json_is_array(ports))
		return vsd_fail(e, -EINVAL, "switch %s: malformed ports", o.name);
	/* The same checks as a create, but the vNIC may exist: it is ours. */
	if (!vs_name_valid(o.name) || vsd_switch_find(d, o.name) || o.mtu < 68 || o.mtu > 9000 ||
	    o.aging < 1 || o.max_macs < 1 || (o.type == SW_EXTERNAL) != (o.uplink != NULL) ||
	    (o.uplink && !vs_name_valid(o.uplink)))
		return vsd_fail(e, -EINVAL, "switch %s: invalid settings", o.name);
	struct vsd_saved saved;
	if (vsd_saved_from_json(json_object_get(rec, "uplink_saved"), &saved) < 0)
		return vsd_fail(e, -EINVAL, "switch %s: malformed saved uplink state", o.name);

	struct vsd_switch *vs = vs_new(d, &o, e);
	if (!vs) {
		vsd_saved_free(&saved);
		return vsd_fail(e, -ENOMEM, "out of memory");
	}
	if (hmac && eth_addr_parse(hmac, vs->host_mac) == 0)
		vs->has_host_mac = true;
	if ((r = make_dir(vs, e)) < 0 || (r = add_record(d, vs)) < 0) {
		vsd_saved_free(&saved);
		vs_free(vs);
		return r;
	}
	if (vs->host_nic) {
		struct hn_link l;
		const uint8_t *mac = NULL;
		struct hn_link upl;
		if (o.uplink && hn_link_get(o.uplink, &upl) == 0)
			mac = upl.mac;
		r = open_host_nic(vs, mac, e);
		if (r < 0) {
			log_error("switch %s: host vNIC: %s", o.name, e->msg);
		} else if (r == 1 && saved.valid && hn_link_get(o.name, &l) == 0) {
			/* It was gone: a new vNIC gets the uplink's saved
			 * addresses, so the host is connected again. */
			log_warn("switch %s: host vNIC was missing; recreated it", o.name);
			vsd_apply_moved(l.ifindex, &saved.cfg);
		}
	}
	if (o.uplink) {
		struct vsd_port_opts po = { .sw = o.name, .name = "uplink", .type = "uplink",
					    .ifname = o.uplink };
		struct vsd_port *vp;
		r = vsd_port_open(vs, &po, -1, true, &vp, e);
		if (r < 0) {
			log_error("switch %s: uplink: %s", o.name, e->msg);
			vsd_saved_free(&saved);
		} else {
			vp->saved = saved;
			if (vp->port->state == PORT_UP && saved.valid)
				vsd_iface_strip(o.uplink, &saved);
		}
	}
	size_t i;
	json_t *pr;
	json_array_foreach(ports, i, pr)
	{
		struct vsd_port_opts po = {
			.sw = o.name,
			.name = get_str(pr, "name"),
			.type = get_str(pr, "type"),
			.connect = get_str(pr, "connect"),
			.ifname = get_str(pr, "ifname"),
		};
		struct vsd_saved ps;
		if (!po.name || !po.type || !vs_name_valid(po.name) ||
		    vsd_port_name_reserved(po.name) || vsd_port_find(vs, po.name) ||
		    vsd_saved_from_json(json_object_get(pr, "saved"), &ps) < 0) {
			log_error("switch %s: skipping a malformed port record", o.name);
			continue;
		}
		struct vsd_port *vp;
		struct vsd_err pe;
		if (vsd_port_open(vs, &po, -1, true, &vp, &pe) < 0) {
			log_error("switch %s: port %s: %s", o.name, po.name, pe.msg);
			vsd_saved_free(&ps);
			continue;
		}
		vp->named = true;
		vp->saved = ps;
		if (ps.valid && vp->port->state == PORT_UP)
			vsd_iface_strip(vp->ifname, &ps);
		json_t *mm = json_object_get(pr, "max_macs");
		if (json_is_integer(mm) && json_integer_value(mm) > 0 &&
		    json_integer_value(mm) <= 16777216) {
			vp->max_macs = (uint32_t)json_integer_value(mm);
			fdb_set_port_limit(vs->sw->fdb, vp->port->idx, vp->max_macs);
		}
	}
	r = vsd_plug_listen(vs, e);
	if (r < 0)
		log_error("switch %s: %s", o.name, e->msg);
	log_info("switch %s (%s) restored with %u ports", o.name, type, vs->sw->nports);
	return 0;
}
