/* SPDX-License-Identifier: BSD-3-Clause */
/* herald.conf: good files parse, every broken one names file, line, key and reason. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <herald/proto.h>

#include "config.h"

#define BASE                                                                                 \
	"[node]\nid = 7\nname = n7\n"                                                        \
	"[dataplane]\ndriver = af_packet\ninterface = veth0\nip = 10.0.0.1\n"               \
	"[cluster]\nlisten = 10.0.1.1:7600\n"

static char err[512];
static struct herald_config c;

static int load(const char *text)
{
	err[0] = '\0';
	return herald_config_load_string("t.conf", text, &c, err, sizeof(err));
}

/* The load failed and the message says all of @p parts. */
static void refused(const char *text, const char *parts[])
{
	cr_assert_eq(load(text), -EINVAL, "accepted: %s", text);
	for (int i = 0; parts[i] != NULL; i++)
		cr_assert(strstr(err, parts[i]) != NULL, "'%s' not in '%s'", parts[i], err);
	/* nothing half-configured comes out of a refused file */
	cr_assert_eq(c.node_id, herald_config_defaults.node_id);
	cr_assert_str_eq(c.driver, herald_config_defaults.driver);
}

Test(config, minimal_file_gets_defaults)
{
	cr_assert_eq(load(BASE), 0, "%s", err);
	cr_assert_eq(c.node_id, 7);
	cr_assert_str_eq(c.name, "n7");
	cr_assert_str_eq(c.driver, "af_packet");
	cr_assert_str_eq(c.interface, "veth0");
	cr_assert_eq(c.udp_port, 7400);
	cr_assert_eq(c.queues, 1);
	cr_assert_eq(c.heartbeat_ms, 50);
	cr_assert_eq(c.dead_after, 6);
	cr_assert_eq(c.npeers, 0);
	cr_assert_eq(c.metrics.sin_port, 0);
	cr_assert_str_eq(c.control_sock, HERALD_CONFIG_CTL_SOCK);
	/* the HELLO responder defaults to the listen address, base port */
	cr_assert_eq(c.hello.sin_addr.s_addr, c.listen.sin_addr.s_addr);
	cr_assert_eq(ntohs(c.hello.sin_port), 7400);
}

Test(config, full_file)
{
	cr_assert_eq(load(BASE "peer = 10.0.1.2:7600\npeer = 10.0.1.3:7601 ; comment\n"
			       "heartbeat_ms = 20\nsuspect_after = 2\ndead_after = 4\n"
			       "hello = 10.0.1.1:7401\nxdp_pin_dir =\n"
			       "[dataplane]\nudp_port = 9000\nqueues = 4\nlcores = 2-5\nidle = sleep\n"
			       "devargs = start_queue=0,busy_budget=0\n"
			       "[control]\nsocket = /tmp/h.sock\nstatus_file = /tmp/st.json\n"
			       "[metrics]\nlisten = 127.0.0.1:9464\n"),
		     0, "%s", err);
	cr_assert_eq(c.npeers, 2);
	cr_assert_eq(ntohs(c.peers[1].sin_port), 7601);
	cr_assert_eq(c.queues, 4);
	cr_assert_str_eq(c.lcores, "2-5");
	cr_assert_eq(c.idle, HERALD_IDLE_SLEEP);
	cr_assert_str_eq(c.xdp_pin_dir, "");
	cr_assert_eq(ntohs(c.metrics.sin_port), 9464);
	cr_assert_eq(ntohs(c.hello.sin_port), 7401);

	char args[512];
	cr_assert_gt(herald_config_dataplane_args(&c, args, sizeof(args)), 0);
	cr_assert(strstr(args, "-l\n2-5\n") != NULL);
	cr_assert(strstr(args, "--port\naf_packet:veth0,start_queue=0,busy_budget=0\n") != NULL, "%s", args);
	cr_assert(strstr(args, "--udp-port\n9000\n--queues\n4\n--idle\nsleep\n") != NULL, "%s", args);

	json_t *j = herald_config_to_json(&c);
	cr_assert_not_null(j);
	cr_assert_eq(json_array_size(json_object_get(json_object_get(j, "cluster"), "peer")), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "metrics"), "listen")),
			 "127.0.0.1:9464");
	json_decref(j);
}

