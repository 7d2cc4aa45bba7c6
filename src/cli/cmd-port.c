/* vswitchctl port add|delete|list|show */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct cli_cmd cmds[];
#define G "port"

static const struct col port_cols[] = {
	{ "PORT", "name" },	    { "TYPE", "type" },		 { "STATE", "state" },
	{ "SOCKET", "socket" },	    { "IFNAME", "ifname" },	 { "RX", "stats.rx_packets" },
	{ "TX", "stats.tx_packets" }, { "MACS", "stats.macs" }, { NULL, NULL },
};

static void print_port(json_t *p)
{
	static const char *const keys[] = {
		"name",		      "type",		  "state",	       "socket",
		"connect",	      "ifname",		  "stats.rx_packets", "stats.rx_bytes",
		"stats.tx_packets",   "stats.tx_bytes",	  "stats.rx_dropped", "stats.tx_dropped",
		"stats.macs",	      "max_macs",	  "qemu",	       NULL,
	};
	print_object(p, keys);
}

static int do_add(int argc, char **argv)
{
	const char *type, *connect, *ifname, *pos[2];
	struct cli_opt opts[] = {
		{ "--type", true, &type },
		{ "--connect", true, &connect },
		{ "--ifname", true, &ifname },
		{ NULL, false, NULL },
	};
	int n = cli_parse(argc, argv, opts, pos, 2, G, &cmds[0]);
	if (n < 0)
		return n == -2 ? 0 : EXIT_USAGE;
	if (n != 2)
		return cli_usage_error(G, &cmds[0], "needs SWITCH and PORT");
	if (!type)
		return cli_usage_error(G, &cmds[0], "missing --type");
	json_t *res = NULL;
	int r = cli_call("port.add",
			 json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "switch", pos[0], "name", pos[1],
				   "type", type, "connect", connect, "ifname", ifname),
			 &res, false);
	if (r)
		return r;
	print_port(res);
	json_decref(res);
	return 0;
}

static int two_names(int argc, char **argv, const struct cli_cmd *c, const char **pos, int want)
{
	struct cli_opt opts[] = { { NULL, false, NULL } };
	int n = cli_parse(argc, argv, opts, pos, want, G, c);
	if (n == -2)
		return -2;
	if (n < 0)
		return EXIT_USAGE;
	if (n != want)
		return cli_usage_error(G, c, want == 2 ? "needs SWITCH and PORT" : "needs SWITCH");
	return 0;
}

static int do_delete(int argc, char **argv)
{
	const char *pos[2];
	int r = two_names(argc, argv, &cmds[1], pos, 2);
	if (r)
		return r == -2 ? 0 : r;
	json_t *res = NULL;
	r = cli_call("port.delete", json_pack("{s:s, s:s}", "switch", pos[0], "name", pos[1]), &res,
		     false);
	json_decref(res);
	return r;
}

static int do_set(int argc, char **argv)
{
	const char *maxmacs, *pos[2];
	struct cli_opt opts[] = { { "--max-macs", true, &maxmacs }, { NULL, false, NULL } };
	int n = cli_parse(argc, argv, opts, pos, 2, G, &cmds[4]);
	if (n < 0)
		return n == -2 ? 0 : EXIT_USAGE;
	if (n != 2)
		return cli_usage_error(G, &cmds[4], "needs SWITCH and PORT");
	if (!maxmacs)
		return cli_usage_error(G, &cmds[4], "give --max-macs N");
	json_int_t v;
	if (cli_uint(maxmacs, "--max-macs", 0xfffffffeLL, &v, G, &cmds[4]) < 0)
		return EXIT_USAGE;
	json_t *res = NULL;
	int r = cli_call("port.set",
			 json_pack("{s:s, s:s, s:I}", "switch", pos[0], "name", pos[1], "max_macs", v),
			 &res, false);
	if (r)
		return r;
	print_port(res);
	json_decref(res);
	return 0;
}

static int do_list(int argc, char **argv)
{
	const char *pos[1];
	int r = two_names(argc, argv, &cmds[2], pos, 1);
	if (r)
		return r == -2 ? 0 : r;
	json_t *res = NULL;
	r = cli_call("port.list", json_pack("{s:s}", "switch", pos[0]), &res, false);
	if (r)
		return r;
	print_result(res, port_cols);
	json_decref(res);
	return 0;
}

static int do_show(int argc, char **argv)
{
	const char *pos[2];
	int r = two_names(argc, argv, &cmds[3], pos, 2);
	if (r)
		return r == -2 ? 0 : r;
	json_t *res = NULL;
	r = cli_call("port.show", json_pack("{s:s, s:s}", "switch", pos[0], "name", pos[1]), &res,
		     false);
	if (r)
		return r;
	print_port(res);
	json_decref(res);
	return 0;
}

static const struct cli_cmd cmds[] = {
	{ "add", do_add, "SWITCH PORT --type stream|dgram|netdev|vhost-user [--connect PATH] [--ifname IFNAME]",
	  "Add a named port. stream/dgram/vhost-user: the switch listens on RUNDIR/SWITCH/PORT.sock, "
	  "or with --connect connects to a socket QEMU serves (and reconnects). netdev: attach an "
	  "existing kernel interface (e.g. a container's veth), taking it off the host's IP stack." },
	{ "delete", do_delete, "SWITCH PORT", "Remove a port; an attached interface gets its settings back." },
	{ "list", do_list, "SWITCH", "List the ports of a switch." },
	{ "show", do_show, "SWITCH PORT",
	  "Show a port, its counters, and the QEMU arguments that plug a VM into it." },
	{ "set", do_set, "SWITCH PORT --max-macs N",
	  "Cap how many MACs the switch learns from this port (0: no cap); a guest flooding "
	  "source addresses then fills its share, not the table." },
	{ NULL, NULL, NULL, NULL },
};

const struct cli_group cli_group_port = { "port", cmds, "Ports of a switch." };
