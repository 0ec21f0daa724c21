/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every port kind shares: parsing and checking `--port`, creating or
 * probing the device, queue setup, capabilities, steering dispatch, close.
 * The kinds themselves are the port_KIND.c modules (kinds.h).
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_pci.h>

#include "kinds.h"

static const struct herald_port_kind *const kinds[] = {
	&herald_port_pci, &herald_port_af_xdp, &herald_port_af_packet,
	&herald_port_tap, &herald_port_memif,  &herald_port_null,
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))
#define RX_DESC 2048
#define TX_DESC 2048

const char *herald_port_kinds(void)
{
	static char list[128];
	if (list[0] == '\0')
		for (size_t i = 0; i < NKINDS; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 i ? ", " : "", kinds[i]->name);
	return list;
}

static bool key_listed(const char *const *keys, const char *key, size_t len)
{
	for (; keys != NULL && *keys != NULL; keys++)
		if (strlen(*keys) == len && strncmp(*keys, key, len) == 0)
			return true;
	return false;
}

static void keys_join(const char *const *keys, char *buf, size_t len)
{
	buf[0] = '\0';
	for (; keys != NULL && *keys != NULL; keys++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? ", " : "", *keys);
}

/* Device arguments: KEY=VALUE[,KEY=VALUE...], keys from the kind's list, none Herald sets. */
static int devargs_check(const struct herald_port_kind *k, const char *args, char *err,
			 size_t errlen)
{
	char list[256];

	for (const char *a = args; *a != '\0';) {
		size_t len = strcspn(a, ","), klen = strcspn(a, "=,");
		if (klen == 0 || klen >= len || klen + 1 == len) {
			snprintf(err, errlen, "device argument '%.*s': expected KEY=VALUE", (int)len, a);
			return -EINVAL;
		}
		if (key_listed((const char *const[]){"iface", k->queues_key, NULL}, a, klen)) {
			snprintf(err, errlen, "device argument '%.*s' is set by Herald (%s)", (int)klen,
				 a, klen == 5 ? "the interface after the colon" : "use --queues");
			return -EINVAL;
		}
		if (k->devargs != NULL && !key_listed(k->devargs, a, klen)) {
			keys_join(k->devargs, list, sizeof(list));
			snprintf(err, errlen, "port kind %s has no device argument '%.*s': expected one of %s",
				 k->name, (int)klen, a, list);
			return -EINVAL;
		}
		a += len + (a[len] == ',');
	}
	return 0;
}

static int attachment_parse(const struct herald_port_kind *k, const char *s, size_t len,
			    struct herald_port_spec *spec, char *err, size_t errlen)
{
	struct rte_pci_addr pci;
	char addr[32];

	switch (k->attach) {
	case HERALD_PORT_NONE:
		if (len != 0) {
			snprintf(err, errlen, "port kind %s takes no interface", k->name);
			return -EINVAL;
		}
		return 0;
	case HERALD_PORT_IFACE:
		if (len == 0 || len >= IFNAMSIZ) {
			snprintf(err, errlen, "port kind %s needs an interface: %s:IFACE (1..%d characters)",
				 k->name, k->name, IFNAMSIZ - 1);
			return -EINVAL;
		}
		memcpy(spec->iface, s, len);
		return 0;
	case HERALD_PORT_PCI:
		if (len == 0 || len >= sizeof(addr)) {
			snprintf(err, errlen, "port kind pci needs a PCI address: pci:DDDD:BB:DD.F");
			return -EINVAL;
		}
		memcpy(addr, s, len);
		addr[len] = '\0';
		if (rte_pci_addr_parse(addr, &pci) != 0) {
			snprintf(err, errlen, "'%s' is not a PCI address: expected DDDD:BB:DD.F or BB:DD.F",
				 addr);
			return -EINVAL;
		}
		rte_pci_device_name(&pci, spec->iface, sizeof(spec->iface));
		return 0;
	}
	return -EINVAL;
}

/* KEY's value in a comma-separated KEY=VALUE list, or NULL. */
static const char *arg_find(const char *args, const char *key, size_t *len)
{
	size_t klen = strlen(key);

	for (const char *a = args; *a != '\0';) {
		size_t alen = strcspn(a, ",");
		if (strcspn(a, "=,") == klen && strncmp(a, key, klen) == 0 && a[klen] == '=') {
			*len = alen - klen - 1;
			return a + klen + 1;
		}
		a += alen + (a[alen] == ',');
	}
	return NULL;
}

const char *herald_port_arg(const struct herald_port_spec *spec, const char *key, size_t *len)
{
	const char *v = arg_find(spec->extra, key, len);
	return v != NULL ? v : arg_find(spec->kind->base, key, len);
}

