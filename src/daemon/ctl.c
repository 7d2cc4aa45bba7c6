/* The control socket: RUNDIR/vswitchd.sock.
 *
 * Protocol: one JSON object per line each way.  Request
 *   {"cmd": "switch.create", "args": {...}}
 * response
 *   {"ok": true, "result": ...}  or  {"ok": false, "error": "...", "code": ...}
 * Commands run to completion between two datapath bursts (one thread), so a
 * command sees and leaves a consistent switch.
 *
 * Who may connect: root, and members of the group "vswitch" if it exists
 * (the socket is root:vswitch 0660; peer credentials are checked as well).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "port-stream.h"
#include "util.h"
#include "vsd.h"

#define CTL_MAX_REQUEST (64 * 1024)

struct ctl_conn {
	int fd;
	struct loop_watch w;
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	struct ctl_conn *next;
};

static struct {
	struct vsd *d;
	int fd;
	struct loop_watch w;
	char path[PATH_MAX];
	struct ctl_conn *conns;
} ctl = { .fd = -1 };

/* ---- argument helpers ---- */

static int arg_str(json_t *args, const char *k, bool required, const char **out,
		   struct vsd_err *e)
{
	json_t *v = json_object_get(args, k);
	*out = NULL;
	if (!v || json_is_null(v)) {
		return required ? vsd_fail(e, -EINVAL, "missing argument '%s'", k) : 0;
	}
	if (!json_is_string(v))
		return vsd_fail(e, -EINVAL, "argument '%s' must be a string", k);
	*out = json_string_value(v);
	if (strlen(*out) != json_string_length(v))
		return vsd_fail(e, -EINVAL, "argument '%s' contains a NUL byte", k);
	return 0;
}

static int arg_uint(json_t *args, const char *k, uint32_t def, uint32_t *out, struct vsd_err *e)
{
	json_t *v = json_object_get(args, k);
	*out = def;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0xffffffffLL)
		return vsd_fail(e, -EINVAL, "argument '%s' must be a non-negative integer", k);
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static bool arg_bool(json_t *args, const char *k)
{
	return json_is_true(json_object_get(args, k));
}

/* A user or group by name or number; -1 when the argument is absent. */
static int arg_id(json_t *args, const char *k, bool group, int64_t *out, struct vsd_err *e)
{
	const char *v;
	*out = -1;
	int r = arg_str(args, k, false, &v, e);
	if (r < 0 || !v)
		return r;
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (*v && !*end && !errno && v[0] != '-' && n < 0xffffffffUL) {
		*out = (int64_t)n;
		return 0;
	}
	if (group) {
		struct group *g = getgrnam(v);
		if (g) {
			*out = g->gr_gid;
			return 0;
		}
	} else {
		struct passwd *pw = getpwnam(v);
		if (pw) {
			*out = pw->pw_uid;
			return 0;
		}
	}
	return vsd_fail(e, -EINVAL, "no %s named '%s'", group ? "group" : "user", v);
}

static int arg_mode(json_t *args, unsigned *out, struct vsd_err *e)
{
	const char *v;
	*out = 0;
	int r = arg_str(args, "mode", false, &v, e);
	if (r < 0 || !v)
		return r;
	char *end;
	unsigned long m = strtoul(v, &end, 8);
	if (!*v || *end || m == 0 || m > 0777)
		return vsd_fail(e, -EINVAL, "--mode takes octal permission bits, e.g. 0660, not '%s'",
				v);
	*out = (unsigned)m;
	return 0;
}

static struct vsd_switch *find_switch(struct vsd *d, json_t *args, struct vsd_err *e)
{
	const char *name;
	if (arg_str(args, "switch", true, &name, e) < 0)
		return NULL;
	struct vsd_switch *vs = vsd_switch_find(d, name);
	if (!vs)
		vsd_fail(e, -ENOENT, "no switch named '%s' (vswitchctl switch list shows them)", name);
	return vs;
}

/* ---- commands ---- */

