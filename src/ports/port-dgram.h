#ifndef VS_PORT_DGRAM_H
#define VS_PORT_DGRAM_H

#include "port.h"

/* QEMU's `-netdev dgram` over UNIX datagram sockets: one frame per datagram. */
extern const struct port_ops port_dgram_ops;

#endif
