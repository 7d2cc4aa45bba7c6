/* vswitchctl: see vswitchctl(8) and cli.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

struct cli cli;

static const struct cli_group *const groups[] = {
	&cli_group_switch,
	&cli_group_port,
	&cli_group_fdb,
	&cli_group_stats,
};
#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: vswitchctl [--rundir DIR] [--json] COMMAND\n\ncommands:\n");
	for (size_t i = 0; i < NGROUPS; i++) {
		for (const struct cli_cmd *c = groups[i]->cmds; c->fn; c++)
			fprintf(f, "  %s%s%s %s\n", groups[i]->name, c->name ? " " : "",
				c->name ? c->name : "", c->usage);
	}
	fprintf(f, "\n  --rundir DIR  where vswitchd's socket is (default $VSWITCH_RUNDIR or "
		   "/run/vswitch)\n  --json        machine-readable output\n"
		   "\n`vswitchctl GROUP --help` and `vswitchctl GROUP COMMAND --help` say more.\n");
}

void cli_print_cmd_help(const char *group, const struct cli_cmd *c)
{
	printf("usage: vswitchctl %s%s%s %s\n\n%s\n", group, c->name ? " " : "",
	       c->name ? c->name : "", c->usage, c->help);
}

void cli_print_group_help(const struct cli_group *g, FILE *f)
{
	fprintf(f, "%s\n\nusage:\n", g->help);
	for (const struct cli_cmd *c = g->cmds; c->fn; c++)
		fprintf(f, "  vswitchctl %s%s%s %s\n      %s\n", g->name, c->name ? " " : "",
			c->name ? c->name : "", c->usage, c->help);
}

int cli_usage_error(const char *group, const struct cli_cmd *c, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "vswitchctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (c)
		fprintf(stderr, "\nusage: vswitchctl %s%s%s %s\n", group, c->name ? " " : "",
			c->name ? c->name : "", c->usage);
	else
		fprintf(stderr, "\n(vswitchctl --help lists the commands)\n");
	return EXIT_USAGE;
}

int cli_parse(int argc, char **argv, struct cli_opt *opts, const char **pos, int max_pos,
	      const char *group, const struct cli_cmd *c)
{
	int npos = 0;
	for (struct cli_opt *o = opts; o && o->name; o++)
		*o->value = NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			cli_print_cmd_help(group, c);
			return -2;
		}
		if (a[0] == '-' && a[1]) {
			struct cli_opt *o = opts;
			for (; o && o->name; o++)
				if (strcmp(o->name, a) == 0)
					break;
			if (!o || !o->name) {
				cli_usage_error(group, c, "unknown option '%s'", a);
				return -1;
			}
			if (*o->value) {
				cli_usage_error(group, c, "%s given twice", a);
				return -1;
			}
			if (o->has_value) {
				if (i + 1 >= argc) {
					cli_usage_error(group, c, "%s needs a value", a);
					return -1;
				}
				*o->value = argv[++i];
			} else {
				*o->value = "";
			}
			continue;
		}
		if (npos == max_pos) {
			cli_usage_error(group, c, "unexpected argument '%s'", a);
			return -1;
		}
		pos[npos++] = a;
	}
	return npos;
}

int cli_uint(const char *s, const char *opt, json_int_t max, json_int_t *out, const char *group,
	     const struct cli_cmd *c)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-' || v > (unsigned long long)max) {
		cli_usage_error(group, c, "%s needs a number from 0 to %lld, not '%s'", opt,
				(long long)max, s);
		return -1;
	}
	*out = (json_int_t)v;
	return 0;
}

static int connect_daemon(char *path, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int n = snprintf(path, len, "%s/vswitchd.sock", cli.rundir);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		fprintf(stderr, "vswitchctl: socket path %s is too long\n", path);
		return -1;
	}
	memcpy(sun.sun_path, path, (size_t)n);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "vswitchctl: cannot reach vswitchd at %s: %s (is vswitchd running? "
				"--rundir or VSWITCH_RUNDIR select another one)\n",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* One request, one response line. */
