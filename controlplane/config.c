/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald.conf: one table says every key (section, name, type, where it goes,
 * what it accepts), so the parser, the error messages, `config show` and the
 * sample file cannot disagree. inih does the INI syntax; this file checks
 * every value and the keys against each other, and only a file with no error
 * at all is copied out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include <herald/proto.h>

#include "config.h"

const struct herald_config herald_config_defaults = {
	.path = "",
	.driver = "",
	.udp_port = 7400,
	.queues = 1,
	.lcores = "1",
	.idle = HERALD_IDLE_SPIN,
	.dataplane_sock = HERALD_CONFIG_DP_SOCK,
	.file_prefix = "herald",
	.publish_window_s = HERALD_PUBLISH_WINDOW_DEFAULT_S,
	.replay_cache = 65536,
	.idle_unload_s = HERALD_CKPT_IDLE_UNLOAD_S,
	.checkpoint_interval_s = HERALD_CKPT_INTERVAL_S,
	.checkpoint_map_mb = HERALD_CKPT_MAP_MB,
	.heartbeat_ms = 50,
	.suspect_after = 3,
	.dead_after = 6,
	.token_ttl_s = 60,
	.capacity = 16384,
	.xdp_pin_dir = "/sys/fs/bpf/herald",
	.control_sock = HERALD_CONFIG_CTL_SOCK,
};

enum kind {
	K_U32,     /* uint32_t in [min, max] */
	K_U16,     /* uint16_t in [min, max] */
	K_NAME,    /* [A-Za-z0-9._-]+ */
	K_PATH,    /* absolute path, or "" where min == 0 allows it */
	K_IP,      /* struct in_addr */
	K_ADDR,    /* struct sockaddr_in, ADDR:PORT */
	K_PEER,    /* ADDR:PORT appended to peers[] (repeatable) */
	K_DRIVER,
	K_LCORES,
	K_IDLE,
	K_KEYFILE, /* path of 64 hex digits, read into key[] */
	K_PUBKEY,  /* path of a publish key (32 hex digits), checked, not kept */
	K_DEVARGS, /* key=value[,key=value...] */
	K_PCI,     /* PCI address DDDD:BB:DD.F */
};

struct key {
	const char *section, *name;
	enum kind kind;
	size_t off, size;
	unsigned long min, max;
	bool required;
	const char *help;
};

#define F(field) offsetof(struct herald_config, field), sizeof(((struct herald_config *)0)->field)

