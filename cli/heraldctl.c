/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heraldctl: configure and inspect a Herald node (docs/cli.md).
 *
 *   heraldctl [--socket PATH] [--config FILE] [--json] COMMAND [ARGS]
 *
 * Commands are a table (name, what they take, help, do_<cmd>()). Everything
 * at run time goes through heraldd's control socket, one JSON line each way;
 * `config` works on files alone; `sub` and `pub` speak the wire protocol
 * through libherald, asking heraldd where the context lives unless --node
 * says it. Human output by default, --json for scripts, exit codes in
 * docs/cli.md (enum below).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include <herald/client.h>
#include <herald/proto.h>

#include "config.h"

/* Exit codes (docs/cli.md). */
enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,   /* the node refused, or the operation failed */
	EXIT_USAGE = 2,     /* bad command line */
	EXIT_UNREACHABLE = 3, /* heraldd (or the node) could not be reached */
	EXIT_BAD_CONFIG = 4, /* the configuration file is invalid */
	EXIT_NO_DATA = 5,   /* sub: fewer messages than --count before --timeout */
};

#define REPLY_MAX (4 << 20)
#define CALL_TIMEOUT_MS 5000

static struct {
	const char *socket; /* NULL: from the config file, else HERALD_CONFIG_CTL_SOCK */
	const char *config; /* NULL: HERALD_CONFIG_PATH if it exists */
	const char *remote;   /* ADDR:PORT of heraldd's [control] remote endpoint, NULL = the Unix socket */
	const char *key_file; /* the key it asks to be proven */
	bool json;
	int refused; /* exit code when heraldd refuses: EXIT_REFUSED unless a command says otherwise */
} g = {.refused = EXIT_REFUSED};

static const char *const counter_help[HERALD_CTR_MAX] = {
#define HERALD_X_HELP(name, help) help,
	HERALD_COUNTERS(HERALD_X_HELP)
#undef HERALD_X_HELP
};
static const char *const drop_help[HERALD_DROP_MAX] = {
#define HERALD_X_HELP(name, help) help,
	HERALD_DROP_REASONS(HERALD_X_HELP)
#undef HERALD_X_HELP
};

static const char *const port_help[HERALD_PORT_STAT_MAX] = {
#define HERALD_X_HELP(name, help) help,
	HERALD_PORT_STATS(HERALD_X_HELP)
#undef HERALD_X_HELP
};

static volatile sig_atomic_t quit;
static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

/* An error: a JSON object on stdout with --json (scripts read one place), a line on stderr otherwise. */
static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (g.json) {
		json_t *o = json_pack("{sbsssi}", "ok", 0, "error", text, "exit", code);
		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
	} else {
		fprintf(stderr, "heraldctl: %s\n", text);
	}
	return code;
}

static void json_out(json_t *o)
{
	json_object_del(o, "ok");
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	putchar('\n');
}

static const char *socket_path(void)
{
	static char path[108];
	if (g.socket != NULL)
		return g.socket;
	/* The key alone: a file that is being edited (config reload) may be invalid elsewhere. */
	if (herald_config_control_socket(g.config ? g.config : HERALD_CONFIG_PATH, path, sizeof(path)) == 0)
		return path;
	return HERALD_CONFIG_CTL_SOCK;
}

/* Read one line into buf (REPLY_MAX); the newline becomes a NUL. @return its length, or -1. */
static ssize_t line_read(int fd, char *buf, size_t *len)
{
	char *nl;
	while ((nl = memchr(buf, '\n', *len)) == NULL) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (*len == REPLY_MAX || poll(&p, 1, CALL_TIMEOUT_MS) <= 0)
			return -1;
		ssize_t k = recv(fd, buf + *len, REPLY_MAX - *len, 0);
		if (k <= 0)
			return -1;
		*len += (size_t)k;
	}
	*nl = '\0';
	return nl - buf;
}

/*
 * The remote endpoint: TCP, then prove the key. heraldd sends
 * {"challenge":HEX}; the answer is {"auth":HEX}, HMAC-SHA-256 of the
 * challenge's bytes under the key file's key. @return the fd, or -exit code.
 */
static int remote_connect(char *buf)
{
	struct sockaddr_in sa;
	uint8_t key[HERALD_CONFIG_KEY_LEN], nonce[32], mac[crypto_auth_hmacsha256_BYTES];
	char why[300], hex[2 * sizeof(mac) + 1], line[128];
	size_t len = 0, n = 0;
	int fd = -1, rc;

	if (herald_addr_parse(g.remote, 0, &sa) < 0 || sa.sin_port == 0)
		return -fail(EXIT_USAGE, "--remote: expected ADDR:PORT, got '%s'", g.remote);
	if (g.key_file == NULL)
		return -fail(EXIT_USAGE, "--remote needs --key-file (the [control] remote_key_file of that node)");
	if (sodium_init() < 0 || herald_key_file_load(g.key_file, key, HERALD_CONFIG_KEY_LEN, why, sizeof(why)) < 0)
		return -fail(EXIT_USAGE, "--key-file: %s", why);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = fail(EXIT_UNREACHABLE, "cannot reach heraldd at %s: %s", g.remote, strerror(errno));
		goto out;
	}
	ssize_t ll = line_read(fd, buf, &len);
	json_t *o = ll < 0 ? NULL : json_loads(buf, 0, NULL);
	const char *c = json_string_value(json_object_get(o, "challenge"));
	if (c == NULL || sodium_hex2bin(nonce, sizeof(nonce), c, strlen(c), NULL, &n, NULL) != 0 || n != sizeof(nonce)) {
		json_decref(o);
		rc = fail(EXIT_UNREACHABLE, "heraldd at %s sent no challenge", g.remote);
		goto out;
	}
	json_decref(o);
	crypto_auth_hmacsha256(mac, nonce, sizeof(nonce), key);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	int k = snprintf(line, sizeof(line), "{\"auth\":\"%s\"}\n", hex);
	len -= (size_t)ll + 1;
	memmove(buf, buf + ll + 1, len);
	if (send(fd, line, (size_t)k, MSG_NOSIGNAL) != k || (ll = line_read(fd, buf, &len)) < 0) {
		rc = fail(EXIT_UNREACHABLE, "heraldd at %s closed the connection", g.remote);
		goto out;
	}
	o = json_loads(buf, 0, NULL);
	if (!json_is_true(json_object_get(o, "authenticated"))) {
		const char *e = json_string_value(json_object_get(o, "error"));
		rc = fail(EXIT_REFUSED, "heraldd at %s: %s", g.remote, e ? e : "authentication refused");
		json_decref(o);
		goto out;
	}
	json_decref(o);
	sodium_memzero(key, sizeof(key));
	return fd;