static json_t *roundtrip(json_t *req)
{
	char path[256];
	int fd = connect_daemon(path, sizeof(path));
	if (fd < 0)
		return NULL;
	char *s = json_dumps(req, JSON_COMPACT);
	json_t *resp = NULL;
	if (!s)
		goto out;
	size_t len = strlen(s);
	const char *p = s;
	size_t left = len;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto io_err;
		p += n;
		left -= (size_t)n;
	}
	if (write(fd, "\n", 1) != 1)
		goto io_err;
	size_t cap = 65536, got = 0;
	char *buf = malloc(cap);
	if (!buf)
		goto out;
	for (;;) {
		if (got == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				goto out;
			}
			buf = nb;
		}
		ssize_t n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(buf + got - (size_t)n, '\n', (size_t)n))
			break;
	}
	json_error_t je;
	resp = json_loadb(buf, got, JSON_DISABLE_EOF_CHECK, &je);
	if (!resp)
		fprintf(stderr, "vswitchctl: no valid response from vswitchd (%s)\n",
			got ? je.text : "connection closed");
	free(buf);
	goto out;
io_err:
	fprintf(stderr, "vswitchctl: talking to vswitchd: %s\n", strerror(errno));
out:
	free(s);
	close(fd);
	return resp;
}

static bool ask(const char *msg)
{
	if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
		return false;
	fprintf(stderr, "%s\nContinue? [y/N] ", msg);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

int cli_call(const char *cmd, json_t *args, json_t **result, bool confirm)
{
	json_t *req = json_pack("{s:s, s:o}", "cmd", cmd, "args", args ? args : json_object());
	for (;;) {
		json_t *resp = roundtrip(req);
		if (!resp) {
			json_decref(req);
			return EXIT_FAIL;
		}
		if (json_is_true(json_object_get(resp, "ok"))) {
			*result = json_incref(json_object_get(resp, "result"));
			json_decref(resp);
			json_decref(req);
			return 0;
		}
		const char *err = json_string_value(json_object_get(resp, "error"));
		const char *code = json_string_value(json_object_get(resp, "code"));
		if (confirm && code && strcmp(code, "confirm") == 0) {
			if (ask(err)) {
				json_object_set_new(json_object_get(req, "args"), "yes", json_true());
				json_decref(resp);
				continue;
			}
			fprintf(stderr, "vswitchctl: %s. Nothing was changed; pass --yes to confirm.\n",
				err);
		} else {
			fprintf(stderr, "vswitchctl: %s\n", err ? err : "request failed");
		}
		json_decref(resp);
		json_decref(req);
		return EXIT_FAIL;
	}
}

int main(int argc, char **argv)
{
	cli.rundir = getenv("VSWITCH_RUNDIR");
	int i = 1;
	/* Global options come before the command. */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			cli.json = true;
		} else if (strcmp(argv[i], "--rundir") == 0 && i + 1 < argc) {
			cli.rundir = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			return cli_usage_error("", NULL, "unknown option '%s'", argv[i]);
		}
	}
	if (!cli.rundir || !*cli.rundir)
		cli.rundir = "/run/vswitch";
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *gname = argv[i++];
	const struct cli_group *g = NULL;
	for (size_t k = 0; k < NGROUPS; k++)
		if (strcmp(groups[k]->name, gname) == 0)
			g = groups[k];
	if (!g)
		return cli_usage_error(gname, NULL, "unknown command '%s'", gname);
	/* --json may also follow the command. */
	int n = 0;
	for (int k = i; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0)
			cli.json = true;
		else
			argv[i + n++] = argv[k];
	}
	argc = i + n;
	const struct cli_cmd *c = g->cmds;
	if (c->name) {
		if (i >= argc || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			if (i >= argc) {
				fprintf(stderr, "vswitchctl: %s needs a command\n", g->name);
				cli_print_group_help(g, stderr);
				return EXIT_USAGE;
			}
			cli_print_group_help(g, stdout);
			return 0;
		}
		for (; c->fn; c++)
			if (strcmp(c->name, argv[i]) == 0)
				break;
		if (!c->fn)
			return cli_usage_error(g->name, NULL, "unknown command '%s %s'", g->name,
					       argv[i]);
		i++;
	}
	return c->fn(argc - i, argv + i);
}