static const struct key keys[] = {
	{"node", "id", K_U32, F(node_id), 0, UINT32_MAX - 1, true, "this node's id, unique in the cluster and stable across restarts"},
	{"node", "name", K_NAME, F(name), 0, 0, false, "a name for logs and heraldctl"},
	{"dataplane", "driver", K_DRIVER, F(driver), 0, 0, true, "how the dataplane attaches to the NIC"},
	{"dataplane", "interface", K_NAME, F(interface), 0, 0, false, "kernel interface for af_xdp, af_packet, tap"},
	{"dataplane", "pci_address", K_PCI, F(pci_address), 0, 0, false, "driver pci: the NIC's PCI function"},
	{"dataplane", "devargs", K_DEVARGS, F(devargs), 0, 0, false, "extra PMD arguments, KEY=VALUE[,KEY=VALUE]"},
	{"dataplane", "ip", K_IP, F(ip), 0, 0, true, "IPv4 address clients reach the dataplane at"},
	{"dataplane", "udp_port", K_U16, F(udp_port), 1, 65535, false, "base UDP port: queue q listens on udp_port + q"},
	{"dataplane", "queues", K_U16, F(queues), 1, 64, false, "RX/TX queues, one worker lcore each"},
	{"dataplane", "lcores", K_LCORES, F(lcores), 0, 0, false, "EAL lcore list"},
	{"dataplane", "idle", K_IDLE, F(idle), 0, 0, false, "what an idle worker does"},
	{"dataplane", "control_socket", K_PATH, F(dataplane_sock), 1, 0, false, "the dataplane's control socket"},
	{"dataplane", "file_prefix", K_NAME, F(file_prefix), 0, 0, false, "EAL --file-prefix (hugepage files)"},
	{"dataplane", "publish_key_file", K_PUBKEY, F(publish_key_file), 0, 0, false,
	 "file of the publish key (32 hex digits): only signed PUBLISH is applied (absent: any)"},
	{"dataplane", "publish_window_s", K_U32, F(publish_window_s), 1, 86400, false,
	 "with publish_key_file: a signed PUBLISH's stamp may differ from the node's clock this much"},
	{"dataplane", "replay_cache", K_U32, F(replay_cache), 64, 1u << 24, false,
	 "with publish_key_file: MACs of applied PUBLISH remembered per queue against replays"},
	{"dataplane", "checkpoint_dir", K_PATH, F(checkpoint_dir), 0, 0, false,
	 "LMDB directory of context checkpoints: idle contexts unload, state survives restarts (empty: none)"},
	{"dataplane", "idle_unload_s", K_U32, F(idle_unload_s), 0, 86400 * 365, false,
	 "unload a context this long after its last client and update (0: never)"},
	{"dataplane", "checkpoint_interval_s", K_U32, F(checkpoint_interval_s), 0, 86400, false,
	 "write changed contexts this often while loaded (0: on unload and exit only)"},
	{"dataplane", "checkpoint_map_mb", K_U32, F(checkpoint_map_mb), 1, 1u << 20, false,
	 "LMDB map size, the most the checkpoint store holds"},
	{"cluster", "listen", K_ADDR, F(listen), 0, 0, true, "UDP address for peer heartbeats"},
	{"cluster", "hello", K_ADDR, F(hello), 0, 0, false, "UDP address of the userspace HELLO responder"},
	{"cluster", "peer", K_PEER, F(peers), 0, 0, false, "a peer's listen address (repeat the key per peer)"},
	{"cluster", "heartbeat_ms", K_U32, F(heartbeat_ms), 1, 60000, false, "peer heartbeat interval"},
	{"cluster", "suspect_after", K_U32, F(suspect_after), 1, 1000, false, "missed heartbeats before SUSPECT"},
	{"cluster", "dead_after", K_U32, F(dead_after), 2, 1000, false, "missed heartbeats before DEAD"},
	{"cluster", "key_file", K_KEYFILE, F(key_file), 0, 0, false, "file holding the 32-byte cluster secret as 64 hex digits"},
	{"cluster", "token_ttl_s", K_U32, F(token_ttl_s), 1, 86400, false, "REDIRECT token lifetime"},
	{"cluster", "capacity", K_U32, F(capacity), 1, UINT32_MAX, false, "sessions at which the node counts as full"},
	{"cluster", "xdp_pin_dir", K_PATH, F(xdp_pin_dir), 0, 0, false, "bpffs directory of the XDP maps (empty: none)"},
	{"cluster", "state_file", K_PATH, F(state_file), 0, 0, false,
	 "heraldd's highest issued epoch, kept across restarts (default: heraldd.state in checkpoint_dir)"},
	{"control", "socket", K_PATH, F(control_sock), 1, 0, false, "heraldd's control socket (heraldctl)"},
	{"control", "status_file", K_PATH, F(status_file), 0, 0, false, "JSON view of the node, rewritten on changes (empty: none)"},
	{"control", "remote", K_ADDR, F(remote), 0, 0, false, "TCP address of the remote heraldctl endpoint (absent: none)"},
	{"control", "remote_key_file", K_KEYFILE, F(remote_key_file), 0, 0, false, "file holding the 32-byte key remote heraldctl must prove, as 64 hex digits"},
	{"metrics", "listen", K_ADDR, F(metrics), 0, 0, false, "TCP address of the Prometheus endpoint (absent: none)"},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= HERALD_CONFIG_KEYS_MAX, "key_line has a slot per key");

static const char *const drivers[] = {"pci", "af_xdp", "af_packet", "tap", "memif", "null"};
#define NDRIVERS (sizeof(drivers) / sizeof(drivers[0]))

/* Parse state: the configuration being built and the first error. */
struct parse {
	const char *name;
	struct herald_config c;
	int line;                 /* line inih is on, counted by the reader */
	int key_line[NKEYS];      /* where each key was set, 0 = not set */
	char err[512];
	bool failed;
	/* the source: a FILE or a string */
	FILE *f;
	const char *text;
	bool torn, too_long;
};

static void fail(struct parse *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct parse *p, int line, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	if (p->failed)
		return; /* the first error is the one to fix first */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(p->err, sizeof(p->err), "%s:%d: %s", p->name, line, msg);
	else
		snprintf(p->err, sizeof(p->err), "%s: %s", p->name, msg);
	p->failed = true;
}

/*
 * inih's reader: one line per call, so the handler knows which line it is
 * on (the Debian build has no INI_HANDLER_LINENO). A last line without its
 * newline is a torn write, not a configuration.
 */