out:
	sodium_memzero(key, sizeof(key));
	if (fd >= 0)
		close(fd);
	return -rc;
}

static int local_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = socket_path();
	if (strlen(path) >= sizeof(sa.sun_path))
		return -fail(EXIT_USAGE, "--socket: path longer than %zu characters", sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = fail(EXIT_UNREACHABLE, "cannot reach heraldd at %s: %s (is it running with --ctl-sock? "
			      "--socket PATH names another)", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -rc;
	}
	return fd;
}

/* One request to heraldd; *reply is the object with "ok" true. @return an exit code. */
static int call(json_t *req, json_t **reply)
{
	const char *where = g.remote ? g.remote : socket_path();
	char *line = json_dumps(req, JSON_COMPACT), *buf = malloc(REPLY_MAX);
	size_t len = 0;
	int fd = -1, rc = EXIT_UNREACHABLE;
	json_error_t je;

	json_decref(req);
	*reply = NULL;
	if (line == NULL || buf == NULL) {
		rc = fail(EXIT_REFUSED, "out of memory");
		goto out;
	}
	fd = g.remote ? remote_connect(buf) : local_connect();
	if (fd < 0) {
		rc = -fd;
		fd = -1;
		goto out;
	}
	size_t n = strlen(line);
	line[n] = '\n'; /* json_dumps leaves room: the NUL */
	if (send(fd, line, n + 1, MSG_NOSIGNAL) != (ssize_t)(n + 1)) {
		rc = fail(EXIT_UNREACHABLE, "heraldd at %s: send: %s", where, strerror(errno));
		goto out;
	}
	ssize_t ll = line_read(fd, buf, &len);
	if (ll < 0) {
		rc = fail(EXIT_UNREACHABLE, "heraldd at %s: no reply in %d ms, or the connection closed", where,
			  CALL_TIMEOUT_MS);
		goto out;
	}
	*reply = json_loadb(buf, (size_t)ll, 0, &je);
	if (*reply == NULL) {
		rc = fail(EXIT_UNREACHABLE, "heraldd at %s: reply is not JSON: %s", where, je.text);
	} else if (!json_is_true(json_object_get(*reply, "ok"))) {
		const char *e = json_string_value(json_object_get(*reply, "error"));
		rc = fail(g.refused, "%s", e ? e : "refused");
		json_decref(*reply);
		*reply = NULL;
	} else {
		rc = EXIT_OK;
	}
out:
	free(buf);
	free(line);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int parse_u32(const char *what, const char *text, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v > UINT32_MAX)
		return fail(EXIT_USAGE, "%s: expected an integer in 0..%u, got '%s'", what, UINT32_MAX, text);
	*out = (uint32_t)v;
	return EXIT_OK;
}

static int policy_check(const char *what, const char *p)
{
	if (strcmp(p, "replace") != 0 && strcmp(p, "none") != 0 && strncmp(p, "merge:", 6) != 0)
		return fail(EXIT_USAGE, "%s: expected replace, none or merge:OP (add, max, min...), got '%s'", what, p);
	return EXIT_OK;
}

