#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

/* One descriptor kept in reserve for accept_or_shed(). */
static int reserve_fd = -1;

void accept_reserve_init(void)
{
	if (reserve_fd < 0)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int accept_or_shed(int fd)
{
	accept_reserve_init();
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c >= 0 || (errno != EMFILE && errno != ENFILE) || reserve_fd < 0)
		return c;
	static struct ratelimit rl = RATELIMIT_INIT(10, 1);
	log_warn_rl(&rl, "out of file descriptors (%s): refusing new connections; raise "
		    "the open files limit (ulimit -n, LimitNOFILE=)", strerror(errno));
	close(reserve_fd);
	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (c >= 0)
		close(c);
	reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	errno = EMFILE;
	return -1;
}

int vs_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n < 1 || n > VS_NAME_MAX)
		return 0;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

int fault_fail(const char *point)
{
	const char *f = getenv("VSWITCH_FAULT");
	char want[96];
	if (!f)
		return 0;
	snprintf(want, sizeof(want), "fail:%s", point);
	for (const char *s = strstr(f, want); s; s = strstr(s + 1, want)) {
		char end = s[strlen(want)];
		if ((s == f || s[-1] == ',') && (end == 0 || end == ','))
			return 1;
	}
	return 0;
}
