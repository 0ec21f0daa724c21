/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-xdp-maps: write the steer program's pinned maps the way heraldd
 * does (route per context, token key derived from the cluster secret) and
 * read its counters, for the lab's tests.
 *
 *   herald-xdp-maps --pin-dir DIR [--secret HEX] [--ttl S]
 *                   [--route CTX[+N]=A.B.C.D:PORT/QUEUE] [--stats]
 *
 * --stats prints "name value" per XDP counter and "drop_name value" per
 * non-zero XDP drop reason, summed over CPUs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include <herald/proto.h>

#include "keys.h"
#include "loader.h"

static int map_open(const char *dir, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "herald-xdp-maps: %s: %s\n", path, strerror(errno));
	return fd;
}

/* Sum a per-CPU u64 array of @p n entries; prints "prefix+name value". */
static int percpu_print(int fd, unsigned n, const char *prefix, const char *(*name)(int), int nonzero)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v = calloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(*v));

	if (ncpu <= 0 || v == NULL)
		return 1;
	for (uint32_t k = 0; k < n; k++) {
		uint64_t sum = 0;
		if (bpf_map_lookup_elem(fd, &k, v) < 0) {
			perror("herald-xdp-maps: lookup");
			free(v);
			return 1;
		}
		for (int c = 0; c < ncpu; c++)
			sum += v[c];
		if (name((int)k) != NULL && (!nonzero || sum != 0))
			printf("%s%s %" PRIu64 "\n", prefix, name((int)k), sum);
	}
	free(v);
	return 0;
}

static const char *ctr_name(int i) { return herald_xdp_counter_name((enum herald_xdp_counter)i); }
static const char *drop_name(int i) { return i == 0 ? NULL : herald_drop_name((enum herald_drop)i); }

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pin-dir", required_argument, NULL, 'd'}, {"secret", required_argument, NULL, 'k'},
		{"ttl", required_argument, NULL, 'T'},     {"route", required_argument, NULL, 'r'},
		{"stats", no_argument, NULL, 's'},         {0},
	};
	const char *dir = NULL;
	uint32_t ttl = HERALD_TOKEN_TTL_DEFAULT;
	int c, rc = 0;

	if (sodium_init() < 0)
		return 1;
	/* First pass: the directory and the TTL, wherever they are given. */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (c == 'd')
			dir = optarg;
		else if (c == 'T')
			ttl = (uint32_t)strtoul(optarg, NULL, 10);
		else if (c == '?')
			return 2;
	if (dir == NULL) {
		fprintf(stderr, "usage: herald-xdp-maps --pin-dir DIR [--secret HEX] [--ttl S] "
				"[--route CTX[+N]=A.B.C.D:PORT/QUEUE] [--stats]\n");
		return 2;
	}
	optind = 1;
	while (rc == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': {
			uint8_t secret[HERALD_CLUSTER_SECRET_LEN] = {0}, placement[HERALD_DIRECTOR_KEY_LEN];
			struct herald_xdp_secret s = {.ttl_s = ttl, .valid = 1};
			uint32_t zero = 0;
			int fd = map_open(dir, "herald_secret");
			if (sodium_hex2bin(secret, sizeof(secret), optarg, strlen(optarg), NULL, NULL, NULL) != 0) {
				fprintf(stderr, "herald-xdp-maps: --secret expects hex\n");
				return 2;
			}
			herald_keys_derive(secret, placement, s.key);
			if (fd < 0 || bpf_map_update_elem(fd, &zero, &s, BPF_ANY) < 0)
				rc = 1;
			break;
		}
		case 'r': {
			unsigned ctx, n = 1, port, queue;
			char ip[32];
			struct herald_xdp_route r = {0};
			int fd = map_open(dir, "herald_routes");
			if ((sscanf(optarg, "%u+%u=%31[0-9.]:%u/%u", &ctx, &n, ip, &port, &queue) != 5 &&
			     sscanf(optarg, "%u=%31[0-9.]:%u/%u", &ctx, ip, &port, &queue) != 4) ||
			    inet_pton(AF_INET, ip, &r.node_ip) != 1) {
				fprintf(stderr, "herald-xdp-maps: --route expects CTX[+N]=A.B.C.D:PORT/QUEUE\n");
				return 2;
			}
			r.port = (uint16_t)port;
			r.queue = (uint16_t)queue;
			r.epoch = 1;
			for (unsigned i = 0; fd >= 0 && i < n; i++) {
				uint32_t k = ctx + i;
				if (bpf_map_update_elem(fd, &k, &r, BPF_ANY) < 0)
					rc = 1;
			}
			if (fd < 0)
				rc = 1;
			break;
		}
		case 's': {
			int sfd = map_open(dir, "herald_stats"), dfd = map_open(dir, "herald_drops");
			if (sfd < 0 || dfd < 0 || percpu_print(sfd, HERALD_XDP_CTR_MAX, "", ctr_name, 0) ||
			    percpu_print(dfd, HERALD_DROP_MAX, "drop_", drop_name, 1))
				rc = 1;
			break;
		}
		default:
			break;
		}
	}
	return rc;
}