static char *reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	int n = 0, ch;

	for (;;) {
		if (p->f != NULL)
			ch = fgetc(p->f);
		else
			ch = *p->text ? (unsigned char)*p->text++ : EOF;
		if (ch == EOF) {
			if (n > 0)
				p->torn = true;
			break;
		}
		if (n < num - 1)
			str[n++] = (char)ch;
		else if (ch != '\n')
			p->too_long = true;
		if (ch == '\n')
			break;
	}
	if (n == 0 && ch == EOF)
		return NULL;
	str[n] = '\0';
	p->line++;
	if (p->too_long) {
		fail(p, p->line, "line longer than %d characters", num - 2);
		p->too_long = false;
	}
	return str;
}

static bool is_name(const char *v)
{
	if (*v == '\0')
		return false;
	for (; *v; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
		      *v == '.' || *v == '_' || *v == '-'))
			return false;
	return true;
}

static bool parse_ulong(const char *v, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	if (*v < '0' || *v > '9')
		return false;
	errno = 0;
	*out = strtoul(v, &end, 10);
	return errno == 0 && *end == '\0' && *out >= min && *out <= max;
}

static bool parse_addr(const char *v, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(v, ':');
	unsigned long port;

	if (colon == NULL || (size_t)(colon - v) >= sizeof(host))
		return false;
	memcpy(host, v, (size_t)(colon - v));
	host[colon - v] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1 || !parse_ulong(colon + 1, 1, 65535, &port))
		return false;
	sa->sin_port = htons((uint16_t)port);
	return true;
}

/* "1", "2-5", "2,4,6-7": what EAL's -l takes. @p count (optional) gets the lcores named. */
static bool parse_lcores(const char *v, unsigned *count)
{
	const char *s = v;
	unsigned n = 0;
	while (*s) {
		unsigned long a, b;
		char *end;
		if (*s < '0' || *s > '9')
			return false;
		a = strtoul(s, &end, 10);
		b = a;
		if (*end == '-') {
			if (end[1] < '0' || end[1] > '9')
				return false;
			b = strtoul(end + 1, &end, 10);
		}
		if (a >= 1024 || b >= 1024 || b < a)
			return false;
		n += (unsigned)(b - a + 1);
		if (*end == ',' && end[1] != '\0')
			end++;
		else if (*end != '\0')
			return false;
		s = end;
	}
	if (count != NULL)
		*count = n;
	return *v != '\0';
}

static bool parse_devargs(const char *v)
{
	/* KEY=VALUE pairs separated by commas; no blanks, nothing a shell expands. */
	size_t key = 0;
	bool eq = false;
	if (*v == '\0')
		return true;
	for (const char *s = v;; s++) {
		if (*s == ',' || *s == '\0') {
			if (!eq || key == 0)
				return false;
			if (*s == '\0')
				return true;
			key = 0;
			eq = false;
		} else if (*s == '=' && !eq) {
			eq = true;
		} else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
			   strchr("._-:/", *s) != NULL) {
			key += !eq;
		} else {
			return false;
		}
	}
}

static const struct key *key_find(const char *section, const char *name, bool *section_known)
{
	*section_known = false;
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		*section_known = true;
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	}
	return NULL;
}

static void expected(const struct key *k, char *buf, size_t len)
{
	switch (k->kind) {
	case K_U32:
	case K_U16:
		snprintf(buf, len, "an integer in %lu..%lu", k->min, k->max);
		break;
	case K_NAME:
		snprintf(buf, len, "1..%zu characters of A-Z a-z 0-9 . _ -", k->size - 1);
		break;
	case K_PATH:
		snprintf(buf, len, "an absolute path of at most %zu printable ASCII characters, no blanks "
			 "or quotes%s", k->size - 1,
			 k->min ? "" : " (or empty)");
		break;
	case K_IP:
		snprintf(buf, len, "an IPv4 address (A.B.C.D)");
		break;
	case K_ADDR:
	case K_PEER:
		snprintf(buf, len, "ADDR:PORT (IPv4 address and a port in 1..65535)");
		break;
	case K_DRIVER:
		snprintf(buf, len, "one of pci, af_xdp, af_packet, tap, memif, null");
		break;
	case K_LCORES:
		snprintf(buf, len, "an lcore list such as 1 or 2-5 or 2,4,6-7 (lcores < 1024)");
		break;
	case K_IDLE:
		snprintf(buf, len, "spin or sleep");
		break;
	case K_PCI:
		snprintf(buf, len, "a PCI address DDDD:BB:DD.F (hex, as lspci -D prints it)");
		break;
	case K_KEYFILE:
		snprintf(buf, len, "an absolute path to a file of %d hex digits", 2 * HERALD_CONFIG_KEY_LEN);
		break;
	case K_PUBKEY:
		snprintf(buf, len, "an absolute path to a file of %d hex digits", 2 * HERALD_PUBLISH_KEY_LEN);
		break;
	case K_DEVARGS:
		snprintf(buf, len, "KEY=VALUE[,KEY=VALUE...] without blanks");
		break;
	}
}

