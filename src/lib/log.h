/* Logging to stderr with levels, and a rate limiter for messages a peer can
 * trigger at will (a hostile guest must not be able to flood the log). */
#ifndef VS_LOG_H
#define VS_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

extern enum log_level log_min_level;

int log_parse_level(const char *s, enum log_level *out);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) do { if (log_min_level <= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* At most `burst` messages per `interval_s` seconds; the rest are counted and
 * their number is reported with the next message that gets through. */
struct ratelimit {
	uint32_t interval_s;
	uint32_t burst;
	uint64_t window_start;
	uint32_t printed;
	uint32_t suppressed;
};
#define RATELIMIT_INIT(interval, burst_) { .interval_s = (interval), .burst = (burst_) }

bool ratelimit_ok(struct ratelimit *rl);

/* Log through a rate limiter: for conditions a remote peer controls. */
#define log_warn_rl(rl, ...) do { if (ratelimit_ok(rl)) log_msg(LOG_WARN, __VA_ARGS__); } while (0)
#define log_error_rl(rl, ...) do { if (ratelimit_ok(rl)) log_msg(LOG_ERROR, __VA_ARGS__); } while (0)

#endif
