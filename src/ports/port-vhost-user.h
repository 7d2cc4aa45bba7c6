/* vhost-user ports: a VM's virtio-net device (QEMU `-netdev vhost-user`, DPDK
 * virtio_user) attached to the switch, its rings in the VM's own memory.
 *
 * The switch is the vhost-user backend.  Without --connect it listens on the
 * port's socket and takes one frontend at a time; with --connect it connects
 * to a frontend that listens (QEMU `server=on`) and reconnects whenever the
 * connection drops, so a VM survives a switch restart.  The port is up while
 * the guest's driver runs the device (both rings started and enabled).
 *
 * The protocol and ring code is in src/ports/vhost/ (README.md there); this
 * file is the glue to the event loop and the switch.
 */
#ifndef VS_PORT_VHOST_USER_H
#define VS_PORT_VHOST_USER_H

#include "port.h"

extern const struct port_ops port_vhost_user_ops;

/* For unit tests, which drive a port without running the loop: what the
 * loop would do when the control socket is readable, and when the guest's
 * TX ring kicks. */
void vhost_user_test_conn_readable(struct port *p);
void vhost_user_test_kick(struct port *p);
/* Whether the port asked the guest for TX kicks (it sleeps on them). */
bool vhost_user_test_kicks_on(struct port *p);

#endif
