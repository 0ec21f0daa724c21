/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "loader.h"
#include "xdp.h"

int dp_xdp_prepare(struct herald_port_spec *spec)
{
	size_t len, used = strlen(spec->extra);
	const void *obj = herald_xdp_object(&len);
	int fd;

	if (strstr(spec->extra, "xdp_prog=") != NULL)
		return -1;
	fd = memfd_create("herald-steer.bpf.o", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, obj, len) != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	int n = snprintf(spec->extra + used, sizeof(spec->extra) - used, "%sxdp_prog=/proc/self/fd/%d",
			 used ? "," : "", fd);
	if (n < 0 || (size_t)n >= sizeof(spec->extra) - used) {
		spec->extra[used] = '\0';
		close(fd);
		return -ENAMETOOLONG;
	}
	return fd;
}

struct herald_xdp *dp_xdp_take_over(const struct herald_port *port, const struct dp_xdp_opts *o)
{
	int ifindex = (int)if_nametoindex(port->spec.iface), xsks, err;
	struct herald_xdp *x;

	if (ifindex == 0) {
		fprintf(stderr, "herald-dataplane: xdp: no interface %s\n", port->spec.iface);
		return NULL;
	}
	xsks = herald_xdp_attached_xsks(ifindex);
	if (xsks < 0) {
		fprintf(stderr, "herald-dataplane: xdp: no xsks_map on the program attached to %s: %s\n",
			port->spec.iface, strerror(-xsks));
		return NULL;
	}
	struct herald_xdp_opts xo = {.pin_dir = o->pin_dir, .port_base = o->port_base,
				     .nqueues = o->nqueues, .node_ip = o->node_ip, .xsks_map_fd = xsks,
				     .hello_to_xsk = o->hello_to_xsk};
	x = herald_xdp_open(&xo);
	err = x == NULL ? -errno : 0;
	close(xsks); /* the skeleton holds its own reference */
	if (x == NULL) {
		fprintf(stderr, "herald-dataplane: xdp: cannot load the steer program%s%s: %s%s\n",
			o->pin_dir && o->pin_dir[0] ? " pinned in " : "", o->pin_dir ? o->pin_dir : "",
			strerror(-err),
			err == -EINVAL ? " (a map pinned there by another version? remove the directory)" : "");
		return NULL;
	}
	err = herald_xdp_replace(x, ifindex);
	if (err < 0) {
		fprintf(stderr, "herald-dataplane: xdp: cannot replace the program on %s: %s\n",
			port->spec.iface, strerror(-err));
		herald_xdp_destroy(x);
		return NULL;
	}
	struct herald_xdp_insns n;
	if (herald_xdp_insns(x, &n) == 0)
		printf("herald-dataplane: xdp: steer on %s, ports %u..%u, maps in %s (%u insns)\n",
		       port->spec.iface, o->port_base, o->port_base + o->nqueues - 1,
		       o->pin_dir == NULL ? HERALD_XDP_PIN_DIR : o->pin_dir[0] ? o->pin_dir : "(not pinned)",
		       n.xlated);
	return x;
}

void dp_xdp_dump(struct herald_xdp *x, FILE *out)
{
	uint64_t s[HERALD_XDP_CTR_MAX], d[HERALD_DROP_MAX];

	if (x == NULL)
		return;
	fprintf(out, "== xdp counters ==\n");
	if (herald_xdp_stats_read(x, s) == 0)
		for (int i = 0; i < HERALD_XDP_CTR_MAX; i++)
			fprintf(out, "xdp_%-20s %" PRIu64 "\n", herald_xdp_counter_name(i), s[i]);
	if (herald_xdp_drops_read(x, d) == 0)
		for (int r = 1; r < HERALD_DROP_MAX; r++)
			if (d[r] != 0)
				fprintf(out, "xdp_drop_%-15s %" PRIu64 "\n", herald_drop_name(r), d[r]);
	fflush(out);
}