static bool pci_ok(const char *v)
{
	unsigned dom, bus, dev, fn;
	int end = 0;

	return strlen(v) == 12 && sscanf(v, "%4x:%2x:%2x.%1x%n", &dom, &bus, &dev, &fn, &end) == 4 &&
	       end == 12 && dev < 32 && fn < 8 && strspn(v, "0123456789abcdefABCDEF:.") == 12;
}

static bool path_ok(const char *v, size_t size, bool allow_empty)
{
	if (*v == '\0')
		return allow_empty;
	if (*v != '/' || strlen(v) >= size)
		return false;
	/* Printable ASCII only: paths go into JSON (config show) and unit files. */
	for (; *v; v++)
		if (*v <= ' ' || *v > '~' || strchr("'\"$`\\", *v) != NULL)
			return false;
	return true;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	bool known;
	char want[160], why[320];
	const struct key *k;
	uint8_t *field;
	unsigned long v;
	bool ok = false;

	if (section[0] == '\0') {
		fail(p, p->line, "%s: key outside any section: expected a [section] line first", name);
		return 0;
	}
	k = key_find(section, name, &known);
	if (!known) {
		fail(p, p->line, "[%s]: unknown section: expected node, dataplane, cluster, control or metrics",
		     section);
		return 0;
	}
	if (k == NULL) {
		char list[320] = "";
		for (size_t i = 0; i < NKEYS; i++)
			if (strcmp(keys[i].section, section) == 0)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
					 list[0] ? ", " : "", keys[i].name);
		fail(p, p->line, "[%s] %s: unknown key: expected one of %s", section, name, list);
		return 0;
	}
	size_t ki = (size_t)(k - keys);
	if (k->kind != K_PEER && p->key_line[ki] != 0) {
		fail(p, p->line, "[%s] %s: set twice (first on line %d)", section, name, p->key_line[ki]);
		return 0;
	}
	p->key_line[ki] = p->line;
	field = (uint8_t *)&p->c + k->off;
	expected(k, want, sizeof(want));
	why[0] = '\0';
	switch (k->kind) {
	case K_U32:
		if ((ok = parse_ulong(value, k->min, k->max, &v)))
			*(uint32_t *)field = (uint32_t)v;
		break;
	case K_U16:
		if ((ok = parse_ulong(value, k->min, k->max, &v)))
			*(uint16_t *)field = (uint16_t)v;
		break;
	case K_NAME:
		if ((ok = is_name(value) && strlen(value) < k->size))
			memcpy(field, value, strlen(value) + 1);
		break;
	case K_PATH:
		if ((ok = path_ok(value, k->size, k->min == 0)))
			memcpy(field, value, strlen(value) + 1);
		break;
	case K_IP:
		ok = inet_pton(AF_INET, value, field) == 1;
		break;
	case K_ADDR:
		ok = parse_addr(value, (struct sockaddr_in *)field);
		break;
	case K_PEER:
		if (p->c.npeers == HERALD_CONFIG_PEERS_MAX) {
			fail(p, p->line, "[%s] %s: at most %d peers", section, name, HERALD_CONFIG_PEERS_MAX);
			return 0;
		}
		if ((ok = parse_addr(value, &p->c.peers[p->c.npeers])))
			p->c.npeers++;
		break;
	case K_DRIVER:
		for (size_t i = 0; i < NDRIVERS && !ok; i++)
			ok = strcmp(value, drivers[i]) == 0;
		if (ok)
			memcpy(field, value, strlen(value) + 1);
		break;
	case K_PCI:
		if ((ok = pci_ok(value)))
			memcpy(field, value, strlen(value) + 1);
		break;
	case K_LCORES:
		if ((ok = parse_lcores(value, NULL) && strlen(value) < k->size))
			memcpy(field, value, strlen(value) + 1);
		break;
	case K_IDLE:
		if ((ok = strcmp(value, "spin") == 0))
			p->c.idle = HERALD_IDLE_SPIN;
		else if ((ok = strcmp(value, "sleep") == 0))
			p->c.idle = HERALD_IDLE_SLEEP;
		break;
	case K_KEYFILE:
		if (!path_ok(value, k->size, false))
			break;
		bool remote = k->off == offsetof(struct herald_config, remote_key_file);
		if (herald_key_file_load(value, remote ? p->c.remote_key : p->c.key, HERALD_CONFIG_KEY_LEN, why,
					 sizeof(why)) < 0) {
			fail(p, p->line, "[%s] %s: %s", section, name, why);
			return 0;
		}
		memcpy(field, value, strlen(value) + 1);
		*(remote ? &p->c.remote_key_set : &p->c.key_set) = ok = true;
		break;
	case K_PUBKEY: {
		/* Read now so a bad file fails here, with its line; the dataplane reads it again. */
		uint8_t pk[HERALD_PUBLISH_KEY_LEN];
		if (!path_ok(value, k->size, false))
			break;
		int rc = herald_key_file_load(value, pk, sizeof(pk), why, sizeof(why));
		explicit_bzero(pk, sizeof(pk));
		if (rc < 0) {
			fail(p, p->line, "[%s] %s: %s", section, name, why);
			return 0;
		}
		memcpy(field, value, strlen(value) + 1);
		ok = true;
		break;
	}
	case K_DEVARGS:
		if ((ok = parse_devargs(value) && strlen(value) < k->size))
			memcpy(field, value, strlen(value) + 1);
		break;
	}
	if (!ok) {
		fail(p, p->line, "[%s] %s: expected %s, got '%s'%s", section, name, want, value, why);
		return 0;
	}
	return 1;
}

