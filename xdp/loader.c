/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald_xdp: the userspace side of xdp/steer.bpf.c. The control plane owns
 * the maps; pinning them is what lets the dataplane keep serving while
 * heraldd restarts, and lets heraldctl read counters without asking anyone.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "loader.h"
#include "steer.skel.h"

struct herald_xdp {
	struct steer_bpf *skel;
	char pin_dir[PATH_MAX]; /* empty: maps are not pinned */
};

static const char *const counter_names[] = {
#define HERALD_X_NAME(name, help) #name,
	HERALD_XDP_COUNTERS(HERALD_X_NAME)
#undef HERALD_X_NAME
};

/* Lowered once before main(), so lookups from any thread only read. */
static char counter_lower[HERALD_XDP_CTR_MAX][40];

__attribute__((constructor)) static void counter_names_init(void)
{
	for (unsigned i = 0; i < HERALD_XDP_CTR_MAX; i++)
		for (size_t k = 0; counter_names[i][k] != '\0' && k < sizeof(counter_lower[i]) - 1; k++) {
			char c = counter_names[i][k];
			counter_lower[i][k] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
}

const char *herald_xdp_counter_name(enum herald_xdp_counter c)
{
	return (unsigned)c < HERALD_XDP_CTR_MAX ? counter_lower[c] : NULL;
}

/* The maps to pin: every named map; the skeleton's .rodata stays private. */
static struct bpf_map *pinned_maps(struct steer_bpf *s, unsigned i)
{
	struct bpf_map *maps[] = {s->maps.xsks_map, s->maps.herald_routes, s->maps.herald_secret,
				  s->maps.herald_drops, s->maps.herald_stats};
	return i < sizeof(maps) / sizeof(maps[0]) ? maps[i] : NULL;
}

static int set_pin_paths(struct herald_xdp *x)
{
	char path[PATH_MAX];
	struct bpf_map *m;
	int err;

	if (mkdir(x->pin_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	for (unsigned i = 0; (m = pinned_maps(x->skel, i)) != NULL; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", x->pin_dir, bpf_map__name(m)) >= (int)sizeof(path))
			return -ENAMETOOLONG;
		err = bpf_map__set_pin_path(m, path);
		if (err)
			return err;
	}
	return 0;
}

struct herald_xdp *herald_xdp_open(const struct herald_xdp_opts *opts)
{
	static const struct herald_xdp_opts defaults;
	struct herald_xdp *x;
	const char *dir;
	int err;

	if (opts == NULL)
		opts = &defaults;
	dir = opts->pin_dir != NULL ? opts->pin_dir : HERALD_XDP_PIN_DIR;
	if (strlen(dir) >= sizeof(x->pin_dir) ||
	    (uint32_t)(opts->port_base ? opts->port_base : HERALD_UDP_PORT_BASE) +
			    (opts->nqueues ? opts->nqueues : HERALD_XDP_MAX_QUEUES) > 65536u ||
	    opts->nqueues > HERALD_XDP_MAX_QUEUES) {
		errno = EINVAL;
		return NULL;
	}

	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	strcpy(x->pin_dir, dir);

	x->skel = steer_bpf__open();
	if (x->skel == NULL) {
		err = -errno;
		goto out_free;
	}
	x->skel->rodata->port_base = opts->port_base ? opts->port_base : HERALD_UDP_PORT_BASE;
	x->skel->rodata->nqueues = opts->nqueues ? opts->nqueues : HERALD_XDP_MAX_QUEUES;
	x->skel->rodata->node_ip = opts->node_ip;
	x->skel->rodata->hello_to_xsk = opts->hello_to_xsk != 0;
	if (opts->xsks_map_fd > 0) {
		err = bpf_map__reuse_fd(x->skel->maps.xsks_map, opts->xsks_map_fd);
		if (err)
			goto out_destroy;
	}
	err = bpf_map__set_max_entries(x->skel->maps.herald_routes,
				       opts->max_routes ? opts->max_routes : HERALD_XDP_MAX_ROUTES);
	if (err)
		goto out_destroy;
	if (x->pin_dir[0] != '\0') {
		err = set_pin_paths(x);
		if (err)
			goto out_destroy;
		/* libbpf would prefer a pinned map to the fd given: drop a stale pin. */
		if (opts->xsks_map_fd > 0 && unlink(bpf_map__pin_path(x->skel->maps.xsks_map)) < 0 &&
		    errno != ENOENT) {
			err = -errno;
			goto out_destroy;
		}
	}
	err = steer_bpf__load(x->skel);
	if (err)
		goto out_destroy;
	return x;

out_destroy:
	steer_bpf__destroy(x->skel);
out_free:
	free(x);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

void herald_xdp_destroy(struct herald_xdp *x)
{
	if (x == NULL)
		return;
	steer_bpf__destroy(x->skel);
	free(x);
}

int herald_xdp_unpin(struct herald_xdp *x)
{
	struct bpf_map *m;
	int err, ret = 0;

	if (x->pin_dir[0] == '\0')
		return 0;
	for (unsigned i = 0; (m = pinned_maps(x->skel, i)) != NULL; i++) {
		err = bpf_map__unpin(m, NULL);
		if (err && err != -ENOENT && ret == 0)
			ret = err;
	}
	if (rmdir(x->pin_dir) < 0 && errno != ENOTEMPTY && errno != ENOENT && ret == 0)
		ret = -errno;
	return ret;
}

int herald_xdp_attach(struct herald_xdp *x, int ifindex, uint32_t xdp_flags)
{
	return bpf_xdp_attach(ifindex, bpf_program__fd(x->skel->progs.herald_steer), xdp_flags, NULL);
}

static int neg_errno(int rc)
{
	/* libbpf 1.x returns -errno directly; keep that contract explicit. */
	return rc < 0 ? rc : 0;
}

int herald_xdp_replace(struct herald_xdp *x, int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	LIBBPF_OPTS(bpf_xdp_attach_opts, a);
	uint32_t mode;
	int err, old;

	err = bpf_xdp_query(ifindex, 0, &q);
	if (err)
		return neg_errno(err);
	switch (q.attach_mode) {
	case XDP_ATTACHED_DRV: mode = XDP_FLAGS_DRV_MODE; old = (int)q.drv_prog_id; break;
	case XDP_ATTACHED_SKB: mode = XDP_FLAGS_SKB_MODE; old = (int)q.skb_prog_id; break;
	case XDP_ATTACHED_HW: mode = XDP_FLAGS_HW_MODE; old = (int)q.hw_prog_id; break;
	default: return -ENOENT; /* none, or several modes at once */
	}
	a.old_prog_fd = bpf_prog_get_fd_by_id((uint32_t)old);
	if (a.old_prog_fd < 0)
		return -errno;
	err = bpf_xdp_attach(ifindex, bpf_program__fd(x->skel->progs.herald_steer),
			     mode | XDP_FLAGS_REPLACE, &a);
	close(a.old_prog_fd);
	return neg_errno(err);
}

int herald_xdp_attached_xsks(int ifindex)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info), ids[64], prog_id = 0;
	int prog_fd, fd = -ENOENT, err;

	err = bpf_xdp_query_id(ifindex, 0, &prog_id);
	if (err)
		return neg_errno(err);
	if (prog_id == 0)
		return -ENOENT;
	prog_fd = bpf_prog_get_fd_by_id(prog_id);
	if (prog_fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (uint64_t)(uintptr_t)ids;
	err = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
	close(prog_fd);
	if (err)
		return neg_errno(err);
	for (uint32_t i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]) && fd < 0; i++) {
		struct bpf_map_info mi;
		uint32_t ml = sizeof(mi);
		int m = bpf_map_get_fd_by_id(ids[i]);

		if (m < 0)
			continue;
		memset(&mi, 0, sizeof(mi));
		if (bpf_obj_get_info_by_fd(m, &mi, &ml) == 0 && mi.type == BPF_MAP_TYPE_XSKMAP &&
		    strcmp(mi.name, "xsks_map") == 0)
			fd = m;
		else
			close(m);
	}
	return fd;
}

const void *herald_xdp_object(size_t *len)
{
	return steer_bpf__elf_bytes(len);
}

int herald_xdp_detach(struct herald_xdp *x, int ifindex, uint32_t xdp_flags)
{
	(void)x;
	return bpf_xdp_detach(ifindex, xdp_flags, NULL);
}

int herald_xdp_prog_fd(const struct herald_xdp *x)
{
	return bpf_program__fd(x->skel->progs.herald_steer);
}

int herald_xdp_xsks_fd(const struct herald_xdp *x)
{
	return bpf_map__fd(x->skel->maps.xsks_map);
}

int herald_xdp_routes_fd(const struct herald_xdp *x)
{
	return bpf_map__fd(x->skel->maps.herald_routes);
}

int herald_xdp_route_set(struct herald_xdp *x, uint32_t context, const struct herald_xdp_route *r)
{
	return neg_errno(bpf_map__update_elem(x->skel->maps.herald_routes, &context, sizeof(context), r,
					      sizeof(*r), BPF_ANY));
}

int herald_xdp_route_del(struct herald_xdp *x, uint32_t context)
{
	return neg_errno(bpf_map__delete_elem(x->skel->maps.herald_routes, &context, sizeof(context), 0));
}

int herald_xdp_secret_set(struct herald_xdp *x, const uint8_t key[HERALD_TOKEN_KEY_LEN], uint32_t ttl_s)
{
	struct herald_xdp_secret s = {.ttl_s = ttl_s, .valid = 1};
	uint32_t zero = 0;

	memcpy(s.key, key, sizeof(s.key));
	return neg_errno(bpf_map__update_elem(x->skel->maps.herald_secret, &zero, sizeof(zero), &s,
					      sizeof(s), BPF_ANY));
}

int herald_xdp_xsk_set(struct herald_xdp *x, uint32_t queue, int xsk_fd)
{
	uint32_t fd = (uint32_t)xsk_fd;

	if (queue >= HERALD_XDP_MAX_QUEUES || xsk_fd < 0)
		return -EINVAL;
	return neg_errno(bpf_map__update_elem(x->skel->maps.xsks_map, &queue, sizeof(queue), &fd,
					      sizeof(fd), BPF_ANY));
}

int herald_xdp_xsk_del(struct herald_xdp *x, uint32_t queue)
{
	return neg_errno(bpf_map__delete_elem(x->skel->maps.xsks_map, &queue, sizeof(queue), 0));
}

/* Sum one per-CPU u64 array into out[0..n). */
static int percpu_sum(struct bpf_map *map, uint64_t *out, unsigned n)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	int err = 0;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (vals == NULL)
		return -ENOMEM;
	for (uint32_t k = 0; k < n; k++) {
		err = bpf_map__lookup_elem(map, &k, sizeof(k), vals, (size_t)ncpu * sizeof(*vals), 0);
		if (err)
			break;
		out[k] = 0;
		for (int c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
	return neg_errno(err);
}

int herald_xdp_drops_read(struct herald_xdp *x, uint64_t out[HERALD_DROP_MAX])
{
	return percpu_sum(x->skel->maps.herald_drops, out, HERALD_DROP_MAX);
}

int herald_xdp_stats_read(struct herald_xdp *x, uint64_t out[HERALD_XDP_CTR_MAX])
{
	return percpu_sum(x->skel->maps.herald_stats, out, HERALD_XDP_CTR_MAX);
}

int herald_xdp_insns(const struct herald_xdp *x, struct herald_xdp_insns *out)
{
	const struct bpf_program *p = x->skel->progs.herald_steer;
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int err;

	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len);
	if (err)
		return neg_errno(err);
	out->object = (uint32_t)bpf_program__insn_cnt(p);
	out->xlated = info.xlated_prog_len / 8;
	out->jited = info.jited_prog_len;
	out->verified = info.verified_insns;
	return 0;
}
