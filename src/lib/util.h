/* Small helpers shared by every layer. */
#ifndef VS_UTIL_H
#define VS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Names of switches and ports: 1..15 of [A-Za-z0-9_.-], not "." or "..".
 * They become interface names and file names, so nothing else may pass. */
#define VS_NAME_MAX 15
int vs_name_valid(const char *name);

/* Monotonic seconds, from the vDSO (no syscall). */
static inline uint32_t mono_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)ts.tv_sec;
}

static inline uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Fault injection for the tests: with VSWITCH_FAULT="fail:POINT[,fail:POINT]"
 * in the environment, fault_fail("POINT") is true and the code there fails as
 * if the step had.  Off (and one getenv) otherwise. */
int fault_fail(const char *point);

/* accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), except that when
 * the process is out of file descriptors the waiting connection is taken
 * and closed at once (with a rate-limited log line) instead of staying
 * queued: a listener that stays readable would make a level-triggered
 * event loop spin.  -1 with errno set if there is no connection. */
int accept_or_shed(int fd);
/* Open accept_or_shed()'s reserve descriptor now, at start-up: opened on
 * the first accept it could find the descriptors already gone. */
void accept_reserve_init(void);

#endif