/* PCI mode: the EAL probes only that function (-a), not --no-pci. */
Test(config, pci_port)
{
	cr_assert_eq(load("[node]\nid = 3\n[dataplane]\ndriver = pci\npci_address = 0000:3b:00.1\n"
			  "ip = 10.0.0.1\n[cluster]\nlisten = 10.0.1.1:7600\n"),
		     0, "%s", err);
	char args[512];
	cr_assert_gt(herald_config_dataplane_args(&c, args, sizeof(args)), 0);
	cr_assert(strstr(args, "\n-a\n0000:3b:00.1\n") != NULL, "%s", args);
	cr_assert(strstr(args, "--no-pci") == NULL, "%s", args);
	cr_assert(strstr(args, "--port\npci:0000:3b:00.1\n") != NULL, "%s", args);
}

Test(config, the_sample_file_is_valid)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/controlplane/herald.conf", getenv("HERALD_SOURCE_ROOT") ? getenv("HERALD_SOURCE_ROOT") : "..");
	cr_assert_eq(herald_config_load(path, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.node_id, 1);
}

Test(config, unknown_key)
{
	refused(BASE "hartbeat_ms = 20\n",
		(const char *[]){"t.conf:10:", "[cluster] hartbeat_ms", "unknown key", "heartbeat_ms", NULL});
}

Test(config, unknown_section)
{
	refused(BASE "[metric]\nlisten = 1.2.3.4:5\n",
		(const char *[]){"t.conf:11:", "[metric]", "unknown section", NULL});
}

Test(config, key_outside_a_section)
{
	refused("id = 1\n" BASE, (const char *[]){"t.conf:1:", "outside any section", NULL});
}

Test(config, bad_values)
{
	refused(BASE "heartbeat_ms = fast\n",
		(const char *[]){"t.conf:10:", "heartbeat_ms", "expected an integer in 1..60000", "'fast'", NULL});
	refused(BASE "heartbeat_ms = 0\n", (const char *[]){"t.conf:10:", "1..60000", "'0'", NULL});
	refused(BASE "heartbeat_ms = -5\n", (const char *[]){"'-5'", NULL});
	refused(BASE "peer = 10.0.1.2\n", (const char *[]){"t.conf:10:", "[cluster] peer", "ADDR:PORT", NULL});
	refused(BASE "peer = 10.0.1.2:70000\n", (const char *[]){"ADDR:PORT", NULL});
	refused(BASE "[dataplane]\nidle = lazy\n", (const char *[]){"t.conf:11:", "spin or sleep", "'lazy'", NULL});
	refused(BASE "[dataplane]\nlcores = 3-1\n", (const char *[]){"lcore list", NULL});
	refused(BASE "[dataplane]\nqueues = 65\n", (const char *[]){"1..64", NULL});
	refused(BASE "[control]\nsocket = relative.sock\n", (const char *[]){"absolute path", NULL});
	refused(BASE "[control]\nsocket = /tmp/$(reboot)\n", (const char *[]){"absolute path", NULL});
	/* Found by fuzz_config: a non-ASCII byte in a path made config show --json fail. */
	refused(BASE "[control]\nstatus_file = /tmp/st.js\x87n\n", (const char *[]){"printable ASCII", NULL});
	refused(BASE "[dataplane]\ndevargs = a b\n", (const char *[]){"KEY=VALUE", NULL});
	refused("[node]\nid = 1\n[dataplane]\ndriver = pci\nip = 10.0.0.1\n[cluster]\nlisten = 1.1.1.1:1\n",
		(const char *[]){"t.conf:4:", "pci_address: missing", NULL});
	refused(BASE "[dataplane]\npci_address = 0000:03:00.0\n",
		(const char *[]){"pci_address", "takes no PCI address", NULL});
	refused("[node]\nid = 1\n[dataplane]\ndriver = pci\npci_address = 03:00.0\nip = 10.0.0.1\n",
		(const char *[]){"t.conf:5:", "DDDD:BB:DD.F", "'03:00.0'", NULL});
	refused("[node]\nid = 4294967295\n", (const char *[]){"t.conf:2:", "[node] id", NULL});
}

