/* Receive moderation, for backends the kernel wakes once per frame or per
 * write (AF_PACKET rings, TAP, datagram and stream sockets): a NIC's interrupt coalescing
 * (ethtool rx-usecs), or NAPI's poll-until-empty, for a socket.
 *
 * Under load such a wakeup finds a frame or two, and costs the sender (the
 * kernel wakes us in its context) and us more than the frames do.  So once
 * a wakeup finds RXMOD_MIN frames or more, the backend's watch goes quiet
 * and an alarm (loop_alarm: no descriptor, no system call) reads instead, usecs after the previous read began (at once
 * if that read took longer: a switch that is the bottleneck must not sit
 * idle), until a read finds fewer and the watch is handed back; while the kernel
 * holds a backlog, the loop's next pass reads instead of the alarm.  A lone
 * frame (ping, request and response) is read on its wakeup, at once; under
 * load a frame waits at most the window.  Frames read on the alarm are
 * counted in rx_moderated.
 *
 * The window adapts, like a NIC's adaptive coalescing: it starts at usecs,
 * doubles (up to usecs_max) after a read that found RXMOD_GROW frames or
 * more but less than a burst, halves after a read of RXMOD_BIG_BYTES, of
 * half the most one read takes, or of less than half RXMOD_GROW (the rate
 * fell: the window is longer than it needs), and starts again at usecs
 * when the port goes quiet.  A steady stream of small frames is then read a burst at a
 * time instead of a few frames per wakeup; a stream of big frames (TCP
 * segments of 64 KiB), whose latency matters more than the wakeups, and an
 * ACK stream, whose reads find a frame or two, keep the short window.
 * doc/design.md has the measurements.
 *
 * The backend keeps its watch and gives a function that reads up to a burst
 * (a stream socket: one read) and returns how many frames it took off the
 * kernel.  Its watch callback handles errors, then calls rxmod_wakeup().
 * Moderation turns only the watch's EPOLLIN off and on.
 */
#ifndef VS_RXMOD_H
#define VS_RXMOD_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "port.h"

struct rxmod {
	struct port *p;
	struct loop_watch *w;		   /* the backend's receive watch */
	unsigned (*burst)(struct port *p); /* read up to a burst; frames taken */
	unsigned usecs, usecs_max;	   /* the window's range; usecs 0: off */
	unsigned win;			   /* the window now */
	struct loop_alarm alarm;	   /* the next read while moderating */
	struct loop_soon soon; /* a backlog: read again on the next pass */
	bool on; /* moderating: w is quiet, the alarm reads */
};

void rxmod_init(struct rxmod *m, struct port *p, struct loop_watch *w,
		unsigned (*burst)(struct port *p), unsigned usecs, unsigned usecs_max);
/* When the backend's watch goes (close, interface lost). */
void rxmod_stop(struct rxmod *m);
/* The watch fired: read a burst; go quiet if it held RXMOD_MIN or more. */
void rxmod_wakeup(struct rxmod *m);
/* EPOLLIN, or 0 while the watch is quiet: for a backend that changes its
 * watch's other events (EPOLLOUT) itself. */
uint32_t rxmod_events(const struct rxmod *m);

#endif
