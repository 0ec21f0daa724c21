/* SPDX-License-Identifier: BSD-3-Clause */
/* The node's memory and counters, and the checker's own drops: node_watch.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <herald/proto.h>

#include "node_watch.h"

/* Where a watched counter comes from. */
enum source { SRC_HERALD, SRC_PORT };

struct watched {
	char name[48];      /* as printed */
	const char *field;  /* JSON field in its source's reply */
	enum source src;
};

static struct watched watched[WATCH_ERRORS_MAX];
static unsigned nwatched;
static pid_t pid;
static int tel_fd = -1;
/* Replies of /herald/stats and /ethdev/stats,0 (port 0: the lab's only port). */
static char reply[2][16384];

static void watch_add(const char *name, const char *field, enum source src)
{
	struct watched *w = &watched[nwatched++];

	snprintf(w->name, sizeof(w->name), "%s", name);
	w->field = field;
	w->src = src;
}

static void watch_list(void)
{
	static const enum herald_counter errs[] = {
		HERALD_CTR_ERRORS_SENT, HERALD_CTR_SESSIONS_EXPIRED, HERALD_CTR_SESSIONS_CUT,
		HERALD_CTR_UNKNOWN_SESSION_ERRORS, HERALD_CTR_SESSIONS_UNCONFIRMED,
		HERALD_CTR_CHECKPOINT_ERRORS,
	};
	/* The port's own: frames the NIC (here af_packet/af_xdp) missed or failed. */
	static const char *const port[] = {"imissed", "ierrors", "oerrors", "rx_nombuf"};
	static char drop_names[HERALD_DROP_MAX][48];

	nwatched = 0;
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		watch_add(herald_counter_name(errs[i]), herald_counter_name(errs[i]), SRC_HERALD);
	/* Every drop reason but not_ipv4: the kernel's IPv6 chatter on the lab veth. */
	for (int r = 1; r < HERALD_DROP_MAX; r++) {
		if (r == HERALD_DROP_NOT_IPV4)
			continue;
		snprintf(drop_names[r], sizeof(drop_names[r]), "drop_%s", herald_drop_name(r));
		watch_add(drop_names[r], drop_names[r], SRC_HERALD);
	}
	for (size_t i = 0; i < sizeof(port) / sizeof(port[0]); i++) {
		char name[48];

		snprintf(name, sizeof(name), "port_%s", port[i]);
		watch_add(name, port[i], SRC_PORT);
	}
}

_Static_assert(HERALD_DROP_MAX + 6 + 4 <= WATCH_ERRORS_MAX, "room for every watched counter");

int watch_open(pid_t dp_pid, const char *telemetry)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[4096];

	pid = dp_pid;
	watch_list();
	if (telemetry == NULL)
		return 0;
	tel_fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", telemetry);
	if (tel_fd < 0 || connect(tel_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    recv(tel_fd, buf, sizeof(buf), 0) <= 0) {
		fprintf(stderr, "node watch: telemetry %s: %s\n", telemetry, strerror(errno));
		watch_close();
		return -1;
	}
	return 0;
}

void watch_close(void)
{
	if (tel_fd >= 0)
		close(tel_fd);
	tel_fd = -1;
}

unsigned watch_error_count(void)
{
	return nwatched;
}

const char *watch_error_name(unsigned i)
{
	return i < nwatched ? watched[i].name : NULL;
}

/* One telemetry command's reply into @p out; "" if it failed. */
static void tel_query(const char *cmd, char *out, size_t size)
{
	ssize_t n = -1;

	out[0] = '\0';
	if (tel_fd >= 0 && send(tel_fd, cmd, strlen(cmd), 0) >= 0)
		n = recv(tel_fd, out, size - 1, 0);
	if (n > 0)
		out[n] = '\0';
}

/* An integer JSON field of a reply, or -1. */
static long json_field(const char *json, const char *field)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", field);
	p = strstr(json, pat);
	return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

static long rss_kb(void)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid == 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Udp RcvbufErrors of this network namespace (/proc/net/snmp), or -1. */
static long udp_rcvbuf_errors(void)
{
	char names[1024], values[1024];
	long v = -1;
	FILE *f = fopen("/proc/net/snmp", "r");

	if (f == NULL)
		return -1;
	while (fgets(names, sizeof(names), f)) {
		char *sn, *sv, *n, *val;

		if (strncmp(names, "Udp:", 4) != 0 || fgets(values, sizeof(values), f) == NULL)
			continue;
		n = strtok_r(names, " \n", &sn);
		val = strtok_r(values, " \n", &sv);
		while (n && val) {
			if (strcmp(n, "RcvbufErrors") == 0)
				v = strtol(val, NULL, 10);
			n = strtok_r(NULL, " \n", &sn);
			val = strtok_r(NULL, " \n", &sv);
		}
		break;
	}
	fclose(f);
	return v;
}

/* Drops and errors both ways on every interface of this namespace but lo (/proc/net/dev), or -1. */
static long rx_drops(void)
{
	char line[512];
	long total = 0;
	FILE *f = fopen("/proc/net/dev", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char ifname[64];
		unsigned long long v[12];

		/* rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs drop */
		if (sscanf(line, " %63[^:]: %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   ifname, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
			   &v[9], &v[10], &v[11]) == 13 && strcmp(ifname, "lo") != 0)
			total += (long)(v[2] + v[3] + v[10] + v[11]);
	}
	fclose(f);
	return total;
}

