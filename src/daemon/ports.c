/* Ports, as the daemon sees them: which backend a type means, what a user may
 * name and attach, the host state an attached interface had, the plug.sock
 * listener that turns each connection into an anonymous port, and the QEMU
 * arguments that plug a VM in. */
#include <errno.h>
#include <linux/if_addr.h>
#include <net/if_arp.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "port-afpacket.h"
#include "port-dgram.h"
#include "port-stream.h"
#include "port-tap.h"
#include "port-vhost-user.h"
#include "util.h"
#include "vsd.h"

struct port_type {
	const char *type;
	const struct port_ops *ops;
	bool user;	   /* may be given to `port add` */
	bool can_connect;  /* takes --connect */
	bool needs_ifname; /* takes --ifname (required) */
};

static const struct port_type port_types[] = {
	{ "stream", &port_stream_ops, true, true, false },
	{ "dgram", &port_dgram_ops, true, false, false },
	{ "netdev", &port_netdev_ops, true, false, true },
	{ "vhost-user", &port_vhost_user_ops, true, true, false },
	{ "host", &port_tap_ops, false, false, true },
	{ "uplink", &port_uplink_ops, false, false, true },
};

static const struct port_type *port_type_find(const char *type)
{
	for (unsigned i = 0; i < ARRAY_SIZE(port_types); i++)
		if (strcmp(port_types[i].type, type) == 0)
			return &port_types[i];
	return NULL;
}

int vsd_fail(struct vsd_err *e, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return r < 0 ? r : -EINVAL;
}

bool vsd_port_name_reserved(const char *name)
{
	return strcmp(name, "host") == 0 || strcmp(name, "uplink") == 0 ||
	       strcmp(name, "plug") == 0 || strncmp(name, "plug-", 5) == 0;
}

struct vsd_port *vsd_port_find(struct vsd_switch *vs, const char *name)
{
	struct port *p = sw_port_find(vs->sw, name);
	return p ? p->owner : NULL;
}

/* ---- the host side of attached interfaces ---- */

void vsd_saved_free(struct vsd_saved *s)
{
	hn_ifconfig_free(&s->cfg);
	memset(s, 0, sizeof(*s));
}

int vsd_saved_capture(const char *ifname, struct vsd_saved *out, struct vsd_err *e)
{
	struct hn_link l;
	int r = hn_link_get(ifname, &l);
	if (r < 0)
		return vsd_fail(e, r, "interface %s: %s", ifname, strerror(-r));
	struct vsd_saved s = { .valid = true, .was_up = (l.flags & IFF_UP) != 0 };
	r = hn_ifconfig_get(l.ifindex, &s.cfg);
	if (r < 0)
		return vsd_fail(e, r, "reading the addresses of %s: %s", ifname, strerror(-r));
	r = hn_sysctls_get(ifname, &s.sysctls);
	if (r < 0) {
		hn_ifconfig_free(&s.cfg);
		return vsd_fail(e, r, "reading the settings of %s: %s", ifname, strerror(-r));
	}
	*out = s;
	return 0;
}

json_t *vsd_saved_to_json(const struct vsd_saved *s)
{
	if (!s->valid)
		return json_null();
	return json_pack("{s:o, s:o, s:b}", "ifconfig", hn_ifconfig_to_json(&s->cfg), "sysctls",
			 hn_sysctls_to_json(&s->sysctls), "was_up", s->was_up);
}

int vsd_saved_from_json(const json_t *j, struct vsd_saved *out)
{
	memset(out, 0, sizeof(*out));
	if (!j || json_is_null(j))
		return 0;
	const json_t *up = json_object_get(j, "was_up");
	if (!json_is_object(j) || !json_is_boolean(up))
		return -EINVAL;
	struct vsd_saved s = { .valid = true, .was_up = json_is_true(up) };
	if (hn_ifconfig_from_json(json_object_get(j, "ifconfig"), &s.cfg) < 0)
		return -EINVAL;
	if (hn_sysctls_from_json(json_object_get(j, "sysctls"), &s.sysctls) < 0) {
		hn_ifconfig_free(&s.cfg);
		return -EINVAL;
	}
	*out = s;
	return 0;
}

