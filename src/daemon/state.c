/* The saved configuration: STATEDIR/vswitchd.json.
 *
 * Written atomically (a temporary file, fsync, rename, fsync of the
 * directory), so a crash at any moment leaves the old file or the new one,
 * never a torn one.  It also carries what the host had on every interface the
 * switch took (the write-ahead record that makes every change undoable).
 *
 * A switch record that cannot be restored at start (say its uplink is
 * malformed) is kept verbatim and written back, so nothing the host needs is
 * ever forgotten.
 *
 * For the fault-injection tests: VSWITCH_FAULT=save-abort:N aborts the
 * process in the middle of the Nth save (after a partial write).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eth.h"
#include "log.h"
#include "vsd.h"

#define STATE_FILE "vswitchd.json"
#define STATE_VERSION 1

static json_t *unrestored; /* records kept as they were */

static json_t *port_record(struct vsd_port *vp)
{
	return json_pack("{s:s, s:s, s:s?, s:s?, s:o, s:i}", "name", vp->name, "type", vp->type,
			 "connect", vp->connect[0] ? vp->connect : NULL, "ifname",
			 vp->ifname[0] ? vp->ifname : NULL, "saved", vsd_saved_to_json(&vp->saved),
			 "max_macs", (json_int_t)vp->max_macs);
}

static json_t *switch_record(struct vsd_switch *vs)
{
	struct sw *sw = vs->sw;
	json_t *ports = json_array();
	struct vsd_port *uplink = NULL;
	for (unsigned i = 0; i < sw->nports_cap; i++) {
		struct port *p = sw->ports[i];
		if (!p)
			continue;
		struct vsd_port *vp = p->owner;
		if (strcmp(vp->name, "uplink") == 0 && strcmp(vp->type, "uplink") == 0)
			uplink = vp;
		else if (vp->named)
			json_array_append_new(ports, port_record(vp));
	}
	char mac[18] = "";
	if (vs->has_host_mac)
		eth_addr_format(vs->host_mac, mac);
	return json_pack("{s:s, s:s, s:s?, s:b, s:s?, s:i, s:i, s:i, s:I, s:I, s:i, s:o, s:o}",
			 "name",
			 sw->name, "type", sw_type_name(vs->type), "uplink",
			 vs->uplink[0] ? vs->uplink : NULL, "host_nic", vs->host_nic, "host_mac",
			 mac[0] ? mac : NULL, "mtu", (json_int_t)sw->mtu, "aging", (json_int_t)vs->aging, "max_macs",
			 (json_int_t)vs->max_macs, "sock_uid", (json_int_t)vs->sock_uid, "sock_gid",
			 (json_int_t)vs->sock_gid, "sock_mode", (json_int_t)vs->sock_mode,
			 "uplink_saved", uplink ? vsd_saved_to_json(&uplink->saved) : json_null(),
			 "ports", ports);
}

static int save_count;

static int fault_point(void)
{
	const char *f = getenv("VSWITCH_FAULT");
	if (!f || strncmp(f, "save-abort:", 11) != 0)
		return 0;
	return atoi(f + 11);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int vsd_state_save(struct vsd *d, struct vsd_err *e)
{
	if (d->loading)
		return 0;
	json_t *sws = json_array();
	for (unsigned i = 0; i < d->nsw; i++)
		json_array_append_new(sws, switch_record(d->sw[i]));
	size_t i;
	json_t *rec;
	json_array_foreach(unrestored, i, rec)
		json_array_append(sws, rec);
	json_t *root = json_pack("{s:i, s:o}", "version", STATE_VERSION, "switches", sws);
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	if (!text)
		return vsd_fail(e, -ENOMEM, "out of memory");

	char path[PATH_MAX + 32], tmp[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", d->statedir, STATE_FILE);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", d->statedir, STATE_FILE);
	int r = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	size_t len = strlen(text);
	save_count++;
	if (fault_point() == save_count) {
		/* Die half-way through, as a crash or power loss would. */
		write_all(fd, text, len / 2);
		abort();
	}
	r = write_all(fd, text, len);
	if (r == 0)
		r = write_all(fd, "\n", 1);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r == 0) {
		int dfd = open(d->statedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	} else {
		unlink(tmp);
	}
out:
	free(text);
	if (r < 0)
		return vsd_fail(e, r, "saving the configuration to %s: %s", path, strerror(-r));
	return 0;
}

int vsd_state_load(struct vsd *d, bool *found, struct vsd_err *e)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", d->statedir, STATE_FILE);
	*found = false;
	if (access(path, F_OK) < 0) {
		if (errno == ENOENT)
			return 0;
		return vsd_fail(e, -errno, "%s: %s", path, strerror(errno));
	}
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	if (!root)
		return vsd_fail(e, -EINVAL, "%s is not valid JSON (line %d: %s); move it aside to start "
				"empty, after checking what the host needs from it",
				path, je.line, je.text);
	json_t *ver = json_object_get(root, "version");
	json_t *sws = json_object_get(root, "switches");
	if (!json_is_integer(ver) || json_integer_value(ver) != STATE_VERSION || !json_is_array(sws)) {
		json_decref(root);
		return vsd_fail(e, -EINVAL, "%s: unknown format (version %lld)", path,
				json_is_integer(ver) ? json_integer_value(ver) : -1);
	}
	*found = true;
	if (!unrestored)
		unrestored = json_array();
	d->loading = true;
	size_t i;
	json_t *rec;
	json_array_foreach(sws, i, rec)
	{
		struct vsd_err se = { .code = NULL };
		if (!json_is_object(rec) || vsd_switch_restore(d, rec, &se) < 0) {
			log_error("state: a switch could not be restored (%s); its record is kept",
				  se.msg[0] ? se.msg : "not an object");
			json_array_append(unrestored, rec);
		}
	}
	d->loading = false;
	json_decref(root);
	/* Write back at once: what was restored is now the truth. */
	return vsd_state_save(d, e);
}

void vsd_state_fini(void)
{
	json_decref(unrestored);
	unrestored = NULL;
}