static int line_of(const struct parse *p, const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return p->key_line[i];
	return 0;
}

static bool addr_eq(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

/*
 * The context life cycle: its tunables mean nothing without a store, and
 * heraldd keeps its epoch next to the store unless told otherwise. Likewise
 * the replay tunables without a publish key.
 */
static void ckpt_validate(struct parse *p)
{
	static const char *const tunables[] = {"idle_unload_s", "checkpoint_interval_s", "checkpoint_map_mb"};
	struct herald_config *c = &p->c;

	for (size_t i = 0; i < sizeof(tunables) / sizeof(tunables[0]) && c->checkpoint_dir[0] == '\0'; i++)
		if (line_of(p, "dataplane", tunables[i]) != 0)
			fail(p, line_of(p, "dataplane", tunables[i]),
			     "[dataplane] %s: needs checkpoint_dir (the store contexts are written to)", tunables[i]);
	static const char *const replay[] = {"publish_window_s", "replay_cache"};
	for (size_t i = 0; i < 2 && c->publish_key_file[0] == '\0'; i++)
		if (line_of(p, "dataplane", replay[i]) != 0)
			fail(p, line_of(p, "dataplane", replay[i]),
			     "[dataplane] %s: needs publish_key_file (replays of signed PUBLISH)", replay[i]);
	if (c->state_file[0] == '\0' && c->checkpoint_dir[0] != '\0' && line_of(p, "cluster", "state_file") == 0 &&
	    snprintf(c->state_file, sizeof(c->state_file), "%s/heraldd.state", c->checkpoint_dir) >=
		    (int)sizeof(c->state_file))
		fail(p, line_of(p, "dataplane", "checkpoint_dir"), "[dataplane] checkpoint_dir: too long");
}

/* The keys against each other, once every value is known to be well-formed. */
static void validate(struct parse *p)
{
	struct herald_config *c = &p->c;

	for (size_t i = 0; i < NKEYS && !p->failed; i++)
		if (keys[i].required && p->key_line[i] == 0) {
			char want[160];
			expected(&keys[i], want, sizeof(want));
			fail(p, 0, "[%s] %s: missing: expected %s (%s)", keys[i].section, keys[i].name, want,
			     keys[i].help);
		}
	if (p->failed)
		return;
	bool needs_iface = strcmp(c->driver, "af_xdp") == 0 || strcmp(c->driver, "af_packet") == 0 ||
			   strcmp(c->driver, "tap") == 0;
	bool pci = strcmp(c->driver, "pci") == 0;
	if (pci && c->pci_address[0] == '\0')
		fail(p, line_of(p, "dataplane", "driver"),
		     "[dataplane] pci_address: missing: driver pci needs the NIC's PCI function");
	else if (!pci && c->pci_address[0] != '\0')
		fail(p, line_of(p, "dataplane", "pci_address"),
		     "[dataplane] pci_address: driver %s takes no PCI address: expected driver = pci",
		     c->driver);
	if (needs_iface && c->interface[0] == '\0')
		fail(p, line_of(p, "dataplane", "driver"),
		     "[dataplane] interface: missing: driver %s needs one (a kernel interface name)", c->driver);
	else if (!needs_iface && c->interface[0] != '\0')
		fail(p, line_of(p, "dataplane", "interface"),
		     "[dataplane] interface: driver %s takes no interface: expected no interface key",
		     c->driver);
	if ((unsigned)c->udp_port + c->queues - 1 > 65535)
		fail(p, line_of(p, "dataplane", "queues"),
		     "[dataplane] queues: udp_port + queues - 1 must stay <= 65535, got %u + %u - 1",
		     c->udp_port, c->queues);
	unsigned nlcores = 0;
	if (parse_lcores(c->lcores, &nlcores) && nlcores < c->queues)
		fail(p, line_of(p, "dataplane", "lcores") ? line_of(p, "dataplane", "lcores")
							  : line_of(p, "dataplane", "queues"),
		     "[dataplane] lcores: %u queues need %u lcores (one worker each), \"%s\" names %u",
		     c->queues, c->queues, c->lcores, nlcores);
	if (c->dead_after <= c->suspect_after)
		fail(p, line_of(p, "cluster", "dead_after") ? line_of(p, "cluster", "dead_after")
							    : line_of(p, "cluster", "suspect_after"),
		     "[cluster] dead_after: expected more than suspect_after (%u), got %u", c->suspect_after,
		     c->dead_after);
	for (unsigned i = 0; i < c->npeers; i++) {
		if (addr_eq(&c->peers[i], &c->listen))
			fail(p, line_of(p, "cluster", "peer"),
			     "[cluster] peer: a peer is this node's own listen address");
		for (unsigned j = 0; j < i; j++)
			if (addr_eq(&c->peers[i], &c->peers[j]))
				fail(p, line_of(p, "cluster", "peer"), "[cluster] peer: listed twice");
	}
	if (strcmp(c->control_sock, c->dataplane_sock) == 0)
		fail(p, line_of(p, "control", "socket"),
		     "[control] socket: must differ from [dataplane] control_socket (%s)", c->dataplane_sock);
	if (c->remote.sin_port != 0 && !c->remote_key_set)
		fail(p, line_of(p, "control", "remote"),
		     "[control] remote: needs remote_key_file (remote heraldctl must prove a key)");
	ckpt_validate(p);
	if (c->hello.sin_port == 0) {
		c->hello = c->listen;
		c->hello.sin_port = htons(c->udp_port);
	}
}

static int load(struct parse *p, const char *name, struct herald_config *out, char *err, size_t errlen)
{
	snprintf(p->c.path, sizeof(p->c.path), "%s", name);
	int rc = ini_parse_stream(reader, p, handler, p);
	if (rc == -2) {
		fail(p, 0, "out of memory");
	} else if (rc > 0 && !p->failed) {
		fail(p, rc, "syntax error: expected '[section]', 'key = value' or a ; comment");
	}
	if (!p->failed && p->torn)
		fail(p, p->line, "the last line has no newline: the file looks cut short (torn write?)");
	if (!p->failed && p->line == 0)
		fail(p, 0, "empty file");
	if (!p->failed)
		validate(p);
	if (p->failed) {
		snprintf(err, errlen, "%s", p->err);
		*out = herald_config_defaults;
		return -EINVAL;
	}
	memcpy(p->c.key_line, p->key_line, sizeof(p->key_line));
	*out = p->c;
	return 0;
}

/* One parse from a FILE or a string; the parse state is large, so it is on the heap. */
static int load_from(const char *name, FILE *f, const char *text, struct herald_config *out,
		     char *err, size_t errlen)
{
	struct parse *p = calloc(1, sizeof(*p));
	int rc;

	*out = herald_config_defaults;
	if (p == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	p->c = herald_config_defaults;
	p->name = name;
	p->f = f;
	p->text = text;
	rc = load(p, name, out, err, errlen);
	free(p);
	return rc;
}

int herald_config_load(const char *path, struct herald_config *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	int rc;

	if (f == NULL) {
		rc = -errno;
		*out = herald_config_defaults;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	rc = load_from(path, f, NULL, out, err, errlen);
	fclose(f);
	return rc;
}

int herald_config_load_string(const char *name, const char *text, struct herald_config *out,
			      char *err, size_t errlen)
{
	return load_from(name, NULL, text, out, err, errlen);
}

/* Keys a running heraldd applies on reload; every other key needs a restart. */
static const char *const live_keys[] = {
	"node.name", "cluster.peer", "cluster.heartbeat_ms", "cluster.suspect_after",
	"cluster.dead_after", "cluster.token_ttl_s", "cluster.capacity", "control.status_file",
};

int herald_config_reload_check(const struct herald_config *old, const struct herald_config *next,
			       json_t **changed, char *err, size_t errlen)
{
	char name[64];
	json_t *list = json_array();

	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		bool differs = memcmp((const char *)old + k->off, (const char *)next + k->off, k->size) != 0;
		if (k->kind == K_PEER)
			differs = old->npeers != next->npeers ||
				  memcmp(old->peers, next->peers, next->npeers * sizeof(next->peers[0])) != 0;
		if (k->kind == K_KEYFILE && k->off == offsetof(struct herald_config, remote_key_file))
			differs |= memcmp(old->remote_key, next->remote_key, sizeof(old->remote_key)) != 0;
		else if (k->kind == K_KEYFILE)
			differs |= old->key_set != next->key_set || memcmp(old->key, next->key, sizeof(old->key)) != 0;
		if (!differs)
			continue;
		snprintf(name, sizeof(name), "%s.%s", k->section, k->name);
		bool live = false;
		for (size_t l = 0; l < sizeof(live_keys) / sizeof(live_keys[0]); l++)
			live |= strcmp(live_keys[l], name) == 0;
		if (!live) {
			int line = next->key_line[i] ? next->key_line[i] : old->key_line[i];
			snprintf(err, errlen, "%s%s%.0d: [%s] %s: %s; it applies only when heraldd restarts, "
				 "so nothing was applied", next->path, line ? ":" : "", line, k->section, k->name,
				 next->key_line[i] ? "changed" : "removed");
			json_decref(list);
			return -EINVAL;
		}
		json_array_append_new(list, json_string(name));
	}
	if (changed != NULL)
		*changed = list;
	else
		json_decref(list);
	return 0;
}

struct sock_scan {
	char *out;
	size_t len;
	bool found;
};

static int sock_scan(void *user, const char *section, const char *name, const char *value)
{
	struct sock_scan *s = user;
	if (strcmp(section, "control") == 0 && strcmp(name, "socket") == 0 && strlen(value) < s->len) {
		memcpy(s->out, value, strlen(value) + 1);
		s->found = true;
	}
	return 1; /* keep going past errors: only this key matters here */
}

int herald_config_control_socket(const char *path, char *out, size_t len)
{
	struct sock_scan s = {.out = out, .len = len};
	ini_parse(path, sock_scan, &s);
	return s.found ? 0 : -ENOENT;
}

const char *herald_config_idle_name(enum herald_config_idle idle)
{
	return idle == HERALD_IDLE_SLEEP ? "sleep" : "spin";
}

static json_t *addr_json(const struct sockaddr_in *sa)
{
	char ip[INET_ADDRSTRLEN], text[INET_ADDRSTRLEN + 8];
	if (sa->sin_port == 0)
		return json_null();
	inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip));
	snprintf(text, sizeof(text), "%s:%u", ip, ntohs(sa->sin_port));
	return json_string(text);
}