/* Keep the host's own IP stack off an interface the switch owns: no ARP
 * replies for the host's addresses, no IPv6, no addresses or routes.
 * Otherwise the host answers a VM's ARP on the interface itself and traffic
 * bypasses the switch.  And GRO on: the kernel joins a TCP flow's segments
 * into one frame before the switch reads it, and splits them again (or the
 * next device does, with TSO) where it leaves; a veth has it off by default,
 * and a switch reading 1,500-byte frames one by one is 3 times slower
 * (bench/udp-probe.sh, PROBE_TCP=off).  Idempotent. */
int vsd_iface_strip(const char *ifname, const struct vsd_saved *saved)
{
	struct hn_link l;
	int r = hn_link_get(ifname, &l);
	if (r < 0)
		return r;
	struct hn_sysctls off = { .arp_ignore = 8, .disable_ipv6 = 1, .gro = 1 };
	if (saved->sysctls.disable_ipv6 < 0)
		off.disable_ipv6 = -1;
	if (saved->sysctls.gro < 0)
		off.gro = -1;
	r = hn_sysctls_set(ifname, &off);
	if (r < 0)
		return r;
	struct hn_ifconfig cur;
	r = hn_ifconfig_get(l.ifindex, &cur);
	if (r < 0)
		return r;
	r = hn_ifconfig_remove(l.ifindex, &cur);
	hn_ifconfig_free(&cur);
	if (r < 0)
		return r;
	return (l.flags & IFF_UP) ? 0 : hn_link_set_up(l.ifindex, true);
}

/* Put addresses and routes that the host had on another interface of the
 * same link onto this one.  IPv6 addresses skip duplicate address detection
 * (IFA_F_NODAD): they were in use on this link a moment ago, and the kernel
 * refuses a route with an IPv6 source address while DAD runs. */
int vsd_apply_moved(int ifindex, const struct hn_ifconfig *cfg)
{
	struct hn_ifconfig c = *cfg;
	struct hn_addr *addrs = NULL;
	if (cfg->n_addrs) {
		addrs = malloc(cfg->n_addrs * sizeof(*addrs));
		if (!addrs)
			return -ENOMEM;
		memcpy(addrs, cfg->addrs, cfg->n_addrs * sizeof(*addrs));
		for (size_t i = 0; i < cfg->n_addrs; i++)
			if (addrs[i].family == AF_INET6)
				addrs[i].flags |= IFA_F_NODAD;
		c.addrs = addrs;
	}
	int r = hn_ifconfig_apply(ifindex, &c);
	free(addrs);
	return r;
}

/* Give an interface back to the host: its settings, then the addresses and
 * routes of cfg (the saved ones if NULL; the caller may have newer, e.g. the
 * host vNIC's current ones), then its up/down state.  Routes need the link
 * up while they are added; a link that was down had none. */
int vsd_iface_restore(const char *ifname, const struct vsd_saved *saved,
		      const struct hn_ifconfig *cfg)
{
	if (!saved->valid)
		return 0;
	struct hn_link l;
	int r = hn_link_get(ifname, &l);
	if (r < 0)
		return r;
	/* IPv6 back on first, or its addresses cannot be added. */
	r = hn_sysctls_set(ifname, &saved->sysctls);
	if (r < 0)
		return r;
	if (!(l.flags & IFF_UP) && (r = hn_link_set_up(l.ifindex, true)) < 0)
		return r;
	r = vsd_apply_moved(l.ifindex, cfg ? cfg : &saved->cfg);
	if (r < 0)
		return r;
	return saved->was_up ? 0 : hn_link_set_up(l.ifindex, false);
}

/* ---- ports ---- */

struct deferred_remove {
	char sw[16], port[16];
	struct vsd *d;
};

static void remove_deferred(void *arg)
{
	struct deferred_remove *dr = arg;
	struct vsd_switch *vs = vsd_switch_find(dr->d, dr->sw);
	struct vsd_port *vp = vs ? vsd_port_find(vs, dr->port) : NULL;
	if (vp && vp->port->anonymous && vp->port->state != PORT_UP) {
		log_info("switch %s: port %s removed (peer left)", dr->sw, dr->port);
		vsd_port_close(vp, false);
	}
	free(dr);
}