void watch_read(struct watch_sample *s)
{
	s->rss_kb = rss_kb();
	s->rcvbuf_errors = udp_rcvbuf_errors();
	s->path_drops = rx_drops();
	tel_query("/herald/stats", reply[SRC_HERALD], sizeof(reply[SRC_HERALD]));
	tel_query("/ethdev/stats,0", reply[SRC_PORT], sizeof(reply[SRC_PORT]));
	s->mbufs = json_field(reply[SRC_HERALD], "mbufs_in_use");
	s->deliveries = json_field(reply[SRC_HERALD], "deliveries");
	s->publishes = json_field(reply[SRC_HERALD], "publishes");
	s->stalls = json_field(reply[SRC_HERALD], "worker_stalls");
	s->node_errors = tel_fd >= 0 ? 0 : -1;
	for (unsigned i = 0; i < nwatched; i++) {
		s->errors[i] = json_field(reply[watched[i].src], watched[i].field);
		if (s->errors[i] > 0 && s->node_errors >= 0)
			s->node_errors += s->errors[i];
	}
}

unsigned watch_errors_risen(const struct watch_sample *from, const struct watch_sample *to,
			    const char *prefix, bool (*ignore)(const char *name))
{
	unsigned risen = 0;

	for (unsigned i = 0; i < nwatched; i++) {
		if (to->errors[i] <= from->errors[i] || (ignore && ignore(watched[i].name)))
			continue;
		printf("%s%s rose from %ld to %ld\n", prefix, watched[i].name, from->errors[i],
		       to->errors[i]);
		risen++;
	}
	return risen;
}

void watch_unread_print(const struct watch_sample *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nwatched; i++)
		if (s->errors[i] < 0)
			printf("%s%s", n++ ? ", " : "node counters not readable (not judged): ",
			       watched[i].name);
	if (n)
		printf("\n");
}

void watch_print(const struct watch_sample *s, unsigned n, unsigned max_rows)
{
	unsigned step = n > max_rows ? (n + max_rows - 1) / max_rows : 1;

	printf("samples (node: VmRSS kB, mbufs_in_use, deliveries, publishes applied, errors+drops,"
	       " worker_stalls; checker: updates published, deltas received, rcvbuf drops, interface"
	       " drops, publisher behind schedule by):\n");
	printf("  %7s %9s %6s %11s %10s %7s %6s %10s %11s %7s %7s %7s\n", "t s", "rss_kb",
	       "mbufs", "deliveries", "publishes", "errors", "stalls", "published", "deltas",
	       "rcvbuf", "ifdrop", "behind");
	for (unsigned i = 0; i < n; i++) {
		const struct watch_sample *x = &s[i];

		/* Every step-th row, and always the last. */
		if (i % step != 0 && i != n - 1)
			continue;
		printf("  %7.0f %9ld %6ld %11ld %10ld %7ld %6ld %10ld %11ld %7ld %7ld %7ld\n", x->t,
		       x->rss_kb, x->mbufs, x->deliveries, x->publishes, x->node_errors, x->stalls,
		       x->published, x->client_deltas, x->rcvbuf_errors, x->path_drops, x->behind);
	}
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* Median of one field over samples [from, to); -1 if never sampled. */
static long median(const struct watch_sample *s, unsigned from, unsigned to, bool mbufs)
{
	long *v = malloc((to - from + 1) * sizeof(*v));
	unsigned n = 0;
	long m = -1;

	if (v == NULL)
		return -1;
	for (unsigned i = from; i < to; i++) {
		long x = mbufs ? s[i].mbufs : s[i].rss_kb;

		if (x >= 0)
			v[n++] = x;
	}
	if (n > 0) {
		qsort(v, n, sizeof(*v), cmp_long);
		m = v[n / 2];
	}
	free(v);
	return m;
}

bool watch_mem_flat(const struct watch_sample *s, unsigned n, double warmup_s,
		    long slack_kb, long slack_mbufs)
{
	static const char *const what[2] = {"VmRSS kB", "mbufs_in_use"};
	const long slack[2] = {slack_kb, slack_mbufs};
	unsigned first = 0, third;
	bool ok = true;

	if (n == 0)
		return true;
	/* Warm-up: the node's tables and pools fill during the first seconds. */
	while (first < n && s[first].t < warmup_s)
		first++;
	if (n - first < 3) {
		/* A short run (CI): no warm-up, so there are thirds to compare. */
		first = 0;
	}
	third = (n - first) / 3;
	if (third == 0) {
		printf("node memory: FAIL, only %u samples: run longer\n", n);
		return false;
	}
	for (int m = 0; m < 2; m++) {
		long a = median(s, first, first + third, m), b = median(s, n - third, n, m);

		if (a < 0) {
			printf("node memory: %s not sampled\n", what[m]);
			continue;
		}
		bool flat = b <= a + slack[m];
		printf("node memory: %s median %ld over %.0f..%.0f s, median %ld over %.0f..%.0f s"
		       " (change %+ld, tolerance +%ld): %s\n", what[m], a, s[first].t,
		       s[first + third - 1].t, b, s[n - third].t, s[n - 1].t, b - a, slack[m],
		       flat ? "flat" : "GREW");
		ok &= flat;
	}
	return ok;
}
