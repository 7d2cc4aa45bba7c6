/* vswitchctl: a thin client of vswitchd's control socket.
 *
 * Each command group (switch, port, fdb, stats) is a file with a table of
 * {name, fn, help}; a command parses its arguments into a request, sends it
 * with cli_call(), and prints the result with the one printer (print.c),
 * which emits text or JSON from the same object.
 *
 * Exit status: 0 success; 1 the daemon refused or failed (message on stderr,
 * starting with "vswitchctl: "); 2 usage errors.
 */
#ifndef VS_CLI_H
#define VS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#define EXIT_FAIL 1
#define EXIT_USAGE 2

struct cli {
	const char *rundir;
	bool json;
};
extern struct cli cli;

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage; /* arguments, after "GROUP NAME " */
	const char *help;  /* one line */
};

struct cli_group {
	const char *name;
	const struct cli_cmd *cmds; /* NULL-terminated; a group with one nameless
				     * command (stats) has name NULL there */
	const char *help;
};

extern const struct cli_group cli_group_switch, cli_group_port, cli_group_fdb, cli_group_stats;

/* Send {"cmd": cmd, "args": args} (steals args); on success print nothing and
 * return the result (new reference) in *result.  On failure print the error
 * and return the exit status.  confirm: the request may be retried with
 * "yes": true after asking on a terminal. */
int cli_call(const char *cmd, json_t *args, json_t **result, bool confirm);

/* Errors. */
int cli_usage_error(const char *group, const struct cli_cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void cli_print_cmd_help(const char *group, const struct cli_cmd *c);
void cli_print_group_help(const struct cli_group *g, FILE *f);

/* Argument parsing: options of a command, in any order among positionals. */
struct cli_opt {
	const char *name;  /* "--type" */
	bool has_value;
	const char **value; /* set to the value, or "" for a flag that is present */
};
/* Fills opts and up to max_pos positionals; returns the number of
 * positionals, or -1 after printing a usage error (--help prints help and
 * returns -2). */
int cli_parse(int argc, char **argv, struct cli_opt *opts, const char **pos, int max_pos,
	      const char *group, const struct cli_cmd *c);
/* Parse a non-negative integer option; -1 after a usage error. */
int cli_uint(const char *s, const char *opt, json_int_t max, json_int_t *out, const char *group,
	     const struct cli_cmd *c);

/* print.c: the one printer. */
struct col {
	const char *header;
	const char *key; /* "stats.rx_packets": a path into the object */
};
void print_result(json_t *result, const struct col *cols); /* table for arrays */
void print_object(json_t *obj, const char *const *keys);    /* "key: value" lines */
void print_json(json_t *j);

#endif
