/* vswitchctl switch create|delete|list|show */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct cli_cmd cmds[];
#define G "switch"

static const struct col switch_cols[] = {
	{ "NAME", "name" },	    { "TYPE", "type" },	      { "UPLINK", "uplink" },
	{ "HOST-NIC", "host_nic" }, { "MTU", "mtu" },	      { "MACS", "stats.macs" },
	{ "PLUG", "plug" },	    { NULL, NULL },
};

static const struct col port_cols[] = {
	{ "PORT", "name" },	     { "TYPE", "type" },	     { "STATE", "state" },
	{ "IFNAME/SOCKET", "socket" }, { "RX", "stats.rx_packets" }, { "TX", "stats.tx_packets" },
	{ "RX-DROP", "stats.rx_dropped" }, { "TX-DROP", "stats.tx_dropped" },
	{ "MACS", "stats.macs" },    { NULL, NULL },
};

/* Show the interface name where a port has no socket. */
static void ports_fill_socket(json_t *ports)
{
	size_t i;
	json_t *p;
	json_array_foreach(ports, i, p)
	{
		json_t *s = json_object_get(p, "socket");
		if (!json_is_string(s)) {
			json_t *alt = json_object_get(p, "ifname");
			if (!json_is_string(alt))
				alt = json_object_get(p, "connect");
			json_object_set(p, "socket", alt ? alt : json_null());
		}
	}
}

static void print_switch(json_t *sw)
{
	static const char *const keys[] = { "name",	    "type",	     "uplink",
					    "host_nic",	    "mtu",	     "aging",
					    "max_macs",	    "plug",	     "access.owner",
					    "access.group", "access.mode",   "stats.macs",
					    "stats.learned", "stats.moved",  "stats.expired",
					    "stats.table_full", "stats.flooded", NULL };
	if (cli.json) {
		print_json(sw);
		return;
	}
	print_object(sw, keys);
	printf("\n");
	json_t *ports = json_deep_copy(json_object_get(sw, "ports"));
	ports_fill_socket(ports);
	print_result(ports, port_cols);
	json_decref(ports);
}

static int do_create(int argc, char **argv)
{
	const char *type, *uplink, *nonic, *yes, *mtu, *aging, *maxmacs, *owner, *group, *mode,
		*pos[1];
	struct cli_opt opts[] = {
		{ "--type", true, &type },	{ "--uplink", true, &uplink }, { "--no-host-nic", false, &nonic },
		{ "--yes", false, &yes },	{ "--mtu", true, &mtu },       { "--aging", true, &aging },
		{ "--max-macs", true, &maxmacs }, { "--owner", true, &owner }, { "--group", true, &group },
		{ "--mode", true, &mode },	{ NULL, false, NULL },
	};
	int n = cli_parse(argc, argv, opts, pos, 1, G, &cmds[0]);
	if (n < 0)
		return n == -2 ? 0 : EXIT_USAGE;
	if (n != 1)
		return cli_usage_error(G, &cmds[0], "missing switch NAME");
	if (!type)
		return cli_usage_error(G, &cmds[0], "missing --type external|internal|private");
	json_t *args = json_pack("{s:s, s:s, s:s?, s:b, s:b, s:s?, s:s?, s:s?}", "name", pos[0],
				 "type", type, "uplink", uplink, "no_host_nic", nonic != NULL, "yes",
				 yes != NULL, "owner", owner, "group", group, "mode", mode);
	struct {
		const char *opt, *key, *val;
		json_int_t max;
	} nums[] = { { "--mtu", "mtu", mtu, 0xffffffffLL },
		     { "--aging", "aging", aging, 0xffffffffLL },
		     { "--max-macs", "max_macs", maxmacs, 0xffffffffLL } };
	for (unsigned i = 0; i < 3; i++) {
		json_int_t v;
		if (!nums[i].val)
			continue;
		if (cli_uint(nums[i].val, nums[i].opt, nums[i].max, &v, G, &cmds[0]) < 0) {
			json_decref(args);
			return EXIT_USAGE;
		}
		json_object_set_new(args, nums[i].key, json_integer(v));
	}
	json_t *res = NULL;
	int r = cli_call("switch.create", args, &res, true);
	if (r)
		return r;
	print_switch(res);
	json_decref(res);
	return 0;
}