static void on_port_state(struct port *p, enum port_state old)
{
	struct vsd_port *vp = p->owner;
	if (!vp || !vp->vs)
		return;
	if (p->anonymous && p->state != PORT_UP) {
		struct deferred_remove *dr = calloc(1, sizeof(*dr));
		if (!dr)
			return;
		snprintf(dr->sw, sizeof(dr->sw), "%s", vp->vs->sw->name);
		snprintf(dr->port, sizeof(dr->port), "%s", p->name);
		dr->d = vp->vs->d;
		if (loop_defer(vp->vs->d->loop, remove_deferred, dr) < 0)
			free(dr);
		return;
	}
	/* An interface that came back is a new interface: take it off the
	 * host's stack again. */
	if (p->state == PORT_UP && old != PORT_UP && vp->saved.valid && p->sw) {
		int r = vsd_iface_strip(vp->ifname, &vp->saved);
		if (r < 0)
			log_warn("port %s: could not take %s off the host stack: %s", p->name,
				 vp->ifname, strerror(-r));
	}
}

static bool is_tap_of_switch(struct vsd *d, const char *ifname)
{
	for (unsigned i = 0; i < d->nsw; i++)
		if (d->sw[i]->host_nic && strcmp(d->sw[i]->sw->name, ifname) == 0)
			return true;
	return false;
}

bool vsd_ifname_in_use(struct vsd *d, const char *ifname)
{
	if (is_tap_of_switch(d, ifname))
		return true;
	for (unsigned i = 0; i < d->nsw; i++) {
		struct sw *sw = d->sw[i]->sw;
		if (d->sw[i]->uplink[0] && strcmp(d->sw[i]->uplink, ifname) == 0)
			return true;
		for (unsigned j = 0; j < sw->nports_cap; j++) {
			struct port *p = sw->ports[j];
			if (p && p->owner && strcmp(((struct vsd_port *)p->owner)->ifname, ifname) == 0)
				return true;
		}
	}
	return false;
}

/* May this interface be attached to a switch? */
static int check_attachable(struct vsd *d, const char *ifname, struct vsd_err *e)
{
	if (!vs_name_valid(ifname))
		return vsd_fail(e, -EINVAL, "invalid interface name '%s'", ifname);
	struct hn_link l;
	int r = hn_link_get(ifname, &l);
	if (r == -ENODEV)
		return vsd_fail(e, r, "no interface named %s", ifname);
	if (r < 0)
		return vsd_fail(e, r, "interface %s: %s", ifname, strerror(-r));
	if (l.type != ARPHRD_ETHER || (l.flags & IFF_LOOPBACK))
		return vsd_fail(e, -EINVAL, "%s is not an Ethernet interface", ifname);
	if (vsd_ifname_in_use(d, ifname))
		return vsd_fail(e, -EBUSY, "%s is already attached to a switch", ifname);
	if (l.master)
		return vsd_fail(e, -EBUSY,
				"%s is enslaved to another device (a bridge or bond); release it "
				"first (ip link set %s nomaster)",
				ifname, ifname);
	return 0;
}

