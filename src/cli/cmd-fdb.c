/* vswitchctl fdb show|flush, and vswitchctl stats */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct cli_cmd fdb_cmds[];
static const struct cli_cmd stats_cmds[];

static const struct col fdb_cols[] = {
	{ "MAC", "mac" }, { "VLAN", "vlan" }, { "PORT", "port" }, { "AGE", "age" }, { NULL, NULL },
};

static int switch_and_port(int argc, char **argv, const char *group, const struct cli_cmd *c,
			   const char **pos, int max)
{
	struct cli_opt opts[] = { { NULL, false, NULL } };
	int n = cli_parse(argc, argv, opts, pos, max, group, c);
	if (n == -2)
		return -2;
	if (n < 0)
		return -1;
	if (n < 1) {
		cli_usage_error(group, c, "needs SWITCH");
		return -1;
	}
	return n;
}

static int do_fdb_show(int argc, char **argv)
{
	const char *pos[1];
	int n = switch_and_port(argc, argv, "fdb", &fdb_cmds[0], pos, 1);
	if (n < 0)
		return n == -2 ? 0 : EXIT_USAGE;
	json_t *res = NULL;
	int r = cli_call("fdb.show", json_pack("{s:s}", "switch", pos[0]), &res, false);
	if (r)
		return r;
	print_result(res, fdb_cols);
	json_decref(res);
	return 0;
}

static int do_fdb_flush(int argc, char **argv)
{
	const char *pos[2] = { NULL, NULL };
	int n = switch_and_port(argc, argv, "fdb", &fdb_cmds[1], pos, 2);
	if (n < 0)
		return n == -2 ? 0 : EXIT_USAGE;
	json_t *res = NULL;
	int r = cli_call("fdb.flush", json_pack("{s:s, s:s?}", "switch", pos[0], "port", pos[1]),
			 &res, false);
	if (r)
		return r;
	if (cli.json)
		print_json(res);
	else
		printf("%lld entries flushed\n",
		       (long long)json_integer_value(json_object_get(res, "flushed")));
	json_decref(res);
	return 0;
}

static const struct col stats_cols[] = {
	{ "PORT", "name" },
	{ "STATE", "state" },
	{ "RX-PKTS", "stats.rx_packets" },
	{ "RX-BYTES", "stats.rx_bytes" },
	{ "TX-PKTS", "stats.tx_packets" },
	{ "TX-BYTES", "stats.tx_bytes" },
	{ "RX-DROP", "stats.rx_dropped" },
	{ "TX-DROP", "stats.tx_dropped" },
	{ "RX-FLOOD", "stats.rx_flooded" },
	{ "TX-FLOOD", "stats.tx_flooded" },
	{ "MACS", "stats.macs" },
	{ NULL, NULL },
};

/* The reasons behind non-zero drop counters, one line per port. */
static void print_drop_reasons(json_t *ports)
{
	size_t i;
	json_t *p;
	bool header = false;
	json_array_foreach(ports, i, p)
	{
		json_t *st = json_object_get(p, "stats");
		const char *k;
		json_t *v;
		char line[512];
		size_t off = 0;
		line[0] = 0;
		json_object_foreach(st, k, v)
		{
			if ((strncmp(k, "rx_drop_", 8) == 0 || strncmp(k, "tx_drop_", 8) == 0 ||
			     strcmp(k, "learn_refused") == 0 || strcmp(k, "resets") == 0) &&
			    json_integer_value(v) > 0) {
				int n = snprintf(line + off, sizeof(line) - off, " %s=%lld", k,
						 (long long)json_integer_value(v));
				if (n > 0 && (size_t)n < sizeof(line) - off)
					off += (size_t)n;
			}
		}
		if (!off)
			continue;
		if (!header)
			printf("\ndrops by reason:\n");
		header = true;
		printf("  %s:%s\n", json_string_value(json_object_get(p, "name")), line);
	}
}

static int do_stats(int argc, char **argv)
{
	const char *pos[2] = { NULL, NULL };
	int n = switch_and_port(argc, argv, "stats", &stats_cmds[0], pos, 2);
	if (n < 0)
		return n == -2 ? 0 : EXIT_USAGE;
	json_t *res = NULL, *sw = NULL;
	int r = cli_call("stats", json_pack("{s:s, s:s?}", "switch", pos[0], "port", pos[1]), &res,
			 false);
	if (r)
		return r;
	if (cli.json) {
		print_json(res);
		json_decref(res);
		return 0;
	}
	if (cli_call("switch.show", json_pack("{s:s}", "name", pos[0]), &sw, false) == 0) {
		json_t *s = json_object_get(sw, "stats");
		printf("switch %s: %lld MACs (max %lld), %lld learned, %lld moved, %lld expired, "
		       "%lld refused (table full), %lld frames flooded\n\n",
		       pos[0], (long long)json_integer_value(json_object_get(s, "macs")),
		       (long long)json_integer_value(json_object_get(sw, "max_macs")),
		       (long long)json_integer_value(json_object_get(s, "learned")),
		       (long long)json_integer_value(json_object_get(s, "moved")),
		       (long long)json_integer_value(json_object_get(s, "expired")),
		       (long long)json_integer_value(json_object_get(s, "table_full")),
		       (long long)json_integer_value(json_object_get(s, "flooded")));
		json_decref(sw);
	}
	print_result(res, stats_cols);
	print_drop_reasons(res);
	json_decref(res);
	return 0;
}

static const struct cli_cmd fdb_cmds[] = {
	{ "show", do_fdb_show, "SWITCH", "Show the MAC table: which station is behind which port." },
	{ "flush", do_fdb_flush, "SWITCH [PORT]",
	  "Forget learned MACs (of one port); frames to them are flooded until relearned." },
	{ NULL, NULL, NULL, NULL },
};

static const struct cli_cmd stats_cmds[] = {
	{ NULL, do_stats, "SWITCH [PORT]",
	  "Per-port counters: packets, bytes, drops by reason, flooding; and the switch's table." },
	{ NULL, NULL, NULL, NULL },
};

const struct cli_group cli_group_fdb = { "fdb", fdb_cmds, "The MAC table (forwarding database)." };
const struct cli_group cli_group_stats = { "stats", stats_cmds, "Counters." };
