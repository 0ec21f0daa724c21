/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-loss: attach the loss, duplication and reordering injectors to an
 * interface for as long as it runs, then print what they saw, dropped,
 * duplicated and held back, and detach.
 *
 *   herald-loss --iface IF [--rate FRACTION] [--dup FRACTION] [--reorder FRACTION]
 *               [--duration S]
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "loss.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int usage(FILE *out, int rc)
{
	fprintf(out, "usage: herald-loss --iface IF [--rate FRACTION] [--dup FRACTION] [--reorder FRACTION]\n"
		     "                   [--duration SECONDS]\n"
		     "  drops --rate (0..1) of the herald frames arriving on IF (XDP), then holds back\n"
		     "  --reorder (0..1) of those left behind the frames received with them and\n"
		     "  duplicates --dup (0..1) of the rest (tc ingress), until SIGINT/SIGTERM or --duration\n");
	return rc;
}

#define NSTATS 4 /* seen, dropped, duplicated, reordered (loss.bpf.c) */

static void stats_read(const struct loss_bpf *skel, unsigned long long out[NSTATS])
{
	int ncpu = libbpf_num_possible_cpus();
	unsigned long long vals[ncpu > 0 ? ncpu : 1];
	for (unsigned k = 0; k < NSTATS; k++) {
		out[k] = 0;
		if (ncpu > 0 && bpf_map_lookup_elem(bpf_map__fd(skel->maps.loss_stats), &k, vals) == 0)
			for (int c = 0; c < ncpu; c++)
				out[k] += vals[c];
	}
}

/* A fraction 0..1 for --@p opt, or -1 with the message. */
static int fraction(const char *opt, const char *text, double *out)
{
	char *end;

	*out = strtod(text, &end);
	if (end == text || *end != '\0' || !(*out >= 0 && *out <= 1)) {
		fprintf(stderr, "herald-loss: --%s expects a fraction in 0..1, got '%s'\n", opt, text);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"iface", required_argument, NULL, 'i'},
		{"rate", required_argument, NULL, 'r'},
		{"dup", required_argument, NULL, 'D'},
		{"reorder", required_argument, NULL, 'R'},
		{"duration", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *iface = NULL;
	double rate = 0, dup = 0, reorder = 0, duration = 0;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			iface = optarg;
			break;
		case 'r':
			if (fraction("rate", optarg, &rate) < 0)
				return 2;
			break;
		case 'D':
			if (fraction("dup", optarg, &dup) < 0)
				return 2;
			break;
		case 'R':
			if (fraction("reorder", optarg, &reorder) < 0)
				return 2;
			break;
		case 'd':
			duration = strtod(optarg, &end);
			if (*end != '\0' || duration < 0) {
				fprintf(stderr, "herald-loss: --duration expects seconds >= 0, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			return usage(stdout, 0);
		default:
			return usage(stderr, 2);
		}
	}
	if (iface == NULL)
		return usage(stderr, 2);
	unsigned ifindex = if_nametoindex(iface);
	if (ifindex == 0) {
		fprintf(stderr, "herald-loss: no interface '%s': %s\n", iface, strerror(errno));
		return 1;
	}

	struct loss_bpf *skel = loss_bpf__open_and_load();
	if (skel == NULL) {
		fprintf(stderr, "herald-loss: cannot load the BPF program: %s\n", strerror(errno));
		return 1;
	}
	__u32 zero = 0, ppm = (__u32)(rate * 1e6 + 0.5), dppm = (__u32)(dup * 1e6 + 0.5);
	__u32 rppm = (__u32)(reorder * 1e6 + 0.5);
	bool tc_on = dppm != 0 || rppm != 0;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tc, .prog_fd = bpf_program__fd(skel->progs.herald_dup));
	int rc = bpf_map_update_elem(bpf_map__fd(skel->maps.loss_ppm), &zero, &ppm, BPF_ANY);
	if (rc == 0)
		rc = bpf_map_update_elem(bpf_map__fd(skel->maps.dup_ppm), &zero, &dppm, BPF_ANY);
	if (rc == 0)
		rc = bpf_map_update_elem(bpf_map__fd(skel->maps.reorder_ppm), &zero, &rppm, BPF_ANY);
	if (rc == 0)
		rc = bpf_xdp_attach((int)ifindex, bpf_program__fd(skel->progs.herald_loss),
				    XDP_FLAGS_DRV_MODE, NULL);
	if (rc < 0) {
		fprintf(stderr, "herald-loss: cannot attach XDP to %s: %s\n", iface, strerror(-rc));
		loss_bpf__destroy(skel);
		return 1;
	}
	if (tc_on) {
		rc = bpf_tc_hook_create(&hook); /* the clsact qdisc; -EEXIST if it is there */
		if (rc == 0 || rc == -EEXIST)
			rc = bpf_tc_attach(&hook, &tc);
		if (rc < 0) {
			fprintf(stderr, "herald-loss: cannot attach tc to %s: %s\n", iface, strerror(-rc));
			bpf_xdp_detach((int)ifindex, XDP_FLAGS_DRV_MODE, NULL);
			loss_bpf__destroy(skel);
			return 1;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("herald-loss: dropping %.4f%%, holding back %.4f%% and duplicating %.4f%% of herald frames on %s\n",
	       rate * 100, reorder * 100, dup * 100, iface);
	fflush(stdout);

	for (double t = 0; !stop && (duration == 0 || t < duration); t += 0.05)
		usleep(50000);

	unsigned long long st[NSTATS];
	stats_read(skel, st);
	if (tc_on) {
		tc.prog_fd = tc.prog_id = tc.flags = 0; /* detach by handle and priority */
		bpf_tc_detach(&hook, &tc);
		bpf_tc_hook_destroy(&hook);
	}
	bpf_xdp_detach((int)ifindex, XDP_FLAGS_DRV_MODE, NULL);
	loss_bpf__destroy(skel);
	printf("herald-loss: %s: seen %llu dropped %llu (%.2f%%) duplicated %llu (%.2f%%) reordered %llu (%.2f%%)\n",
	       iface, st[0], st[1], st[0] ? 100.0 * (double)st[1] / (double)st[0] : 0.0, st[2],
	       st[0] ? 100.0 * (double)st[2] / (double)st[0] : 0.0, st[3],
	       st[0] ? 100.0 * (double)st[3] / (double)st[0] : 0.0);
	return 0;
}