/* The context life cycle's keys, into config show's [dataplane] and [cluster]. */
static void ckpt_json(json_t *j, const struct herald_config *c)
{
	json_t *dp = json_object_get(j, "dataplane"), *cl = json_object_get(j, "cluster");
	json_object_set_new(dp, "checkpoint_dir", json_string(c->checkpoint_dir));
	json_object_set_new(dp, "idle_unload_s", json_integer(c->idle_unload_s));
	json_object_set_new(dp, "checkpoint_interval_s", json_integer(c->checkpoint_interval_s));
	json_object_set_new(dp, "checkpoint_map_mb", json_integer(c->checkpoint_map_mb));
	json_object_set_new(dp, "publish_window_s", json_integer(c->publish_window_s));
	json_object_set_new(dp, "replay_cache", json_integer(c->replay_cache));
	json_object_set_new(cl, "state_file", json_string(c->state_file));
}

json_t *herald_config_to_json(const struct herald_config *c)
{
	char ip[INET_ADDRSTRLEN];
	json_t *peers = json_array(), *j;

	for (unsigned i = 0; i < c->npeers; i++)
		json_array_append_new(peers, addr_json(&c->peers[i]));
	inet_ntop(AF_INET, &c->ip, ip, sizeof(ip));
	j = json_pack("{ss s{sI ss} s{ss ss ss ss ss si si ss ss ss ss ss} s{so so so sI sI sI ss sb sI sI ss} s{ss ss so ss} s{so}}",
		"path", c->path,
		"node", "id", (json_int_t)c->node_id, "name", c->name,
		"dataplane", "driver", c->driver, "interface", c->interface,
		"pci_address", c->pci_address, "devargs", c->devargs,
		"ip", ip, "udp_port", (int)c->udp_port, "queues", (int)c->queues, "lcores", c->lcores,
		"idle", herald_config_idle_name(c->idle), "control_socket", c->dataplane_sock,
		"file_prefix", c->file_prefix, "publish_key_file", c->publish_key_file,
		"cluster", "listen", addr_json(&c->listen), "hello", addr_json(&c->hello), "peer", peers,
		"heartbeat_ms", (json_int_t)c->heartbeat_ms, "suspect_after", (json_int_t)c->suspect_after,
		"dead_after", (json_int_t)c->dead_after, "key_file", c->key_file, "key_loaded", c->key_set,
		"token_ttl_s", (json_int_t)c->token_ttl_s, "capacity", (json_int_t)c->capacity,
		"xdp_pin_dir", c->xdp_pin_dir,
		"control", "socket", c->control_sock, "status_file", c->status_file, "remote", addr_json(&c->remote),
		"remote_key_file", c->remote_key_file,
		"metrics", "listen", addr_json(&c->metrics));
	if (j != NULL)
		ckpt_json(j, c);
	return j;
}

