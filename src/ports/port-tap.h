#ifndef VS_PORT_TAP_H
#define VS_PORT_TAP_H

#include <stdbool.h>

#include "port.h"

/* The host vNIC backend (type "host"). */
extern const struct port_ops port_tap_ops;

/* Open (creating if needed) the TAP `ifname` with a vnet header; persistent if
 * asked.  Returns the fd or -errno. */
int tap_open_fd(const char *ifname, bool persist);
/* Remove a persistent TAP. */
int tap_destroy(const char *ifname);

#endif