static json_int_t iget(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *sget(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

/* ---- commands: each takes its own arguments (argv[0] is the command) ---- */

struct cmd {
	const char *name, *args, *help;
	int (*run)(int argc, char **argv);
};
static const struct cmd cmds[];

static int cmd_help(const struct cmd *c)
{
	printf("usage: heraldctl [--json] %s %s\n  %s\n", c->name, c->args, c->help);
	return EXIT_OK;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

static int no_args(int argc, char **argv)
{
	if (argc > 1)
		return fail(EXIT_USAGE, "%s: unexpected argument '%s' (it takes none)", argv[0], argv[1]);
	return EXIT_OK;
}

static int do_status(int argc, char **argv)
{
	json_t *r;
	int rc = no_args(argc, argv);
	if (rc || (rc = call(json_pack("{ss}", "cmd", "status"), &r)))
		return rc;
	if (g.json) {
		json_out(r);
	} else {
		json_t *dp = json_object_get(r, "dataplane"), *cx = json_object_get(r, "contexts"),
		       *pe = json_object_get(r, "peers");
		printf("node        %" JSON_INTEGER_FORMAT "%s%s%s, epoch %" JSON_INTEGER_FORMAT ", up %" JSON_INTEGER_FORMAT " s\n",
		       iget(r, "node"), *sget(r, "name") ? " (" : "", sget(r, "name"), *sget(r, "name") ? ")" : "",
		       iget(r, "epoch"), iget(r, "uptime_s"));
		printf("dataplane   %s, clients reach it at %s, %" JSON_INTEGER_FORMAT " queue(s), socket %s\n",
		       json_is_true(json_object_get(dp, "connected")) ? "connected" : "NOT CONNECTED",
		       sget(dp, "addr"), iget(dp, "queues"), sget(dp, "socket"));
		printf("contexts    %" JSON_INTEGER_FORMAT " on this node, %" JSON_INTEGER_FORMAT " in the cluster table\n",
		       iget(cx, "local"), iget(cx, "table"));
		printf("sessions    %" JSON_INTEGER_FORMAT "\n", iget(r, "sessions"));
		printf("peers       %" JSON_INTEGER_FORMAT " configured, %" JSON_INTEGER_FORMAT " active\n",
		       iget(pe, "configured"), iget(pe, "active"));
		printf("redirects   %" JSON_INTEGER_FORMAT " from userspace, %" JSON_INTEGER_FORMAT
		       " HELLOs dropped, %" JSON_INTEGER_FORMAT " contexts moved by failover\n",
		       iget(r, "redirects"), iget(r, "hello_drops"), iget(r, "moved"));
	}
	json_decref(r);
	return EXIT_OK;
}

static int do_nodes(int argc, char **argv)
{
	json_t *r, *n;
	size_t i;
	int rc = no_args(argc, argv);
	if (rc || (rc = call(json_pack("{ss}", "cmd", "nodes"), &r)))
		return rc;
	if (g.json) {
		json_out(r);
	} else {
		printf("%-10s %-10s %6s %7s %8s %6s  %-21s %s\n", "NODE", "STATE", "EPOCH", "WEIGHT", "CONTEXTS",
		       "QUEUES", "DATAPLANE", "HEARD");
		json_array_foreach(json_object_get(r, "nodes"), i, n) {
			char heard[32] = "(this node)";
			if (!json_is_true(json_object_get(n, "local")))
				snprintf(heard, sizeof(heard), "%" JSON_INTEGER_FORMAT " ms ago", iget(n, "last_heard_ms"));
			printf("%-10" JSON_INTEGER_FORMAT " %-10s %6" JSON_INTEGER_FORMAT " %7" JSON_INTEGER_FORMAT
			       " %8" JSON_INTEGER_FORMAT " %6" JSON_INTEGER_FORMAT "  %-21s %s\n",
			       iget(n, "id"), sget(n, "state"), iget(n, "epoch"), iget(n, "weight"),
			       iget(n, "contexts"), iget(n, "queues"), sget(n, "dataplane"), heard);
		}
	}
	json_decref(r);
	return EXIT_OK;
}

static void context_row(const json_t *c)
{
	char replica[16] = "-", keys[16] = "-", sessions[16] = "-", queue[16] = "-";
	if (json_is_integer(json_object_get(c, "replica")))
		snprintf(replica, sizeof(replica), "%" JSON_INTEGER_FORMAT, iget(c, "replica"));
	if (json_is_true(json_object_get(c, "local"))) {
		snprintf(keys, sizeof(keys), "%" JSON_INTEGER_FORMAT, iget(c, "keys"));
		snprintf(sessions, sizeof(sessions), "%" JSON_INTEGER_FORMAT, iget(c, "sessions"));
		snprintf(queue, sizeof(queue), "%" JSON_INTEGER_FORMAT, iget(c, "queue"));
	}
	printf("%-10" JSON_INTEGER_FORMAT " %-8" JSON_INTEGER_FORMAT " %-8s %-9s %-10s %6s %8s %5s\n",
	       iget(c, "id"), iget(c, "primary"), replica,
	       json_object_get(c, "confirmed") == NULL || json_is_true(json_object_get(c, "confirmed")) ? "yes" : "pending",
	       sget(c, "policy"), keys, sessions, queue);
}

static void context_header(void)
{
	printf("%-10s %-8s %-8s %-9s %-10s %6s %8s %5s\n", "CONTEXT", "PRIMARY", "REPLICA", "CONFIRMED",
	       "POLICY", "KEYS", "SESSIONS", "QUEUE");
}

static int do_contexts(int argc, char **argv)
{
	static const char *usage = "contexts list | show CONTEXT | create CONTEXT [--policy P] | "
				   "set-policy CONTEXT POLICY | evict CONTEXT";
	const char *sub = argc > 1 ? argv[1] : "list";
	json_t *r, *c;
	uint32_t id = 0;
	size_t i;
	int rc;

	if (strcmp(sub, "list") == 0) {
		if (argc > 2)
			return fail(EXIT_USAGE, "contexts list: unexpected argument '%s'", argv[2]);
		if ((rc = call(json_pack("{ss}", "cmd", "contexts"), &r)))
			return rc;
		if (g.json) {
			json_out(r);
		} else {
			context_header();
			json_array_foreach(json_object_get(r, "contexts"), i, c)
				context_row(c);
			if (!json_is_true(json_object_get(r, "dataplane")))
				printf("(the dataplane did not answer: no policy, keys or sessions)\n");
		}
		json_decref(r);
		return EXIT_OK;
	}
	if (strcmp(sub, "show") != 0 && strcmp(sub, "create") != 0 && strcmp(sub, "evict") != 0 &&
	    strcmp(sub, "set-policy") != 0)
		return fail(EXIT_USAGE, "contexts: unknown subcommand '%s': expected %s", sub, usage);
	if (argc < 3)
		return fail(EXIT_USAGE, "contexts %s: expected a CONTEXT id", sub);
	if ((rc = parse_u32("CONTEXT", argv[2], &id)))
		return rc;
	json_t *req = json_pack("{sssI}", "cmd", strcmp(sub, "show") == 0 ? "context" : sub, "context", (json_int_t)id);
	if (strcmp(sub, "set-policy") == 0) {
		json_object_set_new(req, "cmd", json_string("set_policy"));
		if (argc != 4) {
			json_decref(req);
			return fail(EXIT_USAGE, "contexts set-policy: expected CONTEXT POLICY");
		}
		if ((rc = policy_check("POLICY", argv[3]))) {
			json_decref(req);
			return rc;
		}
		json_object_set_new(req, "policy", json_string(argv[3]));
		argc = 3;
	}
	for (int a = 3; a < argc; a++) {
		if (strcmp(sub, "create") == 0 && strcmp(argv[a], "--policy") == 0 && a + 1 < argc) {
			const char *p = argv[++a];
			if ((rc = policy_check("--policy", p))) {
				json_decref(req);
				return rc;
			}
			json_object_set_new(req, "policy", json_string(p));
		} else {
			json_decref(req);
			return fail(EXIT_USAGE, "contexts %s: unexpected argument '%s' (%s)", sub, argv[a], usage);
		}
	}
	if ((rc = call(req, &r)))
		return rc;
	if (g.json) {
		json_out(r);
	} else if (strcmp(sub, "show") == 0) {
		c = json_object_get(r, "context");
		context_header();
		context_row(c);
	} else if (strcmp(sub, "set-policy") == 0) {
		printf("context %u on node %" JSON_INTEGER_FORMAT ": policy %s -> %s; %" JSON_INTEGER_FORMAT
		       " key(s) and %" JSON_INTEGER_FORMAT " session(s) kept, the next publish applies it\n",
		       id, iget(r, "node"), sget(r, "previous"), sget(r, "policy"), iget(r, "keys"), iget(r, "sessions"));
	} else if (strcmp(sub, "create") == 0) {
		printf("context %u %s on node %" JSON_INTEGER_FORMAT " with policy %s\n", id,
		       json_is_true(json_object_get(r, "created")) ? "created" : "already active",
		       iget(r, "node"), sget(r, "policy"));
	} else {
		printf("context %u evicted from node %" JSON_INTEGER_FORMAT ": %" JSON_INTEGER_FORMAT
		       " session(s) and %" JSON_INTEGER_FORMAT " key(s) dropped\n",
		       id, iget(r, "node"), iget(r, "sessions"), iget(r, "keys"));
	}
	json_decref(r);
	return EXIT_OK;
}

static int do_stats(int argc, char **argv)
{
	bool nonzero = argc > 1 && strcmp(argv[1], "--nonzero") == 0;
	json_t *r;
	int rc;

	if (argc > 1 + nonzero)
		return fail(EXIT_USAGE, "stats: unexpected argument '%s' (expected --nonzero or nothing)", argv[1 + nonzero]);
	if ((rc = call(json_pack("{ss}", "cmd", "stats"), &r)))
		return rc;
	if (g.json) {
		json_out(r);
		json_decref(r);
		return EXIT_OK;
	}
	json_t *ctr = json_object_get(r, "counters"), *drops = json_object_get(r, "drops"),
	       *dm = json_object_get(r, "daemon");
	if (!json_is_true(json_object_get(r, "dataplane"))) {
		printf("dataplane: %s\n", sget(r, "dataplane_error"));
	} else {
		printf("%-24s %16s  %s\n", "COUNTER", "VALUE", "MEANING");
		for (int c = 0; c < HERALD_CTR_MAX; c++) {
			json_int_t v = iget(ctr, herald_counter_name(c));
			if (!nonzero || v)
				printf("%-24s %16" JSON_INTEGER_FORMAT "  %s\n", herald_counter_name(c), v, counter_help[c]);
		}
		printf("\n%-24s %16s  %s\n", "DROP REASON", "FRAMES", "MEANING");
		for (int d = 1; d < HERALD_DROP_MAX; d++) {
			json_int_t v = iget(drops, herald_drop_name(d));
			if (!nonzero || v)
				printf("%-24s %16" JSON_INTEGER_FORMAT "  %s\n", herald_drop_name(d), v, drop_help[d]);
		}
		json_t *port = json_object_get(r, "port");
		if (port != NULL) {
			printf("\n%-24s %16s  %s\n", "PORT (rte_eth_stats)", "VALUE", "MEANING");
			for (int s = 0; s < HERALD_PORT_STAT_MAX; s++) {
				json_int_t v = iget(port, herald_port_stat_name(s));
				if (!nonzero || v)
					printf("%-24s %16" JSON_INTEGER_FORMAT "  %s\n", herald_port_stat_name(s), v,
					       port_help[s]);
			}
		}
		json_int_t zc = iget(ctr, "tx_zerocopy"), cp = iget(ctr, "tx_copied");
		printf("\nfan-out: %" JSON_INTEGER_FORMAT " frames zero-copy, %" JSON_INTEGER_FORMAT " copied (%.1f %% copied)\n",
		       zc, cp, zc + cp ? 100.0 * (double)cp / (double)(zc + cp) : 0.0);
	}
	printf("daemon: %" JSON_INTEGER_FORMAT " redirects, %" JSON_INTEGER_FORMAT " HELLOs dropped, %"
	       JSON_INTEGER_FORMAT " contexts moved, %" JSON_INTEGER_FORMAT " in the table, epoch %" JSON_INTEGER_FORMAT "\n",
	       iget(dm, "redirects"), iget(dm, "hello_drops"), iget(dm, "moved"), iget(dm, "contexts"), iget(dm, "epoch"));
	json_decref(r);
	return EXIT_OK;
}

static void client_row(const json_t *c)
{
	printf("%-10" JSON_INTEGER_FORMAT " %-10" JSON_INTEGER_FORMAT " %-21s %10" JSON_INTEGER_FORMAT
	       " %-9s %-10s %6" JSON_INTEGER_FORMAT " %8" JSON_INTEGER_FORMAT " %5" JSON_INTEGER_FORMAT "\n",
	       iget(c, "session"), iget(c, "context"), sget(c, "client"), iget(c, "seq"),
	       json_is_true(json_object_get(c, "confirmed")) ? "yes" : "pending",
	       iget(c, "budget") == 0 ? "unlimited" : json_is_true(json_object_get(c, "credit_mode")) ? "credits" : "rate",
	       iget(c, "dirty_keys"), iget(c, "idle_ms"), iget(c, "queue"));
}

static void client_header(void)
{
	printf("%-10s %-10s %-21s %10s %-9s %-10s %6s %8s %5s\n", "SESSION", "CONTEXT", "CLIENT", "SEQ",
	       "CONFIRMED", "BUDGET", "DIRTY", "IDLE_MS", "QUEUE");
}

static int do_clients(int argc, char **argv)
{
	static const char *usage = "clients list [--context CONTEXT] | show SESSION | kick SESSION";
	const char *sub = argc > 1 ? argv[1] : "list";
	json_t *r, *c, *req;
	uint32_t id;
	size_t i;
	int rc;

	if (strcmp(sub, "list") == 0) {
		req = json_pack("{ss}", "cmd", "clients");
		if (argc == 4 && strcmp(argv[2], "--context") == 0) {
			if ((rc = parse_u32("--context", argv[3], &id))) {
				json_decref(req);
				return rc;
			}
			json_object_set_new(req, "context", json_integer(id));
		} else if (argc > 2) {
			json_decref(req);
			return fail(EXIT_USAGE, "clients list: unexpected argument '%s' (expected --context CONTEXT)", argv[2]);
		}
		if ((rc = call(req, &r)))
			return rc;
		if (g.json) {
			json_out(r);
		} else {
			client_header();
			json_array_foreach(json_object_get(r, "sessions"), i, c)
				client_row(c);
			if ((size_t)iget(r, "total") > json_array_size(json_object_get(r, "sessions")))
				printf("(%" JSON_INTEGER_FORMAT " sessions in all; the first %zu listed)\n", iget(r, "total"),
				       json_array_size(json_object_get(r, "sessions")));
		}
		json_decref(r);
		return EXIT_OK;
	}
	if (strcmp(sub, "show") != 0 && strcmp(sub, "kick") != 0)
		return fail(EXIT_USAGE, "clients: unknown subcommand '%s': expected %s", sub, usage);
	if (argc != 3)
		return fail(EXIT_USAGE, "clients %s: expected one SESSION id (see clients list)", sub);
	if ((rc = parse_u32("SESSION", argv[2], &id)))
		return rc;
	if ((rc = call(json_pack("{sssI}", "cmd", strcmp(sub, "show") == 0 ? "client" : "kick", "session",
				 (json_int_t)id), &r)))
		return rc;
	if (g.json) {
		json_out(r);
	} else if (strcmp(sub, "show") == 0) {
		client_header();
		client_row(json_object_get(r, "client"));
	} else {
		printf("session %u of context %" JSON_INTEGER_FORMAT " closed on node %" JSON_INTEGER_FORMAT
		       "; its client was sent BYE\n", id, iget(r, "context"), iget(r, "node"));
	}
	json_decref(r);
	return EXIT_OK;
}

static int do_drain(int argc, char **argv)
{
	json_t *r, *m;
	uint32_t node;
	size_t i;
	int rc;
	bool undo = argc == 3 && strcmp(argv[2], "--undo") == 0;

	if (argc < 2 || argc > 3 || (argc == 3 && !undo))
		return fail(EXIT_USAGE, "drain: expected NODE [--undo]");
	if ((rc = parse_u32("NODE", argv[1], &node)))
		return rc;
	if ((rc = call(json_pack("{sssIsb}", "cmd", "drain", "node", (json_int_t)node, "undo", undo), &r)))
		return rc;
	if (g.json) {
		json_out(r);
	} else if (undo) {
		printf("node %u: drain ended; new contexts may be placed here again\n", node);
	} else {
		json_array_foreach(json_object_get(r, "moved"), i, m)
			printf("context %-10" JSON_INTEGER_FORMAT " -> node %-10" JSON_INTEGER_FORMAT
			       " %" JSON_INTEGER_FORMAT " session(s) told to move\n",
			       iget(m, "context"), iget(m, "to"), iget(m, "sessions"));
		printf("node %u draining: %zu context(s) moved, %" JSON_INTEGER_FORMAT
		       " left here; no new context is placed here until 'drain %u --undo'\n", node,
		       json_array_size(json_object_get(r, "moved")), iget(r, "remaining"), node);
	}
	json_decref(r);
	return EXIT_OK;
}

static void config_print(const json_t *c)
{
	const char *sect, *key;
	json_t *s, *v;
	json_object_foreach((json_t *)c, sect, s) {
		if (!json_is_object(s))
			continue;
		printf("[%s]\n", sect);
		json_object_foreach(s, key, v) {
			size_t i;
			json_t *e;
			if (json_is_array(v)) {
				json_array_foreach(v, i, e)
					printf("%s = %s\n", key, json_string_value(e));
			} else if (json_is_string(v)) {
				printf("%s = %s\n", key, json_string_value(v));
			} else if (json_is_integer(v)) {
				printf("%s = %" JSON_INTEGER_FORMAT "\n", key, json_integer_value(v));
			} else if (json_is_boolean(v)) {
				printf("; %s: %s\n", key, json_is_true(v) ? "yes" : "no");
			}
		}
	}
}

static int do_config(int argc, char **argv)
{
	static const char *usage = "config show [FILE] | check FILE | dataplane-args [FILE] | reload";
	struct herald_config c;
	char err[512];
	json_t *r;
	int rc;

	if (argc < 2)
		return fail(EXIT_USAGE, "config: expected a subcommand: %s", usage);
	const char *sub = argv[1], *file = argc > 2 ? argv[2] : NULL;
	if (argc > 3)
		return fail(EXIT_USAGE, "config %s: unexpected argument '%s'", sub, argv[3]);
	if (strcmp(sub, "show") == 0 && file == NULL) {
		/* what the running daemon uses */
		if ((rc = call(json_pack("{ss}", "cmd", "config"), &r)))
			return rc;
		if (g.json)
			json_out(r);
		else
			config_print(json_object_get(r, "config"));
		json_decref(r);
		return EXIT_OK;
	}
	if (strcmp(sub, "reload") == 0) {
		if (file != NULL)
			return fail(EXIT_USAGE, "config reload: unexpected argument '%s' (heraldd re-reads its own file)", file);
		g.refused = EXIT_BAD_CONFIG; /* heraldd refuses a reload only for its file */
		if ((rc = call(json_pack("{ss}", "cmd", "reload"), &r)))
			return rc;
		if (g.json) {
			json_out(r);
		} else {
			char *list = json_dumps(json_object_get(r, "changed"), JSON_COMPACT);
			printf("%s reloaded; changed: %s\n", sget(r, "file"),
			       json_array_size(json_object_get(r, "changed")) ? list : "nothing");
			free(list);
		}
		json_decref(r);
		return EXIT_OK;
	}
	if (strcmp(sub, "check") == 0 && file == NULL)
		return fail(EXIT_USAGE, "config check: expected a FILE");
	if (strcmp(sub, "show") != 0 && strcmp(sub, "check") != 0 && strcmp(sub, "dataplane-args") != 0)
		return fail(EXIT_USAGE, "config: unknown subcommand '%s': expected %s", sub, usage);
	if (file == NULL)
		file = g.config ? g.config : HERALD_CONFIG_PATH;
	if (herald_config_load(file, &c, err, sizeof(err)) < 0)
		return fail(EXIT_BAD_CONFIG, "%s", err);
	if (strcmp(sub, "dataplane-args") == 0) {
		char args[1024];
		if (herald_config_dataplane_args(&c, args, sizeof(args)) < 0)
			return fail(EXIT_BAD_CONFIG, "%s: dataplane command line too long", file);
		if (g.json) {
			json_t *a = json_array();
			for (char *s = strtok(args, "\n"); s; s = strtok(NULL, "\n"))
				json_array_append_new(a, json_string(s));
			r = json_pack("{so}", "args", a);
			json_out(r);
			json_decref(r);
		} else {
			for (char *s = args; *s; s++)
				if (*s == '\n')
					*s = s[1] ? ' ' : '\0';
			puts(args);
		}
		return EXIT_OK;
	}
	json_t *j = herald_config_to_json(&c);
	if (strcmp(sub, "check") == 0) {
		if (g.json) {
			r = json_pack("{sbss}", "valid", 1, "file", file);
			json_out(r);
			json_decref(r);
		} else {
			printf("%s: valid (node %u, %s on %s, %u peer(s))\n", file, c.node_id, c.driver,
			       c.interface[0] ? c.interface : "-", c.npeers);
		}
	} else if (g.json) {
		json_out(j);
	} else {
		config_print(j);
	}
	json_decref(j);
	return EXIT_OK;
}

/* ---- sub and pub: libherald ---- */

struct node_opts {
	const char *node;
	const char *seeds; /* sub: HELLO responders; the client follows the context when it moves */
	char located[64];
	uint32_t count;
	double timeout_s;
	bool ordered;
	bool signed_publish; /* pub --publish-key FILE */
	uint8_t publish_key[HERALD_PUBLISH_KEY_LEN];
};

/* Where the context lives: --node, or ask heraldd (which places it if new). */
static int locate(uint32_t ctx, struct node_opts *o)
{
	json_t *r;
	int rc;
	if (o->node != NULL)
		return EXIT_OK;
	if ((rc = call(json_pack("{sssI}", "cmd", "locate", "context", (json_int_t)ctx), &r)))
		return rc;
	snprintf(o->located, sizeof(o->located), "%s", sget(r, "addr"));
	o->node = o->located;
	json_decref(r);
	return EXIT_OK;
}

static int node_opts_parse(int argc, char **argv, int first, struct node_opts *o, bool sub)
{
	for (int a = first; a < argc; a++) {
		char *end;
		if (strcmp(argv[a], "--node") == 0 && a + 1 < argc) {
			struct sockaddr_in sa;
			o->node = argv[++a];
			if (herald_addr_parse(o->node, HERALD_UDP_PORT_BASE, &sa) < 0)
				return fail(EXIT_USAGE, "--node: expected A.B.C.D[:PORT], got '%s'", o->node);
		} else if (sub && strcmp(argv[a], "--seeds") == 0 && a + 1 < argc) {
			o->seeds = argv[++a];
		} else if (sub && strcmp(argv[a], "--count") == 0 && a + 1 < argc) {
			if (parse_u32("--count", argv[++a], &o->count))
				return EXIT_USAGE;
		} else if (sub && strcmp(argv[a], "--timeout") == 0 && a + 1 < argc) {
			o->timeout_s = strtod(argv[++a], &end);
			if (*end || end == argv[a] || o->timeout_s <= 0)
				return fail(EXIT_USAGE, "--timeout: expected seconds > 0, got '%s'", argv[a]);
		} else if (sub && strcmp(argv[a], "--ordered") == 0) {
			o->ordered = true;
		} else if (!sub && strcmp(argv[a], "--publish-key") == 0 && a + 1 < argc) {
			char err[256];
			if (herald_key_file_load(argv[++a], o->publish_key, HERALD_PUBLISH_KEY_LEN, err, sizeof(err)) < 0)
				return fail(EXIT_USAGE, "--publish-key: %s", err);
			o->signed_publish = true;
		} else {
			return fail(EXIT_USAGE, "%s: unexpected argument '%s' (see heraldctl %s --help)", argv[0],
				    argv[a], argv[0]);
		}
	}
	return EXIT_OK;
}

struct sub_state {
	uint32_t seen;
	bool snapshot_done, closed;
};

static json_t *bytes_json(const void *p, size_t n)
{
	json_t *s = json_stringn(p, n); /* NULL unless valid UTF-8 */
	if (s == NULL) {
		char *hex = malloc(2 * n + 1);
		for (size_t i = 0; hex && i < n; i++)
			sprintf(hex + 2 * i, "%02x", ((const uint8_t *)p)[i]);
		s = json_pack("{ss}", "hex", hex ? hex : "");
		free(hex);
	}
	return s;
}

static void print_entry(struct sub_state *st, const char *kind, const struct herald_entry *e)
{
	st->seen++;
	if (g.json) {
		json_t *o = json_pack("{sssIsIsoso}", "event", kind, "context", (json_int_t)e->context, "seq",
				      (json_int_t)e->seq, "key", bytes_json(e->key, e->key_len), "value",
				      bytes_json(e->value, e->value_len));
		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
	} else {
		printf("[%u] %-8s #%" PRIu64 " %.*s = %.*s\n", e->context, kind, e->seq, (int)e->key_len,
		       (const char *)e->key, (int)e->value_len, (const char *)e->value);
	}
	fflush(stdout);
}

static void on_snapshot(void *u, const struct herald_entry *e)
{
	print_entry(u, "snapshot", e);
}

static void on_delta(void *u, const struct herald_entry *e)
{
	print_entry(u, "delta", e);
}

static void on_snapshot_end(void *u, uint32_t ctx, uint64_t seq)
{
	struct sub_state *st = u;
	st->snapshot_done = true;
	if (g.json)
		printf("{\"event\":\"snapshot_end\",\"context\":%u,\"seq\":%" PRIu64 "}\n", ctx, seq);
	else
		printf("[%u] -- snapshot complete at #%" PRIu64 "; live updates follow --\n", ctx, seq);
	fflush(stdout);
}

static void on_gap(void *u, uint32_t ctx, uint64_t expected, uint64_t next)
{
	(void)u;
	if (g.json)
		printf("{\"event\":\"gap\",\"context\":%u,\"expected\":%" PRIu64 ",\"next\":%" PRIu64 "}\n", ctx, expected, next);
	else
		printf("[%u] -- gap: #%" PRIu64 "..#%" PRIu64 " lost; a fresh snapshot follows --\n", ctx, expected, next - 1);
	fflush(stdout);
}

/* The node closed the session (heraldctl clients kick, or the context moved): sub ends. */
static void on_closed(void *u, uint32_t ctx)
{
	struct sub_state *st = u;
	st->closed = true;
	if (g.json)
		printf("{\"event\":\"closed\",\"context\":%u}\n", ctx);
	else
		printf("[%u] -- the node closed the session --\n", ctx);
	fflush(stdout);
}

static void on_error(void *u, uint32_t ctx, uint16_t code, const char *text, size_t len)
{
	(void)u;
	if (code == HERALD_ERR_MOVED) { /* drain: with --seeds the client looks the context up again */
		if (g.json)
			printf("{\"event\":\"moved\",\"context\":%u}\n", ctx);
		else
			printf("[%u] -- the context left its node (drain); looking it up again --\n", ctx);
		fflush(stdout);
		return;
	}
	fprintf(stderr, "heraldctl: node refused context %u: error %u: %.*s\n", ctx, code, (int)len, text);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int do_sub(int argc, char **argv)
{
	struct node_opts o = {0};
	struct sub_state st = {0};
	uint32_t ctx;
	int rc;

	if (argc < 2)
		return fail(EXIT_USAGE, "sub: expected a CONTEXT id");
	if ((rc = parse_u32("CONTEXT", argv[1], &ctx)) || (rc = node_opts_parse(argc, argv, 2, &o, true)))
		return rc;
	if (o.seeds != NULL && o.node != NULL)
		return fail(EXIT_USAGE, "sub: --node and --seeds exclude each other");
	if (o.seeds == NULL && (rc = locate(ctx, &o)))
		return rc;
	struct herald_callbacks cb = {.on_snapshot = on_snapshot, .on_snapshot_end = on_snapshot_end,
				      .on_delta = on_delta, .on_gap = on_gap, .on_error = on_error,
				      .on_closed = on_closed, .user = &st};
	struct herald_client_opts co = {.node = o.node, .seeds = o.seeds, .auto_resync = 1};
	const char *where = o.seeds ? o.seeds : o.node;
	struct herald_client *c = herald_client_open(&co, &cb);
	if (c == NULL)
		return fail(o.seeds && errno == EINVAL ? EXIT_USAGE : EXIT_UNREACHABLE, "cannot open a client for %s: %s",
			    where, strerror(errno));
	if ((rc = herald_subscribe_ex(c, ctx, o.ordered ? HERALD_SUB_ORDERED : 0)) < 0) {
		herald_client_close(c);
		return fail(EXIT_UNREACHABLE, "subscribe to %u at %s: %s", ctx, where, strerror(-rc));
	}
	if (!g.json)
		fprintf(stderr, "heraldctl: subscribed to context %u at %s (Ctrl-C ends)\n", ctx, where);
	uint64_t deadline = o.timeout_s > 0 ? mono_ms() + (uint64_t)(o.timeout_s * 1000) : UINT64_MAX;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!quit && !st.closed && (o.count == 0 || st.seen < o.count) && mono_ms() < deadline)
		if ((rc = herald_client_poll(c, 50)) < 0 && rc != -EINTR && rc != -ECONNREFUSED)
			break;
	herald_unsubscribe(c, ctx);
	herald_client_close(c);
	if (st.closed)
		return fail(EXIT_REFUSED, "sub: the node closed the session on context %u", ctx);
	if (o.count > 0 && st.seen < o.count)
		return fail(EXIT_NO_DATA, "sub: %u of %u message(s) from context %u before the timeout", st.seen,
			    o.count, ctx);
	return EXIT_OK;
}

static int do_pub(int argc, char **argv)
{
	struct node_opts o = {0};
	uint32_t ctx;
	int rc;

	if (argc < 4)
		return fail(EXIT_USAGE, "pub: expected CONTEXT KEY VALUE");
	if ((rc = parse_u32("CONTEXT", argv[1], &ctx)) || (rc = node_opts_parse(argc, argv, 4, &o, false)))
		return rc;
	size_t kl = strlen(argv[2]), vl = strlen(argv[3]);
	if (kl == 0 || kl > HERALD_KEY_MAX)
		return fail(EXIT_USAGE, "pub: KEY must be 1..%d bytes, got %zu", HERALD_KEY_MAX, kl);
	if (vl > HERALD_VALUE_MAX)
		return fail(EXIT_USAGE, "pub: VALUE must be at most %d bytes, got %zu", HERALD_VALUE_MAX, vl);
	if ((rc = locate(ctx, &o)))
		return rc;
	struct herald_client_opts co = {.node = o.node, .publish_key = o.signed_publish ? o.publish_key : NULL};
	struct herald_callbacks cb = {.on_error = on_error};
	struct herald_client *c = herald_client_open(&co, &cb);
	if (c == NULL)
		return fail(EXIT_UNREACHABLE, "cannot open a client for %s: %s", o.node, strerror(errno));
	rc = herald_publish(c, ctx, argv[2], kl, argv[3], vl);
	herald_client_poll(c, 20); /* an ERROR or ICMP unreachable, if the node sends one */
	struct herald_client_stats s;
	herald_client_stats(c, &s);
	herald_client_close(c);
	if (rc < 0)
		return fail(EXIT_UNREACHABLE, "publish to %u at %s: %s", ctx, o.node, strerror(-rc));
	if (s.errors || s.icmp_errors)
		return fail(EXIT_REFUSED, "publish to %u at %s: the node refused or is unreachable", ctx, o.node);
	if (g.json) {
		json_t *r = json_pack("{sIssssss}", "context", (json_int_t)ctx, "node", o.node, "key", argv[2],
				      "value", argv[3]);
		json_out(r);
		json_decref(r);
	} else {
		printf("published %s = %s to context %u at %s\n", argv[2], argv[3], ctx, o.node);
	}
	return EXIT_OK;
}

static const struct cmd cmds[] = {
	{"status", "", "the node: id, epoch, dataplane, contexts, sessions, peers, redirects", do_status},
	{"nodes", "", "the cluster as this node sees it: state, epoch, weight, contexts per node", do_nodes},
	{"contexts", "list | show CONTEXT | create CONTEXT [--policy replace|none|merge:OP] | "
	 "set-policy CONTEXT POLICY | evict CONTEXT",
	 "where contexts live, their policy, keys and sessions; create, re-police or evict one on this node",
	 do_contexts},
	{"clients", "list [--context CONTEXT] | show SESSION | kick SESSION",
	 "sessions on this node's dataplane: client, context, sequence, budget; close one", do_clients},
	{"drain", "NODE [--undo]", "move every context off this node (NODE) and place none here until --undo",
	 do_drain},
	{"stats", "[--nonzero]", "every dataplane counter and drop reason, zero-copy vs copied, daemon counters",
	 do_stats},
	{"config", "show [FILE] | check FILE | dataplane-args [FILE] | reload",
	 "the running configuration (show), validate a file (check), the dataplane's command line, "
	 "make heraldd re-read its file (reload)", do_config},
	{"sub", "CONTEXT [--node A.B.C.D[:PORT] | --seeds A[:P],B[:P]...] [--count N] [--timeout S] [--ordered]",
	 "print a context's snapshot, then every update, until Ctrl-C, N messages or S seconds; "
	 "with --seeds it follows the context to another node", do_sub},
	{"pub", "CONTEXT KEY VALUE [--node A.B.C.D[:PORT]] [--publish-key FILE]",
	 "publish one KEY = VALUE to a context (signed with the node's publish key)", do_pub},
	{NULL, NULL, NULL, NULL},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: heraldctl [--socket PATH | --remote ADDR:PORT --key-file FILE] [--config FILE] [--json] COMMAND [ARGS]\n\n"
		"options:\n"
		"  --socket PATH  heraldd's control socket (default: [control] socket of the config\n"
		"                 file, else %s)\n"
		"  --config FILE  the config file (default %s)\n"
		"  --remote ADDR:PORT  heraldd's remote endpoint ([control] remote) instead of the socket\n"
		"  --key-file FILE     with --remote: the key it asks to be proven ([control] remote_key_file)\n"
		"  --json         machine-readable output (errors too, on stdout)\n"
		"  --help         this text; COMMAND --help for one command\n\ncommands:\n",
		HERALD_CONFIG_CTL_SOCK, HERALD_CONFIG_PATH);
	for (const struct cmd *c = cmds; c->name; c++)
		fprintf(out, "  %-9s %s\n", c->name, c->help);
	fprintf(out, "\nexit codes: 0 ok, 1 refused or failed, 2 bad usage, 3 heraldd or node unreachable,\n"
		"            4 invalid config file, 5 sub: not enough messages before --timeout\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"config", required_argument, NULL, 'c'},
		{"remote", required_argument, NULL, 'r'},
		{"key-file", required_argument, NULL, 'k'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Options up to the command only ("+"): the command parses its own. */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			g.socket = optarg;
			break;
		case 'c':
			g.config = optarg;
			break;
		case 'r':
			g.remote = optarg;
			break;
		case 'k':
			g.key_file = optarg;
			break;
		case 'j':
			g.json = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	/* --json may also follow the command, as scripts tend to write it. */
	int n = 0;
	char **args = argv + optind;
	for (int i = 0; i < argc - optind; i++) {
		if (strcmp(args[i], "--json") == 0)
			g.json = true;
		else
			args[n++] = args[i];
	}
	for (const struct cmd *k = cmds; k->name; k++)
		if (strcmp(k->name, args[0]) == 0)
			return wants_help(n, args) ? cmd_help(k) : k->run(n, args);
	char list[256] = "";
	for (const struct cmd *k = cmds; k->name; k++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", list[0] ? ", " : "", k->name);
	return fail(EXIT_USAGE, "unknown command '%s': expected one of %s", args[0], list);
}