static json_t *cmd_switch_create(struct vsd *d, json_t *args, struct vsd_err *e)
{
	struct vsd_switch_opts o = { 0 };
	const char *type;
	uint32_t mtu;
	if (arg_str(args, "name", true, &o.name, e) < 0 || arg_str(args, "type", true, &type, e) < 0 ||
	    arg_str(args, "uplink", false, &o.uplink, e) < 0 ||
	    arg_uint(args, "mtu", VSD_DEFAULT_MTU, &mtu, e) < 0 ||
	    arg_uint(args, "aging", VSD_DEFAULT_AGING, &o.aging, e) < 0 ||
	    arg_uint(args, "max_macs", VSD_DEFAULT_MAX_MACS, &o.max_macs, e) < 0)
		return NULL;
	if (sw_type_parse(type, &o.type) < 0) {
		vsd_fail(e, -EINVAL, "unknown switch type '%s' (external, internal, private)", type);
		return NULL;
	}
	o.mtu = mtu;
	o.no_host_nic = arg_bool(args, "no_host_nic");
	o.yes = arg_bool(args, "yes");
	if (arg_id(args, "owner", false, &o.sock_uid, e) < 0 ||
	    arg_id(args, "group", true, &o.sock_gid, e) < 0 || arg_mode(args, &o.sock_mode, e) < 0)
		return NULL;
	if (vsd_switch_create(d, &o, e) < 0)
		return NULL;
	return vsd_render_switch(vsd_switch_find(d, o.name));
}

static json_t *cmd_switch_delete(struct vsd *d, json_t *args, struct vsd_err *e)
{
	const char *name;
	if (arg_str(args, "name", true, &name, e) < 0 || vsd_switch_delete(d, name, e) < 0)
		return NULL;
	return json_null();
}

static json_t *cmd_switch_set(struct vsd *d, json_t *args, struct vsd_err *e)
{
	const char *name;
	int64_t uid, gid;
	unsigned mode;
	if (arg_str(args, "name", true, &name, e) < 0 || arg_id(args, "owner", false, &uid, e) < 0 ||
	    arg_id(args, "group", true, &gid, e) < 0 || arg_mode(args, &mode, e) < 0)
		return NULL;
	if (uid < 0 && gid < 0 && !mode) {
		vsd_fail(e, -EINVAL, "nothing to set: give --owner, --group or --mode");
		return NULL;
	}
	if (vsd_switch_set_access(d, name, uid, gid, mode, e) < 0)
		return NULL;
	return vsd_render_switch(vsd_switch_find(d, name));
}

static json_t *cmd_switch_repair(struct vsd *d, json_t *args, struct vsd_err *e)
{
	const char *name;
	if (arg_str(args, "name", true, &name, e) < 0 || vsd_switch_repair(d, name, e) < 0)
		return NULL;
	return vsd_render_switch(vsd_switch_find(d, name));
}

static json_t *cmd_switch_list(struct vsd *d, json_t *args, struct vsd_err *e)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < d->nsw; i++)
		json_array_append_new(a, vsd_render_switch(d->sw[i]));
	return a;
}

static json_t *cmd_switch_show(struct vsd *d, json_t *args, struct vsd_err *e)
{
	const char *name;
	if (arg_str(args, "name", true, &name, e) < 0)
		return NULL;
	struct vsd_switch *vs = vsd_switch_find(d, name);
	if (!vs) {
		vsd_fail(e, -ENOENT, "no switch named '%s'", name);
		return NULL;
	}
	return vsd_render_switch(vs);
}

static json_t *cmd_port_add(struct vsd *d, json_t *args, struct vsd_err *e)
{
	struct vsd_port_opts o = { .sw = NULL };
	if (arg_str(args, "switch", true, &o.sw, e) < 0 || arg_str(args, "name", true, &o.name, e) < 0 ||
	    arg_str(args, "type", true, &o.type, e) < 0 ||
	    arg_str(args, "connect", false, &o.connect, e) < 0 ||
	    arg_str(args, "ifname", false, &o.ifname, e) < 0)
		return NULL;
	if (vsd_port_add(d, &o, e) < 0)
		return NULL;
	return vsd_render_port(vsd_port_find(vsd_switch_find(d, o.sw), o.name));
}

