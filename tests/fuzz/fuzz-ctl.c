/* Fuzz target: the control API's request handler (what arrives on
 * vswitchd.sock), with a real daemon state behind it.
 *
 * It runs in a network namespace of its own (unshare at start, as root), so
 * whatever a request creates (a TAP for an internal switch, say) lives and
 * dies with the fuzzer.  After every request the target checks that the
 * answer is one well-formed JSON object with "ok", that no file appeared
 * outside the run and state directories' own trees, and it puts the daemon
 * back to a baseline (switch p0 with port q) when a request changed it.
 */
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pkt.h"
#include "vsd.h"

static struct vsd d;
static char base[64];

static void baseline(void)
{
	struct vsd_err e;
	while (d.nsw) {
		struct vsd_switch *vs = d.sw[d.nsw - 1];
		if (vsd_switch_delete(&d, vs->sw->name, &e) < 0)
			abort();
	}
	struct vsd_switch_opts o = { .name = "p0", .type = SW_PRIVATE, .mtu = 1500, .aging = 300,
				     .max_macs = 64 };
	struct vsd_port_opts po = { .sw = "p0", .name = "q", .type = "stream" };
	if (vsd_switch_create(&d, &o, &e) < 0 || vsd_port_add(&d, &po, &e) < 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (unshare(CLONE_NEWNET) < 0) {
		perror("fuzz-ctl needs root to unshare a network namespace");
		abort();
	}
	log_min_level = LOG_ERROR + 1;
	snprintf(base, sizeof(base), "/dev/shm/vsfuzz-%d", (int)getpid());
	snprintf(d.rundir, sizeof(d.rundir), "%s/run", base);
	snprintf(d.statedir, sizeof(d.statedir), "%s/state", base);
	if (mkdir(base, 0700) < 0 || mkdir(d.rundir, 0700) < 0 || mkdir(d.statedir, 0700) < 0 ||
	    pkt_pool_init(256, 8, 0) < 0 || hn_init() < 0 || !(d.loop = loop_new()))
		abort();
	baseline();
	return 0;
}

/* Only the daemon's own names may appear in RUNDIR: vswitchd.sock is not
 * there (no server), switch directories, and sockets inside them. */
static void check_rundir(void)
{
	DIR *dir = opendir(d.rundir);
	struct dirent *de;
	if (!dir)
		abort();
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		if (!vsd_switch_find(&d, de->d_name))
			abort(); /* a file that no switch owns */
	}
	closedir(dir);
	dir = opendir(base);
	while (dir && (de = readdir(dir)))
		if (de->d_name[0] != '.' && strcmp(de->d_name, "run") && strcmp(de->d_name, "state"))
			abort();
	if (dir)
		closedir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *resp = vsd_ctl_handle(&d, (const char *)data, size);
	if (!json_is_object(resp) || !json_is_boolean(json_object_get(resp, "ok")))
		abort();
	char *s = json_dumps(resp, JSON_COMPACT);
	if (!s)
		abort();
	free(s);
	bool ok = json_is_true(json_object_get(resp, "ok"));
	if (!ok && !json_is_string(json_object_get(resp, "error")))
		abort();
	json_decref(resp);
	check_rundir();
	/* Back to the baseline if the request changed the set of switches or
	 * ports, so that inputs do not pile state up. */
	struct vsd_switch *p0 = vsd_switch_find(&d, "p0");
	if (d.nsw != 1 || !p0 || p0->sw->nports != 1 || !vsd_port_find(p0, "q"))
		baseline();
	return 0;
}
