/* vswitchd: the daemon's records of switches and ports, and the operations
 * the control commands call.
 *
 * The forwarding core (struct sw, struct port) knows frames; these records
 * know configuration and the host: which interface is the uplink, what the
 * host had on it before the switch took it (so that it can be given back),
 * which ports are named (persistent) and which are anonymous plug-N ports.
 *
 * Every operation that changes the host first saves what it will change
 * (write-ahead, see state.c), then changes it, and on any failure undoes its
 * steps in reverse order: the host never loses its configuration.
 *
 * Single-threaded: everything runs on the event loop's thread.
 */
#ifndef VS_VSD_H
#define VS_VSD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "hostnet.h"
#include "loop.h"
#include "sw.h"

/* Socket paths are RUNDIR/SWITCH/PORT.sock and must fit sun_path (108). */
#define VSD_RUNDIR_MAX 64

#define VSD_DEFAULT_MTU 1500
/* Receive moderation window for kernel ports, microseconds (doc/design.md). */
#define VSD_DEFAULT_RX_USECS 50
#define VSD_DEFAULT_RX_USECS_MAX 400
#define VSD_DEFAULT_AGING 300
#define VSD_DEFAULT_MAX_MACS 65536

/* What the host had on an interface before the switch attached it. */
struct vsd_saved {
	bool valid;
	struct hn_ifconfig cfg;
	struct hn_sysctls sysctls;
	bool was_up;
};

struct vsd_port {
	char name[16];
	char type[16];		/* "stream", "dgram", "netdev", "host", "uplink", ... */
	char ifname[16];	/* netdev/uplink/host */
	char connect[108];	/* --connect PATH, or "" */
	bool named;		/* saved in the state file (not plug-N) */
	struct vsd_saved saved; /* netdev/uplink */
	uint32_t max_macs;	/* MACs this port may have learned; 0: no limit */
	struct port *port;	/* the datapath's port */
	struct vsd_switch *vs;
};

struct vsd_switch {
	struct sw *sw;
	enum sw_type type;
	char uplink[16];	/* external: the uplink interface */
	bool host_nic;		/* a host vNIC named after the switch */
	bool has_host_mac;
	uint8_t host_mac[6];	/* the vNIC's MAC, kept if it must be recreated */
	uint32_t aging, max_macs;
	/* Who may plug into this switch: owner, group and mode of its sockets
	 * (like vde_switch -mod/-group).  -1: root. */
	int64_t sock_uid, sock_gid;
	unsigned sock_mode;
	char dir[VSD_RUNDIR_MAX + 20]; /* RUNDIR/NAME */
	int plug_fd;
	struct loop_watch plug_w;
	unsigned plug_seq;
	struct vsd *d;
};

struct vsd {
	struct loop *loop;
	char rundir[VSD_RUNDIR_MAX + 1];
	char statedir[PATH_MAX];
	struct vsd_switch **sw;
	unsigned nsw;
	bool loading; /* restoring from the state file: do not save */
	unsigned rx_usecs; /* receive moderation for kernel ports (--rx-usecs) */
	unsigned rx_usecs_max; /* ... grown to under small frames (--rx-usecs-max) */
};