static json_t *cmd_port_delete(struct vsd *d, json_t *args, struct vsd_err *e)
{
	const char *sw, *name;
	if (arg_str(args, "switch", true, &sw, e) < 0 || arg_str(args, "name", true, &name, e) < 0 ||
	    vsd_port_delete(d, sw, name, e) < 0)
		return NULL;
	return json_null();
}

static json_t *cmd_port_set(struct vsd *d, json_t *args, struct vsd_err *e)
{
	const char *sw, *name;
	uint32_t max;
	if (arg_str(args, "switch", true, &sw, e) < 0 || arg_str(args, "name", true, &name, e) < 0 ||
	    arg_uint(args, "max_macs", 0xffffffffu, &max, e) < 0)
		return NULL;
	if (max == 0xffffffffu) {
		vsd_fail(e, -EINVAL, "nothing to set: give --max-macs N (0: no limit)");
		return NULL;
	}
	if (vsd_port_set_max_macs(d, sw, name, max, e) < 0)
		return NULL;
	return vsd_render_port(vsd_port_find(vsd_switch_find(d, sw), name));
}

static json_t *cmd_port_list(struct vsd *d, json_t *args, struct vsd_err *e)
{
	struct vsd_switch *vs = find_switch(d, args, e);
	return vs ? vsd_render_ports(vs) : NULL;
}

static struct vsd_port *find_port(struct vsd *d, json_t *args, const char *key,
				  struct vsd_switch **vs_out, struct vsd_err *e)
{
	const char *name;
	struct vsd_switch *vs = find_switch(d, args, e);
	if (!vs || arg_str(args, key, true, &name, e) < 0)
		return NULL;
	struct vsd_port *vp = vsd_port_find(vs, name);
	if (!vp)
		vsd_fail(e, -ENOENT, "switch %s has no port named '%s'", vs->sw->name, name);
	*vs_out = vs;
	return vp;
}

static json_t *cmd_port_show(struct vsd *d, json_t *args, struct vsd_err *e)
{
	struct vsd_switch *vs;
	struct vsd_port *vp = find_port(d, args, "name", &vs, e);
	return vp ? vsd_render_port(vp) : NULL;
}

static json_t *cmd_fdb_show(struct vsd *d, json_t *args, struct vsd_err *e)
{
	struct vsd_switch *vs = find_switch(d, args, e);
	return vs ? vsd_render_fdb(vs) : NULL;
}

static json_t *cmd_fdb_flush(struct vsd *d, json_t *args, struct vsd_err *e)
{
	const char *pname;
	struct vsd_switch *vs = find_switch(d, args, e);
	if (!vs || arg_str(args, "port", false, &pname, e) < 0)
		return NULL;
	int port = -1;
	if (pname) {
		struct vsd_port *vp = vsd_port_find(vs, pname);
		if (!vp) {
			vsd_fail(e, -ENOENT, "switch %s has no port named '%s'", vs->sw->name, pname);
			return NULL;
		}
		port = vp->port->idx;
	}
	unsigned n = fdb_flush(vs->sw->fdb, port);
	return json_pack("{s:i}", "flushed", (json_int_t)n);
}

static json_t *cmd_stats(struct vsd *d, json_t *args, struct vsd_err *e)
{
	const char *pname;
	struct vsd_switch *vs = find_switch(d, args, e);
	if (!vs || arg_str(args, "port", false, &pname, e) < 0)
		return NULL;
	if (!pname)
		return vsd_render_ports(vs);
	struct vsd_port *vp = vsd_port_find(vs, pname);
	if (!vp) {
		vsd_fail(e, -ENOENT, "switch %s has no port named '%s'", vs->sw->name, pname);
		return NULL;
	}
	json_t *a = json_array();
	json_array_append_new(a, vsd_render_port(vp));
	return a;
}