int herald_port_parse(const char *text, struct herald_port_spec *spec, char *err, size_t errlen)
{
	size_t klen = strcspn(text, ":,");
	const char *rest = text + klen;

	memset(spec, 0, sizeof(*spec));
	for (size_t i = 0; i < NKINDS; i++)
		if (strlen(kinds[i]->name) == klen && strncmp(text, kinds[i]->name, klen) == 0)
			spec->kind = kinds[i];
	if (spec->kind == NULL) {
		snprintf(err, errlen, "unknown port kind '%.*s': expected one of %s", (int)klen, text,
			 herald_port_kinds());
		return -EINVAL;
	}
	size_t alen = *rest == ':' ? strcspn(rest + 1, ",") : 0;
	if (attachment_parse(spec->kind, rest + (*rest == ':'), alen, spec, err, errlen) < 0)
		return -EINVAL;
	rest += (*rest == ':') + alen;
	if (*rest == ',') {
		if (strlen(rest + 1) >= sizeof(spec->extra)) {
			snprintf(err, errlen, "device arguments longer than %zu characters",
				 sizeof(spec->extra) - 1);
			return -EINVAL;
		}
		if (devargs_check(spec->kind, rest + 1, err, errlen) < 0)
			return -EINVAL;
		strcpy(spec->extra, rest + 1);
	}
	if (spec->kind->args_check != NULL)
		return spec->kind->args_check(spec, err, errlen);
	return 0;
}

/* True when the comma-separated @p args sets @p key (so the base's value gives way). */
static bool args_set(const char *args, const char *key, size_t klen)
{
	for (const char *a = args; *a != '\0';) {
		size_t len = strcspn(a, ",");
		if (strcspn(a, "=,") == klen && strncmp(a, key, klen) == 0)
			return true;
		a += len + (a[len] == ',');
	}
	return false;
}

static void arg_add(char *buf, size_t cap, const char *arg, size_t len)
{
	snprintf(buf + strlen(buf), cap - strlen(buf), "%s%.*s", buf[0] ? "," : "", (int)len, arg);
}

/* The devargs string: iface, queue count, the kind's base (unless overridden), the operator's. */
static void args_build(const struct herald_port_spec *spec, uint16_t nb_queues, char *buf, size_t cap)
{
	const struct herald_port_kind *k = spec->kind;
	char q[32];

	buf[0] = '\0';
	if (k->attach == HERALD_PORT_PCI)
		arg_add(buf, cap, spec->iface, strlen(spec->iface));
	else if (k->attach == HERALD_PORT_IFACE)
		snprintf(buf, cap, "iface=%s", spec->iface);
	if (k->queues_key != NULL) {
		int n = snprintf(q, sizeof(q), "%s=%u", k->queues_key, nb_queues);
		arg_add(buf, cap, q, (size_t)n);
	}
	for (const char *a = k->base; *a != '\0';) {
		size_t len = strcspn(a, ",");
		if (!args_set(spec->extra, a, strcspn(a, "=,")))
			arg_add(buf, cap, a, len);
		a += len + (a[len] == ',');
	}
	if (spec->extra[0] != '\0')
		arg_add(buf, cap, spec->extra, strlen(spec->extra));
}