Test(config, keys_against_each_other)
{
	refused(BASE "suspect_after = 5\ndead_after = 5\n",
		(const char *[]){"t.conf:11:", "dead_after", "more than suspect_after", NULL});
	refused(BASE "peer = 10.0.1.1:7600\n", (const char *[]){"t.conf:10:", "own listen address", NULL});
	refused(BASE "peer = 10.0.1.2:7600\npeer = 10.0.1.2:7600\n", (const char *[]){"listed twice", NULL});
	/* One worker per queue, each on its own lcore. */
	refused(BASE "[dataplane]\nqueues = 2\n", (const char *[]){"t.conf:11:", "[dataplane] lcores",
		"2 queues need 2 lcores", "\"1\" names 1", NULL});
	refused(BASE "[dataplane]\nqueues = 3\nlcores = 1,4\n",
		(const char *[]){"t.conf:12:", "\"1,4\" names 2", NULL});
	refused("[node]\nid = 1\n[dataplane]\ndriver = af_xdp\nip = 10.0.0.1\n[cluster]\nlisten = 1.1.1.1:1\n",
		(const char *[]){"t.conf:4:", "interface", "needs one", NULL});
	refused("[node]\nid = 1\n[dataplane]\ndriver = null\ninterface = eth0\nip = 10.0.0.1\n"
		"[cluster]\nlisten = 1.1.1.1:1\n",
		(const char *[]){"t.conf:5:", "takes no interface", NULL});
	refused(BASE "id = 3\n", (const char *[]){"[cluster] id", "unknown key", NULL});
	refused(BASE "[node]\nid = 3\n", (const char *[]){"t.conf:11:", "set twice (first on line 2)", NULL});
}

Test(config, missing_required_key)
{
	refused("[node]\nid = 1\n[dataplane]\ndriver = null\nip = 10.0.0.1\n",
		(const char *[]){"t.conf: [cluster] listen: missing", "ADDR:PORT", NULL});
	refused("[node]\nname = x\n", (const char *[]){"[node] id: missing", NULL});
}

Test(config, syntax_error)
{
	refused(BASE "this line has no equals sign\n",
		(const char *[]){"t.conf:10:", "syntax error", NULL});
	refused(BASE "[metrics\n", (const char *[]){"t.conf:10:", "syntax error", NULL});
}

Test(config, torn_file)
{
	/* a write cut short: the last line lost its newline (and maybe more) */
	refused(BASE "heartbeat_ms = 2", (const char *[]){"t.conf:10:", "no newline", "torn", NULL});
	refused("", (const char *[]){"empty file", NULL});
	refused("[node]\nid = 1\n[dataplane]\ndri", (const char *[]){"t.conf:4:", NULL});
}

Test(config, line_too_long)
{
	char text[1024];
	snprintf(text, sizeof(text), BASE "[control]\nstatus_file = /%0300d\n", 0);
	refused(text, (const char *[]){"t.conf:11:", "line longer than", NULL});
}