static const struct ctl_cmd {
	const char *name;
	json_t *(*fn)(struct vsd *d, json_t *args, struct vsd_err *e);
} commands[] = {
	{ "switch.create", cmd_switch_create },
	{ "switch.delete", cmd_switch_delete },
	{ "switch.list", cmd_switch_list },
	{ "switch.show", cmd_switch_show },
	{ "switch.set", cmd_switch_set },
	{ "switch.repair", cmd_switch_repair },
	{ "port.add", cmd_port_add },
	{ "port.delete", cmd_port_delete },
	{ "port.set", cmd_port_set },
	{ "port.list", cmd_port_list },
	{ "port.show", cmd_port_show },
	{ "fdb.show", cmd_fdb_show },
	{ "fdb.flush", cmd_fdb_flush },
	{ "stats", cmd_stats },
};

/* Messages quote what the client sent (a parse error, a name) and may be cut
 * at any byte: replace what is not valid UTF-8, or JSON cannot carry it. */
static void utf8_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;
	while (*p) {
		int n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
		bool ok = n > 0;
		for (int i = 1; ok && i < n; i++)
			ok = (p[i] & 0xc0) == 0x80;
		if (!ok) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

static json_t *error_response(struct vsd_err *e)
{
	utf8_sanitize(e->msg);
	json_t *r = json_pack("{s:b, s:s, s:s?}", "ok", 0, "error", e->msg, "code", e->code);
	return r ? r : json_pack("{s:b, s:s}", "ok", 0, "error", "request failed");
}

json_t *vsd_ctl_handle(struct vsd *d, const char *req, size_t len)
{
	struct vsd_err e = { .code = NULL };
	json_error_t je;
	json_t *r = json_loadb(req, len, JSON_REJECT_DUPLICATES, &je);
	if (!r || !json_is_object(r)) {
		json_decref(r);
		vsd_fail(&e, -EINVAL, "malformed request: %s", r ? "not an object" : je.text);
		return error_response(&e);
	}
	json_t *cmd = json_object_get(r, "cmd"), *args = json_object_get(r, "args");
	if (!json_is_string(cmd) || (args && !json_is_object(args))) {
		json_decref(r);
		vsd_fail(&e, -EINVAL, "malformed request: needs \"cmd\" (string) and \"args\" (object)");
		return error_response(&e);
	}
	json_t *empty = json_object();
	if (!args)
		args = empty;
	json_t *res = NULL;
	const struct ctl_cmd *c = NULL;
	for (unsigned i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, json_string_value(cmd)) == 0)
			c = &commands[i];
	if (!c)
		vsd_fail(&e, -EINVAL, "unknown command '%s'", json_string_value(cmd));
	else
		res = c->fn(d, args, &e);
	json_decref(empty);
	json_decref(r);
	if (!res) {
		if (!e.msg[0])
			vsd_fail(&e, -EIO, "command failed");
		return error_response(&e);
	}
	return json_pack("{s:b, s:o}", "ok", 1, "result", res);
}

/* ---- connections ---- */