static int one_name(int argc, char **argv, const struct cli_cmd *c, const char **name)
{
	struct cli_opt opts[] = { { NULL, false, NULL } };
	int n = cli_parse(argc, argv, opts, name, 1, G, c);
	if (n < 0)
		return n == -2 ? -2 : EXIT_USAGE;
	if (n != 1)
		return cli_usage_error(G, c, "missing switch NAME");
	return 0;
}

static int do_delete(int argc, char **argv)
{
	const char *name;
	int r = one_name(argc, argv, &cmds[1], &name);
	if (r)
		return r == -2 ? 0 : r;
	json_t *res = NULL;
	r = cli_call("switch.delete", json_pack("{s:s}", "name", name), &res, false);
	json_decref(res);
	return r;
}

static int do_set(int argc, char **argv)
{
	const char *owner, *group, *mode, *pos[1];
	struct cli_opt opts[] = {
		{ "--owner", true, &owner },
		{ "--group", true, &group },
		{ "--mode", true, &mode },
		{ NULL, false, NULL },
	};
	int n = cli_parse(argc, argv, opts, pos, 1, G, &cmds[4]);
	if (n < 0)
		return n == -2 ? 0 : EXIT_USAGE;
	if (n != 1)
		return cli_usage_error(G, &cmds[4], "missing switch NAME");
	if (!owner && !group && !mode)
		return cli_usage_error(G, &cmds[4], "give --owner, --group or --mode");
	json_t *res = NULL;
	int r = cli_call("switch.set",
			 json_pack("{s:s, s:s?, s:s?, s:s?}", "name", pos[0], "owner", owner, "group",
				   group, "mode", mode),
			 &res, false);
	if (r)
		return r;
	print_switch(res);
	json_decref(res);
	return 0;
}

static int do_repair(int argc, char **argv)
{
	const char *name;
	int r = one_name(argc, argv, &cmds[5], &name);
	if (r)
		return r == -2 ? 0 : r;
	json_t *res = NULL;
	r = cli_call("switch.repair", json_pack("{s:s}", "name", name), &res, false);
	if (r)
		return r;
	print_switch(res);
	json_decref(res);
	return 0;
}

static int do_list(int argc, char **argv)
{
	struct cli_opt opts[] = { { NULL, false, NULL } };
	int n = cli_parse(argc, argv, opts, NULL, 0, G, &cmds[2]);
	if (n < 0)
		return n == -2 ? 0 : EXIT_USAGE;
	json_t *res = NULL;
	int r = cli_call("switch.list", NULL, &res, false);
	if (r)
		return r;
	print_result(res, switch_cols);
	json_decref(res);
	return 0;
}

static int do_show(int argc, char **argv)
{
	const char *name;
	int r = one_name(argc, argv, &cmds[3], &name);
	if (r)
		return r == -2 ? 0 : r;
	json_t *res = NULL;
	r = cli_call("switch.show", json_pack("{s:s}", "name", name), &res, false);
	if (r)
		return r;
	print_switch(res);
	json_decref(res);
	return 0;
}

static const struct cli_cmd cmds[] = {
	{ "create", do_create,
	  "NAME --type external|internal|private [--uplink IFNAME] [--no-host-nic] [--yes] "
	  "[--mtu N] [--aging SECONDS] [--max-macs N] [--owner USER] [--group GROUP] [--mode MODE]",
	  "Create a switch. external: bound to the uplink NIC, whose addresses and routes move to "
	  "a host vNIC named NAME (none with --no-host-nic; --yes confirms). internal: a host "
	  "vNIC, no uplink. private: VMs and containers only." },
	{ "delete", do_delete, "NAME",
	  "Delete a switch and its ports; an external switch gives the uplink its addresses back." },
	{ "list", do_list, "", "List the switches." },
	{ "show", do_show, "NAME", "Show a switch, its counters and its ports." },
	{ "set", do_set, "NAME [--owner USER] [--group GROUP] [--mode MODE]",
	  "Who may plug into the switch: owner, group and mode (e.g. 0660) of its sockets, as "
	  "vde_switch's -mod and -group. Default: root, 0660." },
	{ "repair", do_repair, "NAME",
	  "Recreate a host vNIC that was deleted from outside (with the uplink's saved "
	  "addresses, for an external switch)." },
	{ NULL, NULL, NULL, NULL },
};

const struct cli_group cli_group_switch = { "switch", cmds,
					    "Virtual switches: boxes of ports, isolated from each other." };
