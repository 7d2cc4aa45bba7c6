#ifndef VS_PORT_AFPACKET_H
#define VS_PORT_AFPACKET_H

#include "port.h"

/* A kernel interface attached through an AF_PACKET socket: "netdev" ports
 * (a container's veth) and the "uplink" of an external switch. */
extern const struct port_ops port_netdev_ops;
extern const struct port_ops port_uplink_ops;

#endif