/* The context life cycle's dataplane options; none without a checkpoint_dir. */
static int ckpt_args(const struct herald_config *c, char *buf, size_t cap)
{
	if (c->checkpoint_dir[0] == '\0')
		return 0;
	return snprintf(buf, cap, "--checkpoint-dir\n%s\n--idle-unload-s\n%u\n--checkpoint-interval-s\n%u\n"
			"--checkpoint-map-mb\n%u\n", c->checkpoint_dir, c->idle_unload_s,
			c->checkpoint_interval_s, c->checkpoint_map_mb);
}

int herald_config_dataplane_args(const struct herald_config *c, char *buf, size_t cap)
{
	char ip[INET_ADDRSTRLEN], port[200], bus[40];
	bool pci = c->pci_address[0] != '\0';
	const char *where = pci ? c->pci_address : c->interface;
	inet_ntop(AF_INET, &c->ip, ip, sizeof(ip));
	snprintf(port, sizeof(port), "%s%s%s%s%s", c->driver, where[0] ? ":" : "", where,
		 c->devargs[0] ? "," : "", c->devargs);
	/* PCI mode: the EAL probes that one function (allow-list); otherwise no PCI at all. */
	if (pci)
		snprintf(bus, sizeof(bus), "-a\n%s", c->pci_address);
	else
		snprintf(bus, sizeof(bus), "--no-pci");
	int n = snprintf(buf, cap,
			 "-l\n%s\n%s\n--file-prefix\n%s\n--\n--port\n%s\n--ip\n%s\n--udp-port\n%u\n"
			 "--queues\n%u\n--idle\n%s\n--ctl-sock\n%s\n",
			 c->lcores, bus, c->file_prefix, port, ip, c->udp_port, c->queues,
			 herald_config_idle_name(c->idle), c->dataplane_sock);
	if (n >= 0 && (size_t)n < cap && c->publish_key_file[0] != '\0')
		n += snprintf(buf + n, cap - (size_t)n, "--publish-key\n%s\n--publish-window\n%u\n"
			      "--replay-cache\n%u\n", c->publish_key_file, c->publish_window_s, c->replay_cache);
	if (n >= 0 && (size_t)n < cap)
		n += ckpt_args(c, buf + n, cap - (size_t)n);
	/*
	 * A cluster secret: heraldd issues tokens under the key derived from it,
	 * so the dataplane requires them (it derives the same key from the file).
	 */
	if (n >= 0 && (size_t)n < cap && c->key_file[0] != '\0')
		n += snprintf(buf + n, cap - (size_t)n, "--token-key\n%s\n--token-ttl\n%u\n", c->key_file,
			      c->token_ttl_s);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}