static int socket_path(struct vsd_switch *vs, const char *name, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s.sock", vs->dir, name);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

int vsd_port_open(struct vsd_switch *vs, const struct vsd_port_opts *o, int fd, bool restoring,
		  struct vsd_port **out, struct vsd_err *e)
{
	const struct port_type *pt = port_type_find(o->type);
	char sock[108];
	int r;
	if (!pt)
		return vsd_fail(e, -EINVAL, "unknown port type '%s'", o->type);
	if (o->connect && !pt->can_connect)
		return vsd_fail(e, -EINVAL, "--connect is for stream and vhost-user ports");
	if (pt->needs_ifname && !o->ifname)
		return vsd_fail(e, -EINVAL, "a %s port needs --ifname IFNAME", o->type);
	if (!pt->needs_ifname && o->ifname)
		return vsd_fail(e, -EINVAL, "--ifname is for netdev ports");
	if (o->connect && (o->connect[0] != '/' || strlen(o->connect) >= sizeof(((struct port *)0)->connect_path)))
		return vsd_fail(e, -EINVAL, "--connect needs an absolute socket path shorter than 108 bytes");
	r = socket_path(vs, o->name, sock, sizeof(sock));
	if (r < 0)
		return vsd_fail(e, r, "socket path %s/%s.sock is too long; use a shorter --rundir",
				vs->dir, o->name);

	struct vsd_port *vp = calloc(1, sizeof(*vp));
	if (!vp)
		return vsd_fail(e, -ENOMEM, "out of memory");
	snprintf(vp->name, sizeof(vp->name), "%s", o->name);
	snprintf(vp->type, sizeof(vp->type), "%s", o->type);
	if (o->ifname)
		snprintf(vp->ifname, sizeof(vp->ifname), "%s", o->ifname);
	if (o->connect)
		snprintf(vp->connect, sizeof(vp->connect), "%s", o->connect);
	vp->vs = vs;
	struct port *p = port_new(pt->ops, o->name, vs->d->loop);
	if (!p) {
		free(vp);
		return vsd_fail(e, -ENOMEM, "out of memory");
	}
	p->owner = vp;
	p->on_state = on_port_state;
	p->anonymous = fd >= 0;
	vp->port = p;
	r = sw_port_attach(vs->sw, p);
	if (r < 0) {
		vsd_fail(e, r, "switch %s has no room for another port (%u)", vs->sw->name,
			 SW_MAX_PORTS);
		goto err_free;
	}
	struct port_args a = {
		.ifname = o->ifname,
		.socket_path = sock,
		.connect_path = o->connect,
		.fd = fd,
		.wait_missing = restoring,
		.rx_usecs = vs->d->rx_usecs,
		.rx_usecs_max = vs->d->rx_usecs_max,
	};
	r = p->ops->open(p, &a);
	if (r < 0) {
		if (o->ifname)
			vsd_fail(e, r, "attaching %s: %s", o->ifname, strerror(-r));
		else
			vsd_fail(e, r, "opening port %s: %s", o->name, strerror(-r));
		goto err_detach;
	}
	if (p->socket_path[0] && (r = vsd_switch_socket_perms(vs, p->socket_path)) < 0) {
		vsd_fail(e, r, "setting the owner of %s: %s", p->socket_path, strerror(-r));
		p->ops->close(p);
		goto err_detach;
	}
	*out = vp;
	return 0;
err_detach:
	sw_port_detach(vs->sw, p);
err_free:
	port_free(p);
	free(vp);
	return r;
}

void vsd_port_close(struct vsd_port *vp, bool restore_host)
{
	struct port *p = vp->port;
	struct vsd_switch *vs = vp->vs;
	p->on_state = NULL;
	p->ops->close(p);
	sw_port_detach(vs->sw, p);
	port_free(p);
	if (restore_host && vp->saved.valid) {
		int r = vsd_iface_restore(vp->ifname, &vp->saved, NULL);
		if (r < 0)
			log_error("port %s: could not give %s back to the host: %s", vp->name,
				  vp->ifname, strerror(-r));
	}
	vsd_saved_free(&vp->saved);
	free(vp);
}

int vsd_port_add(struct vsd *d, const struct vsd_port_opts *o, struct vsd_err *e)
{
	struct vsd_switch *vs = vsd_switch_find(d, o->sw);
	int r;
	if (!vs)
		return vsd_fail(e, -ENOENT, "no switch named '%s'", o->sw);
	if (!vs_name_valid(o->name))
		return vsd_fail(e, -EINVAL,
				"invalid port name '%s': use 1 to 15 characters of A-Z a-z 0-9 _ . -",
				o->name);
	if (vsd_port_name_reserved(o->name))
		return vsd_fail(e, -EINVAL, "port name '%s' is reserved (host, uplink, plug, plug-*)",
				o->name);
	if (vsd_port_find(vs, o->name))
		return vsd_fail(e, -EEXIST, "switch %s already has a port named %s", o->sw, o->name);
	const struct port_type *pt = port_type_find(o->type);
	if (!pt || !pt->user)
		return vsd_fail(e, -EINVAL,
				"unknown port type '%s' (stream, dgram, netdev, vhost-user)", o->type);
	struct vsd_saved saved = { 0 };
	if (pt->needs_ifname && o->ifname) {
		r = check_attachable(d, o->ifname, e);
		if (r < 0)
			return r;
		r = vsd_saved_capture(o->ifname, &saved, e);
		if (r < 0)
			return r;
	}
	struct vsd_port *vp;
	r = vsd_port_open(vs, o, -1, false, &vp, e);
	if (r < 0) {
		vsd_saved_free(&saved);
		return r;
	}
	vp->named = true;
	vp->saved = saved;
	/* Write-ahead: what the interface had is on disk before we change it. */
	r = vsd_state_save(d, e);
	if (r < 0)
		goto err_close;
	if (vp->saved.valid) {
		r = vsd_iface_strip(vp->ifname, &vp->saved);
		if (r < 0) {
			vsd_fail(e, r, "taking %s off the host stack: %s", vp->ifname, strerror(-r));
			goto err_close;
		}
	}
	log_info("switch %s: port %s (%s) added", o->sw, o->name, o->type);
	return 0;
err_close:
	vsd_port_close(vp, true);
	struct vsd_err e2;
	vsd_state_save(d, &e2);
	return r;
}

int vsd_port_delete(struct vsd *d, const char *swname, const char *name, struct vsd_err *e)
{
	struct vsd_switch *vs = vsd_switch_find(d, swname);
	if (!vs)
		return vsd_fail(e, -ENOENT, "no switch named '%s'", swname);
	struct vsd_port *vp = vsd_port_find(vs, name);
	if (!vp)
		return vsd_fail(e, -ENOENT, "switch %s has no port named '%s'", swname, name);
	if (strcmp(name, "host") == 0 || strcmp(name, "uplink") == 0)
		return vsd_fail(e, -EINVAL,
				"the %s port belongs to the switch; delete the switch instead", name);
	vsd_port_close(vp, true);
	log_info("switch %s: port %s deleted", swname, name);
	return vsd_state_save(d, e);
}

int vsd_port_set_max_macs(struct vsd *d, const char *swname, const char *name, uint32_t max,
			  struct vsd_err *e)
{
	struct vsd_switch *vs = vsd_switch_find(d, swname);
	if (!vs)
		return vsd_fail(e, -ENOENT, "no switch named '%s'", swname);
	struct vsd_port *vp = vsd_port_find(vs, name);
	if (!vp)
		return vsd_fail(e, -ENOENT, "switch %s has no port named '%s'", swname, name);
	if (max > 16777216)
		return vsd_fail(e, -EINVAL, "--max-macs must be at most 16777216 (0: no limit)");
	uint32_t old = vp->max_macs;
	vp->max_macs = max;
	int r = vsd_state_save(d, e);
	if (r < 0) {
		vp->max_macs = old;
		return r;
	}
	/* Stations learned beyond a new, lower limit stay until they age out;
	 * `fdb flush` drops them at once. */
	fdb_set_port_limit(vs->sw->fdb, vp->port->idx, max);
	return 0;
}

/* ---- plug.sock: every connection is a new anonymous port ---- */

static void plug_accept(void *arg, uint32_t events)
{
	struct vsd_switch *vs = arg;
	int fd = accept_or_shed(vs->plug_fd);
	if (fd < 0)
		return;
	char name[16];
	for (unsigned tries = 0;; tries++) {
		snprintf(name, sizeof(name), "plug-%u", vs->plug_seq++ % 100000000u);
		if (!sw_port_find(vs->sw, name))
			break;
		if (tries > 1000) {
			close(fd);
			return;
		}
	}
	struct vsd_port_opts o = { .sw = vs->sw->name, .name = name, .type = "stream" };
	struct vsd_port *vp;
	struct vsd_err e;
	if (vsd_port_open(vs, &o, fd, false, &vp, &e) < 0) {
		log_warn("switch %s: plug connection refused: %s", vs->sw->name, e.msg);
		close(fd);
		return;
	}
	log_info("switch %s: port %s plugged in", vs->sw->name, name);
}

int vsd_plug_listen(struct vsd_switch *vs, struct vsd_err *e)
{
	char path[sizeof(vs->dir) + 16];
	int n = snprintf(path, sizeof(path), "%s/plug.sock", vs->dir);
	if (n < 0 || n >= 108)
		return vsd_fail(e, -ENAMETOOLONG, "%s/plug.sock is too long for a socket path",
				vs->dir);
	int fd = unix_listen(path, SOCK_STREAM);
	if (fd < 0)
		return vsd_fail(e, fd, "listening on %s: %s", path, strerror(-fd));
	int r = vsd_switch_socket_perms(vs, path);
	if (r == 0)
		r = loop_watch_add(vs->d->loop, &vs->plug_w, fd, EPOLLIN, plug_accept, vs);
	if (r < 0) {
		close(fd);
		unlink(path);
		return vsd_fail(e, r, "listening on %s: %s", path, strerror(-r));
	}
	vs->plug_fd = fd;
	return 0;
}

void vsd_plug_close(struct vsd_switch *vs)
{
	if (vs->plug_fd < 0)
		return;
	loop_watch_del(vs->d->loop, &vs->plug_w);
	close(vs->plug_fd);
	vs->plug_fd = -1;
	char path[sizeof(vs->dir) + 16];
	snprintf(path, sizeof(path), "%s/plug.sock", vs->dir);
	unlink(path);
}

/* ---- QEMU arguments ---- */

/* A stable, locally administered MAC in QEMU's range for a VM on this port,
 * so that two VMs never both get QEMU's default 52:54:00:12:34:56. */
static void vm_mac(const char *sw, const char *port, char *out)
{
	uint32_t h = 2166136261u;
	for (const char *s = sw; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *s = port; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	snprintf(out, 18, "52:54:00:%02x:%02x:%02x", (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff);
}

char *vsd_port_qemu_args(struct vsd_port *vp)
{
	char mac[18], *s = NULL;
	const char *sock = vp->port->socket_path;
	const char *n = vp->name;
	vm_mac(vp->vs->sw->name, vp->name, mac);
	if (strcmp(vp->type, "stream") == 0 && vp->connect[0]) {
		if (asprintf(&s, "-netdev stream,id=vs-%s,server=on,addr.type=unix,addr.path=%s "
				 "-device virtio-net-pci,netdev=vs-%s,mac=%s",
			     n, vp->connect, n, mac) < 0)
			return NULL;
	} else if (strcmp(vp->type, "stream") == 0 && !vp->port->anonymous) {
		if (asprintf(&s, "-netdev stream,id=vs-%s,server=off,addr.type=unix,addr.path=%s "
				 "-device virtio-net-pci,netdev=vs-%s,mac=%s",
			     n, sock, n, mac) < 0)
			return NULL;
	} else if (strcmp(vp->type, "vhost-user") == 0) {
		/* Guest memory must be shared (memfd, no hugepages needed).  QEMU
		 * 7.2 under TCG, its default accelerator, crashes setting up
		 * MSI-X for vhost-user, so the line has vectors=0 (INTx), which
		 * also works under KVM.  Whether /dev/kvm exists says nothing
		 * about which accelerator the user runs, nor whether it works
		 * (nested KVM that fails in QEMU is common in cloud VMs). */
		const char *chr = vp->connect[0] ? vp->connect : sock;
		if (asprintf(&s, "-m 1G -object memory-backend-memfd,id=vs-mem,size=1G,share=on "
				 "-numa node,memdev=vs-mem "
				 "-chardev socket,id=vs-%s,path=%s,%s "
				 "-netdev vhost-user,id=vs-%s,chardev=vs-%s "
				 "-device virtio-net-pci,netdev=vs-%s,mac=%s,vectors=0",
			     n, chr, vp->connect[0] ? "server=on,wait=off" : "reconnect=1", n, n, n,
			     mac) < 0)
			return NULL;
	} else if (strcmp(vp->type, "dgram") == 0) {
		if (asprintf(&s, "-netdev dgram,id=vs-%s,local.type=unix,local.path=%s.qemu,"
				 "remote.type=unix,remote.path=%s "
				 "-device virtio-net-pci,netdev=vs-%s,mac=%s",
			     n, sock, sock, n, mac) < 0)
			return NULL;
	}
	return s;
}
