/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_ethdev.h>
#include <rte_log.h>

#include "port.h"

static const struct herald_port_kind kinds[] = {
	{"af_xdp", "net_af_xdp", true, "start_queue=0",
	 "AF_XDP socket on a kernel interface (copy or zero-copy mode)", false},
	{"af_packet", "net_af_packet", true, "framesz=2048,blocksz=4096,framecnt=2048,qdisc_bypass=1",
	 "AF_PACKET mmap ring on a kernel interface", false},
	{"tap", "net_tap", true, "", "a TAP interface the dataplane creates", false},
	{"memif", "net_memif", false, "role=server", "shared-memory packet interface", false},
	/* net_null's TX only frees what it is given, chains included. */
	{"null", "net_null", false, "no-rx=1", "discards TX, receives nothing: dataplane-only benchmarks",
	 true},
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
				 i ? ", " : "", kinds[i].name);
	return list;
}

int herald_port_parse(const char *text, struct herald_port_spec *spec, char *err, size_t errlen)
{
	size_t klen = strcspn(text, ":,");
	const char *rest = text + klen;

	memset(spec, 0, sizeof(*spec));
	for (size_t i = 0; i < NKINDS; i++)
		if (strlen(kinds[i].name) == klen && strncmp(text, kinds[i].name, klen) == 0)
			spec->kind = &kinds[i];
	if (spec->kind == NULL) {
		snprintf(err, errlen, "unknown port kind '%.*s': expected one of %s", (int)klen, text,
			 herald_port_kinds());
		return -EINVAL;
	}
	if (*rest == ':') {
		size_t ilen = strcspn(rest + 1, ",");
		if (ilen == 0 || ilen >= sizeof(spec->iface)) {
			snprintf(err, errlen, "interface name after '%s:' must be 1..%zu characters",
				 spec->kind->name, sizeof(spec->iface) - 1);
			return -EINVAL;
		}
		memcpy(spec->iface, rest + 1, ilen);
		rest += 1 + ilen;
	}
	if (spec->kind->needs_iface && spec->iface[0] == '\0') {
		snprintf(err, errlen, "port kind %s needs an interface: %s:IFACE", spec->kind->name,
			 spec->kind->name);
		return -EINVAL;
	}
	if (!spec->kind->needs_iface && spec->iface[0] != '\0') {
		snprintf(err, errlen, "port kind %s takes no interface", spec->kind->name);
		return -EINVAL;
	}
	if (*rest == ',') {
		if (strlen(rest + 1) >= sizeof(spec->extra)) {
			snprintf(err, errlen, "device arguments longer than %zu characters",
				 sizeof(spec->extra) - 1);
			return -EINVAL;
		}
		strcpy(spec->extra, rest + 1);
	}
	return 0;
}

static void caps_read(const struct rte_eth_dev_info *info, struct herald_port_caps *caps)
{
	caps->multi_seg_tx = (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
	caps->ipv4_cksum_tx = (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
	caps->max_rx_queues = info->max_rx_queues;
	caps->max_tx_queues = info->max_tx_queues;
	caps->max_rx_pktlen = info->max_rx_pktlen;
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
	snprintf(port->name, sizeof(port->name), "%s_herald0", k->driver);

	args[0] = '\0';
	if (k->needs_iface)
		snprintf(args, sizeof(args), "iface=%s,", spec->iface);
	if (strcmp(k->name, "af_xdp") == 0)
		snprintf(args + strlen(args), sizeof(args) - strlen(args), "queue_count=%u,", nb_queues);
	else if (strcmp(k->name, "af_packet") == 0)
		snprintf(args + strlen(args), sizeof(args) - strlen(args), "qpairs=%u,", nb_queues);
	snprintf(args + strlen(args), sizeof(args) - strlen(args), "%s%s%s", k->base,
		 spec->extra[0] && k->base[0] ? "," : "", spec->extra);

	rc = rte_vdev_init(port->name, args);
	if (rc < 0) {
		RTE_LOG(ERR, USER1, "port: cannot create %s (%s): %s\n", port->name, args,
			strerror(-rc));
		return rc;
	}
	rc = rte_eth_dev_get_port_by_name(port->name, &port->port_id);
	if (rc < 0)
		goto out_uninit;
	rc = rte_eth_dev_info_get(port->port_id, &info);
	if (rc < 0)
		goto out_uninit;
	caps_read(&info, &port->caps);
	if (nb_queues > info.max_rx_queues || nb_queues > info.max_tx_queues) {
		RTE_LOG(ERR, USER1, "port: %s has %u RX / %u TX queues, %u wanted\n", port->name,
			info.max_rx_queues, info.max_tx_queues, nb_queues);
		rc = -EINVAL;
		goto out_uninit;
	}

	if (want_multi_seg && port->caps.multi_seg_tx)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	port->caps.multi_seg_tx |= k->chains_ok;
	rc = rte_eth_dev_configure(port->port_id, nb_queues, nb_queues, &conf);
	if (rc < 0)
		goto out_uninit;

	uint16_t nb_rxd = RX_DESC, nb_txd = TX_DESC;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port->port_id, &nb_rxd, &nb_txd);
	if (rc < 0)
		goto out_uninit;
	for (uint16_t q = 0; q < nb_queues; q++) {
		struct rte_eth_txconf txconf = info.default_txconf;
		txconf.offloads = conf.txmode.offloads;
		rc = rte_eth_rx_queue_setup(port->port_id, q, nb_rxd, rte_socket_id(), NULL, pool);
		if (rc < 0)
			goto out_uninit;
		rc = rte_eth_tx_queue_setup(port->port_id, q, nb_txd, rte_socket_id(), &txconf);
		if (rc < 0)
			goto out_uninit;
	}
	rc = rte_eth_macaddr_get(port->port_id, &port->mac);
	if (rc < 0)
		goto out_uninit;
	rc = rte_eth_dev_start(port->port_id);
	if (rc < 0)
		goto out_uninit;
	/* A kernel interface passes us only what is addressed to its MAC unless asked. */
	rte_eth_promiscuous_disable(port->port_id);
	return 0;

out_uninit:
	RTE_LOG(ERR, USER1, "port: %s setup failed: %s\n", port->name, strerror(-rc));
	rte_vdev_uninit(port->name);
	return rc;
}

void herald_port_close(struct herald_port *port)
{
	if (port == NULL || port->name[0] == '\0')
		return;
	rte_eth_dev_stop(port->port_id);
	rte_eth_dev_close(port->port_id);
	rte_vdev_uninit(port->name);
	port->name[0] = '\0';
}

void herald_port_describe(const struct herald_port *port, FILE *out)
{
	fprintf(out,
		"port %u: %s%s%s queues=%u mac=" RTE_ETHER_ADDR_PRT_FMT
		" multi_seg_tx=%s ipv4_cksum_tx=%s max_queues=%u/%u\n",
		port->port_id, port->spec.kind->name, port->spec.iface[0] ? ":" : "",
		port->spec.iface, port->nb_queues, RTE_ETHER_ADDR_BYTES(&port->mac),
		port->caps.multi_seg_tx ? "yes" : "no", port->caps.ipv4_cksum_tx ? "yes" : "no",
		port->caps.max_rx_queues, port->caps.max_tx_queues);
}