/* Errors carry a message for the user (one line, says what to do). */
struct vsd_err {
	char msg[512];
	const char *code; /* NULL, or "confirm" when --yes is needed */
};
int vsd_fail(struct vsd_err *e, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Switch options as the user gives them. */
struct vsd_switch_opts {
	const char *name;
	enum sw_type type;
	const char *uplink;
	bool no_host_nic;
	bool yes;
	unsigned mtu;
	uint32_t aging, max_macs;
	int64_t sock_uid, sock_gid; /* -1: root */
	unsigned sock_mode;	    /* 0: the default, 0660 */
};

struct vsd_port_opts {
	const char *sw, *name, *type, *connect, *ifname;
};

/* switch.c */
int vsd_switch_create(struct vsd *d, const struct vsd_switch_opts *o, struct vsd_err *e);
int vsd_switch_delete(struct vsd *d, const char *name, struct vsd_err *e);
struct vsd_switch *vsd_switch_find(struct vsd *d, const char *name);
/* Change who may plug in (uid/gid -1 leaves one unchanged, mode 0 too). */
int vsd_switch_set_access(struct vsd *d, const char *name, int64_t uid, int64_t gid,
			  unsigned mode, struct vsd_err *e);
/* Recreate a host vNIC deleted from outside (and its addresses, for an
 * external switch). */
int vsd_switch_repair(struct vsd *d, const char *name, struct vsd_err *e);
/* Give a socket of this switch its owner, group and mode. */
int vsd_switch_socket_perms(struct vsd_switch *vs, const char *path);
/* Restore one switch from its saved record (at start). */
int vsd_switch_restore(struct vsd *d, const json_t *rec, struct vsd_err *e);
/* Close every switch without touching the host (daemon exit). */
void vsd_switch_close_all(struct vsd *d);
/* Is ifname used by any switch (uplink, netdev port or host vNIC)? */
bool vsd_ifname_in_use(struct vsd *d, const char *ifname);

/* ports.c */
int vsd_port_add(struct vsd *d, const struct vsd_port_opts *o, struct vsd_err *e);
int vsd_port_delete(struct vsd *d, const char *sw, const char *name, struct vsd_err *e);
int vsd_port_set_max_macs(struct vsd *d, const char *sw, const char *name, uint32_t max,
			  struct vsd_err *e);
/* Create a port of any type on vs (also used for host and uplink ports). */
int vsd_port_open(struct vsd_switch *vs, const struct vsd_port_opts *o, int fd, bool restoring,
		  struct vsd_port **out, struct vsd_err *e);
void vsd_port_close(struct vsd_port *vp, bool restore_host);
struct vsd_port *vsd_port_find(struct vsd_switch *vs, const char *name);
int vsd_plug_listen(struct vsd_switch *vs, struct vsd_err *e);
void vsd_plug_close(struct vsd_switch *vs);
/* The QEMU arguments that plug a VM into a port, or NULL. */
char *vsd_port_qemu_args(struct vsd_port *vp);
bool vsd_port_name_reserved(const char *name);
/* Take an attached interface off the host's IP stack (again). */
int vsd_apply_moved(int ifindex, const struct hn_ifconfig *cfg);
int vsd_iface_strip(const char *ifname, const struct vsd_saved *saved);
int vsd_iface_restore(const char *ifname, const struct vsd_saved *saved,
		      const struct hn_ifconfig *cfg);
int vsd_saved_capture(const char *ifname, struct vsd_saved *out, struct vsd_err *e);
void vsd_saved_free(struct vsd_saved *s);
json_t *vsd_saved_to_json(const struct vsd_saved *s);
int vsd_saved_from_json(const json_t *j, struct vsd_saved *out);

/* state.c: STATEDIR/vswitchd.json, written atomically. */
int vsd_state_save(struct vsd *d, struct vsd_err *e);
/* 0 and *found = false when there is no state file yet. */
int vsd_state_load(struct vsd *d, bool *found, struct vsd_err *e);
void vsd_state_fini(void);

/* counters.c: STATEDIR/counters.json, port counters across restarts.
 * save: when they changed (or force); load: after the state is restored. */
int vsd_counters_save(struct vsd *d, bool force);
void vsd_counters_load(struct vsd *d);

/* render.c: what the control API returns. */
json_t *vsd_render_switch(struct vsd_switch *vs);
json_t *vsd_render_port(struct vsd_port *vp);
json_t *vsd_render_ports(struct vsd_switch *vs);
json_t *vsd_render_fdb(struct vsd_switch *vs);

/* ctl.c */
int vsd_ctl_open(struct vsd *d);
void vsd_ctl_close(void);
/* Handle one request object; returns the response object. For tests/fuzz. */
json_t *vsd_ctl_handle(struct vsd *d, const char *req, size_t len);

#endif