static void conn_free(struct ctl_conn *c)
{
	struct ctl_conn **pp = &ctl.conns;
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	loop_watch_del(ctl.d->loop, &c->w);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static int conn_queue(struct ctl_conn *c, const char *s, size_t n)
{
	char *o = realloc(c->out, c->out_len + n);
	if (!o)
		return -ENOMEM;
	memcpy(o + c->out_len, s, n);
	c->out = o;
	c->out_len += n;
	return 0;
}

/* Returns false if the connection was freed. */
static bool conn_flush(struct ctl_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			conn_free(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		free(c->out);
		c->out = NULL;
		c->out_len = c->out_off = 0;
	}
	loop_watch_mod(ctl.d->loop, &c->w, c->out_len ? EPOLLIN | EPOLLOUT : EPOLLIN);
	return true;
}

static void conn_io(void *arg, uint32_t events)
{
	struct ctl_conn *c = arg;
	if ((events & EPOLLOUT) && !conn_flush(c))
		return;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	char buf[8192];
	ssize_t n = read(c->fd, buf, sizeof(buf));
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_free(c);
		return;
	}
	if (c->in_len + (size_t)n > CTL_MAX_REQUEST) {
		struct vsd_err e = { .code = NULL };
		vsd_fail(&e, -E2BIG, "request too large (limit %d bytes)", CTL_MAX_REQUEST);
		json_t *r = error_response(&e);
		char *s = json_dumps(r, JSON_COMPACT);
		json_decref(r);
		if (s) {
			/* Best effort; the connection closes either way. */
			if (write(c->fd, s, strlen(s)) < 0 || write(c->fd, "\n", 1) < 0) {
			}
			free(s);
		}
		conn_free(c);
		return;
	}
	char *in = realloc(c->in, c->in_len + (size_t)n);
	if (!in) {
		conn_free(c);
		return;
	}
	c->in = in;
	memcpy(c->in + c->in_len, buf, (size_t)n);
	c->in_len += (size_t)n;
	char *nl;
	while ((nl = memchr(c->in, '\n', c->in_len))) {
		size_t line = (size_t)(nl - c->in);
		json_t *resp = vsd_ctl_handle(ctl.d, c->in, line);
		char *s = json_dumps(resp, JSON_COMPACT);
		json_decref(resp);
		memmove(c->in, nl + 1, c->in_len - line - 1);
		c->in_len -= line + 1;
		if (!s || conn_queue(c, s, strlen(s)) < 0 || conn_queue(c, "\n", 1) < 0) {
			free(s);
			conn_free(c);
			return;
		}
		free(s);
	}
	conn_flush(c);
}

static gid_t vswitch_gid(void)
{
	struct group *g = getgrnam("vswitch");
	return g ? g->gr_gid : (gid_t)-1;
}

/* Root, or a member of the vswitch group (primary or supplementary). */
static bool peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0)
		return false;
	if (cr.uid == 0)
		return true;
	gid_t g = vswitch_gid();
	if (g == (gid_t)-1)
		return false;
	if (cr.gid == g)
		return true;
	char path[64], line[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)cr.pid);
	FILE *f = fopen(path, "re");
	bool ok = false;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		char *save, *tok = strtok_r(line + 7, " \t\n", &save);
		for (; tok; tok = strtok_r(NULL, " \t\n", &save))
			if ((gid_t)strtoul(tok, NULL, 10) == g)
				ok = true;
	}
	fclose(f);
	return ok;
}

static void ctl_accept(void *arg, uint32_t events)
{
	int fd = accept4(ctl.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (!peer_allowed(fd)) {
		const char *msg = "{\"ok\":false,\"error\":\"permission denied: only root and members "
				  "of the vswitch group may control vswitchd\"}\n";
		if (write(fd, msg, strlen(msg)) < 0) {
		}
		close(fd);
		return;
	}
	struct ctl_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	if (loop_watch_add(ctl.d->loop, &c->w, fd, EPOLLIN, conn_io, c) < 0) {
		close(fd);
		free(c);
		return;
	}
	c->next = ctl.conns;
	ctl.conns = c;
}

int vsd_ctl_open(struct vsd *d)
{
	ctl.d = d;
	int n = snprintf(ctl.path, sizeof(ctl.path), "%s/vswitchd.sock", d->rundir);
	if (n < 0 || n >= 108)
		return -ENAMETOOLONG;
	int fd = unix_listen(ctl.path, SOCK_STREAM);
	if (fd < 0)
		return fd;
	gid_t g = vswitch_gid();
	if (g != (gid_t)-1 && chown(ctl.path, 0, g) < 0)
		log_warn("control socket: chown to group vswitch: %s", strerror(errno));
	int r = loop_watch_add(d->loop, &ctl.w, fd, EPOLLIN, ctl_accept, NULL);
	if (r < 0) {
		close(fd);
		unlink(ctl.path);
		return r;
	}
	ctl.fd = fd;
	return 0;
}

void vsd_ctl_close(void)
{
	while (ctl.conns)
		conn_free(ctl.conns);
	if (ctl.fd >= 0) {
		loop_watch_del(ctl.d->loop, &ctl.w);
		close(ctl.fd);
		unlink(ctl.path);
		ctl.fd = -1;
	}
}