static void caps_read(const struct rte_eth_dev_info *info, struct herald_port_caps *caps)
{
	caps->multi_seg_tx = (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
	caps->ipv4_cksum_tx = (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
	caps->udp_cksum_tx = (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
	caps->max_rx_queues = info->max_rx_queues;
	caps->max_tx_queues = info->max_tx_queues;
	caps->max_rx_pktlen = info->max_rx_pktlen;
}

/* Create a virtual device, or probe a PCI function; find its ethdev port. */
static int device_attach(struct herald_port *port, const char *args)
{
	int rc;

	if (port->spec.kind->attach == HERALD_PORT_PCI) {
		snprintf(port->name, sizeof(port->name), "%s", port->spec.iface);
		rc = rte_dev_probe(args);
		if (rc == -EEXIST) /* already probed by the EAL (allow-listed with -a) */
			rc = 0;
	} else {
		snprintf(port->name, sizeof(port->name), "%s_herald0", port->spec.kind->driver);
		rc = rte_vdev_init(port->name, args);
	}
	if (rc < 0) {
		RTE_LOG(ERR, USER1, "port: cannot %s %s (%s): %s%s\n",
			port->spec.kind->attach == HERALD_PORT_PCI ? "probe" : "create", port->name, args,
			strerror(-rc),
			port->spec.kind->attach == HERALD_PORT_PCI
				? " (bound to vfio-pci? EAL started without --no-pci?)" : "");
		port->name[0] = '\0';
		return rc;
	}
	return rte_eth_dev_get_port_by_name(port->name, &port->port_id);
}

/* Close the ethdev and remove the device (the virtual one, or the probed PCI function). */
static void device_detach(struct herald_port *port)
{
	struct rte_eth_dev_info info;
	struct rte_device *dev = rte_eth_dev_info_get(port->port_id, &info) == 0 ? info.device : NULL;

	rte_eth_dev_close(port->port_id);
	if (port->spec.kind->attach != HERALD_PORT_PCI)
		rte_vdev_uninit(port->name);
	else if (dev != NULL)
		rte_dev_remove(dev);
}

static int queues_setup(struct herald_port *port, const struct rte_eth_dev_info *info,
			const struct rte_eth_conf *conf, struct rte_mempool *pool)
{
	uint16_t nb_rxd = RX_DESC, nb_txd = TX_DESC;
	int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port->port_id, &nb_rxd, &nb_txd);

	for (uint16_t q = 0; rc == 0 && q < port->nb_queues; q++) {
		struct rte_eth_txconf txconf = info->default_txconf;
		txconf.offloads = conf->txmode.offloads;
		rc = rte_eth_rx_queue_setup(port->port_id, q, nb_rxd, rte_socket_id(), NULL, pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(port->port_id, q, nb_txd, rte_socket_id(), &txconf);
	}
	return rc;
}

int herald_port_open(const struct herald_port_spec *spec, uint16_t nb_queues,
		     struct rte_mempool *pool, bool want_multi_seg, struct herald_port *port)
{
	const struct herald_port_kind *k = spec->kind;
	char args[2 * HERALD_PORT_SPEC_MAX];
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf = {0};
	int rc;

	memset(port, 0, sizeof(*port));
	port->spec = *spec;
	port->nb_queues = nb_queues;
	args_build(spec, nb_queues, args, sizeof(args));
	rc = device_attach(port, args);
	if (port->name[0] == '\0')
		return rc;
	if (rc < 0) {
		RTE_LOG(ERR, USER1, "port: %s created but no ethdev port of that name\n", port->name);
		rte_vdev_uninit(port->name);
		port->name[0] = '\0';
		return rc;
	}
	if ((rc = rte_eth_dev_info_get(port->port_id, &info)) < 0)
		goto out_detach;
	caps_read(&info, &port->caps);
	port->caps.rx_zero_copy = k->rx == HERALD_RX_ZERO_COPY ? 1 : k->rx == HERALD_RX_KERNEL ? -1 : 0;
	if (nb_queues > info.max_rx_queues || nb_queues > info.max_tx_queues) {
		RTE_LOG(ERR, USER1, "port: %s has %u RX / %u TX queues, %u wanted\n", port->name,
			info.max_rx_queues, info.max_tx_queues, nb_queues);
		rc = -EINVAL;
		goto out_detach;
	}
	if (want_multi_seg && port->caps.multi_seg_tx)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	port->caps.multi_seg_tx |= k->chains_ok;
	if ((rc = rte_eth_dev_configure(port->port_id, nb_queues, nb_queues, &conf)) < 0 ||
	    (rc = queues_setup(port, &info, &conf, pool)) < 0 ||
	    (rc = rte_eth_macaddr_get(port->port_id, &port->mac)) < 0 ||
	    (rc = rte_eth_dev_start(port->port_id)) < 0)
		goto out_detach;
	/* A kernel interface passes us only what is addressed to its MAC unless asked. */
	rte_eth_promiscuous_disable(port->port_id);
	if (k->rx == HERALD_RX_KERNEL)
		port->caps.rx_zero_copy = herald_xsk_zero_copy();
	return 0;

out_detach:
	RTE_LOG(ERR, USER1, "port: %s setup failed: %s\n", port->name, strerror(-rc));
	device_detach(port);
	port->name[0] = '\0';
	return rc;
}

int herald_port_steer(struct herald_port *port, uint32_t ip, uint16_t base, char *why, size_t len)
{
	if (port->spec.kind->steer == NULL) {
		snprintf(why, len, "port kind %s cannot steer UDP ports to queues",
			 port->spec.kind->name);
		return -ENOTSUP;
	}
	return port->spec.kind->steer(port, ip, base, why, len);
}

void herald_port_close(struct herald_port *port)
{
	if (port == NULL || port->name[0] == '\0')
		return;
	if (port->nrules != 0 && port->spec.kind->unsteer != NULL)
		port->spec.kind->unsteer(port);
	rte_eth_dev_stop(port->port_id);
	device_detach(port);
	port->name[0] = '\0';
}

void herald_port_describe(const struct herald_port *port, FILE *out)
{
	const struct herald_port_caps *c = &port->caps;

	fprintf(out,
		"port %u: %s%s%s (%s) queues=%u mac=" RTE_ETHER_ADDR_PRT_FMT
		" multi_seg_tx=%s ipv4_cksum_tx=%s udp_cksum_tx=%s rx=%s max_queues=%u/%u\n",
		port->port_id, port->spec.kind->name, port->spec.iface[0] ? ":" : "", port->spec.iface,
		port->name, port->nb_queues, RTE_ETHER_ADDR_BYTES(&port->mac),
		c->multi_seg_tx ? "yes" : "no", c->ipv4_cksum_tx ? "yes" : "no",
		c->udp_cksum_tx ? "yes" : "no",
		port->spec.kind->rx == HERALD_RX_NONE ? "none"
		: c->rx_zero_copy > 0                 ? "zero-copy"
		: c->rx_zero_copy == 0                ? "copy"
						      : "unknown",
		c->max_rx_queues, c->max_tx_queues);
}
