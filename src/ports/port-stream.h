#ifndef VS_PORT_STREAM_H
#define VS_PORT_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "port.h"

/* QEMU's `-netdev stream` (and `-netdev socket`) framing over a UNIX stream
 * socket: a 4-byte big-endian length, then the frame. */
extern const struct port_ops port_stream_ops;

#define STREAM_HDR_LEN 4

/* The framing reader, apart from sockets so that tests and the fuzzer can
 * drive it.  stream_parse() takes whole frames from buf[0..len) and calls
 * frame(arg, data, flen) for each; returns the number of bytes consumed
 * (a partial frame stays for the next call), or -EPROTO for a length of 0 or
 * above PKT_MAX_FRAME. */
int stream_parse(const uint8_t *buf, size_t len,
		 void (*frame)(void *arg, const uint8_t *data, uint32_t flen), void *arg);

/* Bind and listen on a UNIX socket path, replacing a stale socket file
 * (refuses to replace anything that is not a socket).  Returns the fd. */
int unix_listen(const char *path, int type);

#endif