Test(config, missing_and_unreadable_file)
{
	cr_assert_eq(herald_config_load("/nonexistent/herald.conf", &c, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/herald.conf: cannot open: No such file") != NULL, "%s", err);
	cr_assert_eq(herald_config_load("/", &c, err, sizeof(err)), -EINVAL, "%s", err);
}

Test(config, key_file)
{
	char dir[] = "/tmp/herald-conf.XXXXXX", path[128], text[512];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cluster.key", dir);

	FILE *f = fopen(path, "w");
	fprintf(f, "%s\n", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	fclose(f);
	snprintf(text, sizeof(text), BASE "key_file = %s\n", path);
	cr_assert_eq(load(text), 0, "%s", err);
	cr_assert(c.key_set);
	cr_assert_eq(c.key[1], 0x11);
	cr_assert_eq(c.key[31], 0xff);
	/* heraldd issues tokens under it: the dataplane is told to require them. */
	char args[1024], want[256];
	cr_assert_gt(herald_config_dataplane_args(&c, args, sizeof(args)), 0);
	snprintf(want, sizeof(want), "\n--token-key\n%s\n--token-ttl\n60\n", path);
	cr_assert(strstr(args, want) != NULL, "%s", args);
	cr_assert_eq(load(BASE), 0, "%s", err);
	cr_assert_gt(herald_config_dataplane_args(&c, args, sizeof(args)), 0);
	cr_assert(strstr(args, "--token-key") == NULL, "no cluster key, no token required: %s", args);

	f = fopen(path, "w");
	fprintf(f, "not hex\n");
	fclose(f);
	refused(text, (const char *[]){"t.conf:10:", "key_file", "64 hex digits", NULL});

	unlink(path);
	refused(text, (const char *[]){"t.conf:10:", "key_file", "cannot read", NULL});
	rmdir(dir);
}

Test(config, publish_key_file)
{
	char dir[] = "/tmp/herald-conf.XXXXXX", path[128], text[512], args[1024];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/publish.key", dir);

	/* Absent: the dataplane takes PUBLISH from anyone, no --publish-key. */
	cr_assert_eq(load(BASE), 0, "%s", err);
	cr_assert_gt(herald_config_dataplane_args(&c, args, sizeof(args)), 0);
	cr_assert(strstr(args, "--publish-key") == NULL, "%s", args);

	FILE *f = fopen(path, "w");
	fprintf(f, "%s\n", "000102030405060708090a0b0c0d0e0f");
	fclose(f);
	snprintf(text, sizeof(text), "[node]\nid = 7\n[dataplane]\ndriver = af_packet\ninterface = veth0\n"
		 "ip = 10.0.0.1\npublish_key_file = %s\n[cluster]\nlisten = 10.0.1.1:7600\n", path);
	cr_assert_eq(load(text), 0, "%s", err);
	cr_assert_str_eq(c.publish_key_file, path);
	cr_assert_gt(herald_config_dataplane_args(&c, args, sizeof(args)), 0);
	char want[256];
	snprintf(want, sizeof(want), "\n--publish-key\n%s\n--publish-window\n30\n--replay-cache\n65536\n", path);
	cr_assert(strstr(args, want) != NULL, "%s", args);

	/* The replay tunables: rendered with the key, refused without one. */
	char tuned[640];
	snprintf(tuned, sizeof(tuned), "[node]\nid = 7\n[dataplane]\ndriver = af_packet\ninterface = veth0\n"
		 "ip = 10.0.0.1\npublish_key_file = %s\npublish_window_s = 5\nreplay_cache = 4096\n"
		 "[cluster]\nlisten = 10.0.1.1:7600\n", path);
	cr_assert_eq(load(tuned), 0, "%s", err);
	cr_assert_gt(herald_config_dataplane_args(&c, args, sizeof(args)), 0);
	cr_assert(strstr(args, "\n--publish-window\n5\n--replay-cache\n4096\n") != NULL, "%s", args);
	refused(BASE "[dataplane]\nreplay_cache = 4096\n",
		(const char *[]){"replay_cache", "needs publish_key_file", NULL});
	snprintf(tuned, sizeof(tuned), "[node]\nid = 7\n[dataplane]\ndriver = af_packet\ninterface = veth0\n"
		 "ip = 10.0.0.1\npublish_key_file = %s\nreplay_cache = 10\n[cluster]\nlisten = 10.0.1.1:7600\n", path);
	refused(tuned, (const char *[]){"t.conf:8:", "replay_cache", "64..16777216", NULL});

	/* A cluster-secret-sized file is not a publish key: refused with its line. */
	f = fopen(path, "w");
	fprintf(f, "%s\n", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	fclose(f);
	refused(text, (const char *[]){"t.conf:7:", "publish_key_file", "32 hex digits", NULL});
	unlink(path);
	refused(text, (const char *[]){"t.conf:7:", "publish_key_file", "cannot read", NULL});
	rmdir(dir);
}

Test(config, file_on_disk_with_an_error_names_the_file)
{
	char path[] = "/tmp/herald-conf-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs(BASE "[metrics]\nlisten = localhost:9464\n", f);
	fclose(f);
	cr_assert_eq(herald_config_load(path, &c, err, sizeof(err)), -EINVAL);
	char want[128];
	snprintf(want, sizeof(want), "%s:11: [metrics] listen: expected ADDR:PORT", path);
	cr_assert(strstr(err, want) != NULL, "%s", err);
	unlink(path);
}

/* config reload: live keys pass and are listed, any other change is refused with its line. */
Test(config, reload_check)
{
	static const char base[] = "[node]\nid = 1\n[dataplane]\ndriver = null\nip = 10.0.0.1\n"
				   "[cluster]\nlisten = 10.0.1.1:7600\n";
	struct herald_config old, next;
	json_t *changed = NULL;

	cr_assert_eq(herald_config_load_string("t.conf", base, &old, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(herald_config_load_string("t.conf", base, &next, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(herald_config_reload_check(&old, &next, &changed, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(json_array_size(changed), 0);
	json_decref(changed);

	cr_assert_eq(herald_config_load_string("t.conf",
		"[node]\nid = 1\nname = n1\n[dataplane]\ndriver = null\nip = 10.0.0.1\n[cluster]\n"
		"listen = 10.0.1.1:7600\npeer = 10.0.1.2:7600\nheartbeat_ms = 20\n", &next, err, sizeof(err)), 0);
	cr_assert_eq(herald_config_reload_check(&old, &next, &changed, err, sizeof(err)), 0, "%s", err);
	char *list = json_dumps(changed, JSON_COMPACT);
	cr_assert_str_eq(list, "[\"node.name\",\"cluster.peer\",\"cluster.heartbeat_ms\"]");
	free(list);
	json_decref(changed);

	cr_assert_eq(herald_config_load_string("t.conf",
		"[node]\nid = 1\n[dataplane]\ndriver = null\nip = 10.0.0.1\nudp_port = 7500\n[cluster]\n"
		"listen = 10.0.1.1:7600\n", &next, err, sizeof(err)), 0);
	cr_assert_eq(herald_config_reload_check(&old, &next, NULL, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "t.conf:6: [dataplane] udp_port: changed; it applies only when heraldd restarts") != NULL,
		  "%s", err);

	/* the node id is not live either */
	cr_assert_eq(herald_config_load_string("t.conf",
		"[node]\nid = 2\n[dataplane]\ndriver = null\nip = 10.0.0.1\n[cluster]\nlisten = 10.0.1.1:7600\n",
		&next, err, sizeof(err)), 0);
	cr_assert_eq(herald_config_reload_check(&old, &next, NULL, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "t.conf:2: [node] id: changed") != NULL, "%s", err);
}

/* The context life cycle (docs/checkpoints.md) from herald.conf to the dataplane's command line. */
Test(config, checkpoint_keys)
{
	char args[1024];

	/* Absent: no store, nothing unloads, no option rendered, no epoch file. */
	cr_assert_eq(load(BASE), 0, "%s", err);
	cr_assert_str_eq(c.checkpoint_dir, "");
	cr_assert_eq(c.idle_unload_s, HERALD_CKPT_IDLE_UNLOAD_S);
	cr_assert_str_eq(c.state_file, "");
	cr_assert_gt(herald_config_dataplane_args(&c, args, sizeof(args)), 0);
	cr_assert(strstr(args, "--checkpoint") == NULL && strstr(args, "--idle-unload") == NULL, "%s", args);

	/* A directory alone: the dataplane's defaults, spelled out; heraldd keeps its epoch there. */
	cr_assert_eq(load(BASE "[dataplane]\ncheckpoint_dir = /var/lib/herald/ckpt\n"), 0, "%s", err);
	cr_assert_str_eq(c.state_file, "/var/lib/herald/ckpt/heraldd.state");
	cr_assert_gt(herald_config_dataplane_args(&c, args, sizeof(args)), 0);
	cr_assert(strstr(args, "\n--checkpoint-dir\n/var/lib/herald/ckpt\n--idle-unload-s\n60\n"
			       "--checkpoint-interval-s\n10\n--checkpoint-map-mb\n1024\n") != NULL, "%s", args);

	cr_assert_eq(load(BASE "state_file = /run/h.state\n[dataplane]\ncheckpoint_dir = /ck\nidle_unload_s = 0\n"
			       "checkpoint_interval_s = 1\ncheckpoint_map_mb = 64\n"),
		     0, "%s", err);
	cr_assert_str_eq(c.state_file, "/run/h.state");
	cr_assert_eq(c.idle_unload_s, 0);
	cr_assert_eq(c.checkpoint_interval_s, 1);
	cr_assert_eq(c.checkpoint_map_mb, 64);
	cr_assert_gt(herald_config_dataplane_args(&c, args, sizeof(args)), 0);
	cr_assert(strstr(args, "--idle-unload-s\n0\n--checkpoint-interval-s\n1\n--checkpoint-map-mb\n64\n") != NULL,
		  "%s", args);
	json_t *j = herald_config_to_json(&c);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "dataplane"), "checkpoint_dir")), "/ck");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "dataplane"), "checkpoint_map_mb")), 64);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "cluster"), "state_file")),
			 "/run/h.state");
	json_decref(j);

	refused(BASE "[dataplane]\nidle_unload_s = 30\n",
		(const char *[]){"t.conf:11:", "[dataplane] idle_unload_s", "needs checkpoint_dir", NULL});
	refused(BASE "[dataplane]\ncheckpoint_dir =\ncheckpoint_interval_s = 5\n",
		(const char *[]){"t.conf:12:", "checkpoint_interval_s", "needs checkpoint_dir", NULL});
	refused(BASE "[dataplane]\ncheckpoint_dir = ckpt\n",
		(const char *[]){"t.conf:11:", "checkpoint_dir", "absolute path", "'ckpt'", NULL});
	refused(BASE "[dataplane]\ncheckpoint_dir = /ck\ncheckpoint_map_mb = 0\n",
		(const char *[]){"t.conf:12:", "checkpoint_map_mb", "1..1048576", "'0'", NULL});
	refused(BASE "[dataplane]\ncheckpoint_dir = /ck\ncheckpoint_interval_s = 86401\n",
		(const char *[]){"t.conf:12:", "0..86400", NULL});
	refused(BASE "[dataplane]\ncheckpoint_dir = /ck\nidle_unload_s = soon\n",
		(const char *[]){"t.conf:12:", "idle_unload_s", "'soon'", NULL});

	/* The store is the dataplane's: a change needs a restart, not a reload. */
	cr_assert_eq(load(BASE "[dataplane]\ncheckpoint_dir = /ck\n"), 0, "%s", err);
	struct herald_config old = c;
	cr_assert_eq(load(BASE "[dataplane]\ncheckpoint_dir = /ck2\n"), 0, "%s", err);
	cr_assert_eq(herald_config_reload_check(&old, &c, NULL, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "checkpoint_dir: changed") != NULL, "%s", err);
}
