/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers the kernel-socket benchmarks share (herald-pingpong,
 * herald-bench-conflation): the clock, strict argument parsing, nearest-rank
 * percentiles and JSON output. Header-only: each bench is one file, and
 * defines BENCH_NAME (its program name, for messages) before including it.
 */
#ifndef HERALD_BENCH_UTIL_H
#define HERALD_BENCH_UTIL_H

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_util.h"
#endif

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A whole decimal (or 0x) number up to @p max; signs, blanks and junk are refused. */
static inline int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 0);
	if (errno != 0 || *end != '\0' || *out > max)
		return -EINVAL;
	return 0;
}

static inline int bad_arg(const char *opt, const char *val, const char *expected)
{
	fprintf(stderr, BENCH_NAME ": %s '%s': expected %s\n", opt, val, expected);
	return -EINVAL;
}

/*
 * Comma-separated integers in @p min..@p max into @p out, at most @p max_n.
 * @return how many, or -EINVAL (also for an empty list).
 */
static inline int parse_uint_list(const char *arg, unsigned *out, unsigned max_n,
				  unsigned long min, unsigned long max)
{
	char buf[512], *save = NULL, *tok;
	unsigned n = 0;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned long v;

		if (n == max_n || parse_uint(tok, max, &v) < 0 || v < min)
			return -EINVAL;
		out[n++] = (unsigned)v;
	}
	return n ? (int)n : -EINVAL;
}

/* The options every bench shares: --json FILE ('j') and --help ('h'); anything else is a usage error. */
static inline int common_opt(int opt, const char **json, void (*usage)(FILE *))
{
	switch (opt) {
	case 'j':
		*json = optarg;
		return 0;
	case 'h':
		usage(stdout);
		exit(0);
	default:
		usage(stderr);
		return -EINVAL;
	}
}

/* After getopt_long(): no operand is left over and --node was given. */
static inline int args_finish(int argc, char **argv, const char *node, void (*usage)(FILE *))
{
	if (optind != argc) {
		fprintf(stderr, BENCH_NAME ": unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (node == NULL) {
		fprintf(stderr, BENCH_NAME ": --node IP[:PORT] is required\n");
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* Write @p root (NULL: it could not be built) to @p path and release it. */
static inline int json_write(json_t *root, const char *path)
{
	int ret;

	if (root == NULL) {
		fprintf(stderr, BENCH_NAME ": cannot build JSON\n");
		return -ENOMEM;
	}
	ret = json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(7));
	json_decref(root);
	if (ret < 0) {
		fprintf(stderr, BENCH_NAME ": cannot write %s\n", path);
		return -EIO;
	}
	return 0;
}

static inline int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile @p p (0..100) of @p n sorted samples; 0 when empty. */
static inline uint64_t rank_u64(const uint64_t *s, size_t n, double p)
{
	size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999999);

	if (n == 0)
		return 0;
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return s[rank - 1];
}

#endif /* HERALD_BENCH_UTIL_H */
