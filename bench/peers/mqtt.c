/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MQTT 3.1.1 through libmosquitto, QoS 0, TCP_NODELAY. The client is driven
 * from this thread (mosquitto_loop, no library thread), so a publish is
 * written to the socket inside mosquitto_publish() and a delivery is read
 * inside receive(). A broker delivers a client's own publishes to it when it
 * is subscribed.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include "peer.h"

#define MSG_MAX 65536

struct peer {
	struct mosquitto *m;
	char topic[64];
	bool connected, subscribed, got;
	int len;
	uint64_t *count; /* fan-out subscriber: deliveries */
	uint64_t seen;   /* deliveries since open */
	unsigned char msg[MSG_MAX];
};

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_connect(struct mosquitto *m, void *user, int rc)
{
	struct peer *p = user;

	(void)m;
	p->connected = rc == 0;
}

static void on_subscribe(struct mosquitto *m, void *user, int mid, int n, const int *qos)
{
	struct peer *p = user;

	(void)m;
	(void)mid;
	p->subscribed = n == 1 && qos[0] == 0;
}

static void on_message(struct mosquitto *m, void *user, const struct mosquitto_message *msg)
{
	struct peer *p = user;

	(void)m;
	p->seen++;
	if (p->count) {
		(*p->count)++;
		return;
	}
	p->len = msg->payloadlen < MSG_MAX ? msg->payloadlen : MSG_MAX;
	memcpy(p->msg, msg->payload, (size_t)p->len);
	p->got = true;
}

static void mqtt_close(struct peer *p)
{
	if (p == NULL)
		return;
	if (p->m) {
		mosquitto_disconnect(p->m);
		mosquitto_destroy(p->m);
	}
	free(p);
	mosquitto_lib_cleanup();
}

/*
 * Run the client until *@p flag is set or @p timeout_ms passes. Not
 * mosquitto_loop(): it select()s, which fails for descriptors past
 * FD_SETSIZE (1024), i.e. past ~330 clients (each also holds a socket pair).
 */
static int loop_until(struct peer *p, const bool *flag, int timeout_ms)
{
	long long deadline = ms_now() + timeout_ms;

	while (!*flag) {
		long long left = deadline - ms_now();
		struct pollfd pfd = {.fd = mosquitto_socket(p->m), .events = POLLIN};
		int rc = MOSQ_ERR_SUCCESS, n;

		if (left <= 0)
			return 0;
		if (mosquitto_want_write(p->m))
			pfd.events |= POLLOUT;
		n = poll(&pfd, 1, (int)(left < 1000 ? left : 1000));
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "mqtt: poll: %s\n", strerror(errno));
			return -EIO;
		}
		if (n > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)))
			rc = mosquitto_loop_read(p->m, 1);
		if (rc == MOSQ_ERR_SUCCESS && n > 0 && (pfd.revents & POLLOUT))
			rc = mosquitto_loop_write(p->m, 1);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_loop_misc(p->m);
		if (rc != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "mqtt: %s\n", mosquitto_strerror(rc));
			return -EIO;
		}
	}
	return 1;
}

/* A connected client, subscribed to @p topic at QoS 0 if @p sub. */
static struct peer *mqtt_client(const char *ip, uint16_t port, const char *topic, int timeout_ms,
				bool sub, uint64_t *count)
{
	struct peer *p = calloc(1, sizeof(*p));
	int rc;

	if (p == NULL || strlen(topic) >= sizeof(p->topic)) {
		free(p);
		return NULL;
	}
	strcpy(p->topic, topic);
	mosquitto_lib_init();
	p->m = mosquitto_new(NULL, true, p);
	if (p->m == NULL) {
		mqtt_close(p);
		return NULL;
	}
	mosquitto_int_option(p->m, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_callback_set(p->m, on_connect);
	mosquitto_subscribe_callback_set(p->m, on_subscribe);
	mosquitto_message_callback_set(p->m, on_message);
	rc = mosquitto_connect(p->m, ip, port, 60);
	if (rc != MOSQ_ERR_SUCCESS || loop_until(p, &p->connected, timeout_ms) != 1) {
		fprintf(stderr, "mqtt: connect %s:%u: %s\n", ip, port,
			rc ? mosquitto_strerror(rc) : "no CONNACK");
		mqtt_close(p);
		return NULL;
	}
	p->count = count;
	if (!sub)
		return p;
	rc = mosquitto_subscribe(p->m, NULL, topic, 0);
	if (rc != MOSQ_ERR_SUCCESS || loop_until(p, &p->subscribed, timeout_ms) != 1) {
		fprintf(stderr, "mqtt: subscribe %s: %s\n", topic,
			rc ? mosquitto_strerror(rc) : "no SUBACK at QoS 0");
		mqtt_close(p);
		return NULL;
	}
	return p;
}

static struct peer *mqtt_open(const char *ip, uint16_t port, const char *topic, int timeout_ms)
{
	return mqtt_client(ip, port, topic, timeout_ms, true, NULL);
}

static struct peer *mqtt_open_pub(const char *ip, uint16_t port, const char *topic, int timeout_ms)
{
	return mqtt_client(ip, port, topic, timeout_ms, false, NULL);
}

static struct peer *mqtt_open_sub(const char *ip, uint16_t port, const char *topic,
				  int timeout_ms, uint64_t *count)
{
	return mqtt_client(ip, port, topic, timeout_ms, true, count);
}

static int mqtt_fd(struct peer *p)
{
	return mosquitto_socket(p->m);
}

/*
 * mosquitto_loop_read() reads one packet at a QoS 0 client: read until a
 * call delivers nothing (the socket is empty or holds part of a packet).
 */
static int mqtt_drain(struct peer *p)
{
	uint64_t before;

	do {
		int rc;

		before = p->seen;
		rc = mosquitto_loop_read(p->m, 1);
		if (rc != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "mqtt: read: %s\n", mosquitto_strerror(rc));
			return -EIO;
		}
	} while (p->seen != before);
	return 0;
}

/* What a full socket left queued in the library. */
static int mqtt_settle(struct peer *p)
{
	while (mosquitto_want_write(p->m)) {
		int rc = mosquitto_loop_write(p->m, 1);

		if (rc != MOSQ_ERR_SUCCESS)
			return -EIO;
	}
	return 0;
}

static int mqtt_publish(struct peer *p, const void *buf, size_t len)
{
	int rc = mosquitto_publish(p->m, NULL, p->topic, (int)len, buf, 0, false);

	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "mqtt: publish: %s\n", mosquitto_strerror(rc));
		return -EIO;
	}
	return 0;
}

static int mqtt_receive(struct peer *p, void *buf, size_t cap, int timeout_ms)
{
	int ret;

	p->got = false;
	ret = loop_until(p, &p->got, timeout_ms);
	if (ret <= 0)
		return ret;
	ret = p->len < (int)cap ? p->len : (int)cap;
	memcpy(buf, p->msg, (size_t)ret);
	return ret;
}

/* libmosquitto's socket is non-blocking: a read that finds nothing returns at once. */
static int mqtt_try_receive(struct peer *p, void *buf, size_t cap)
{
	int rc = mosquitto_loop_read(p->m, 1), ret;

	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "mqtt: read: %s\n", mosquitto_strerror(rc));
		return -EIO;
	}
	if (!p->got)
		return 0;
	p->got = false;
	ret = p->len < (int)cap ? p->len : (int)cap;
	memcpy(buf, p->msg, (size_t)ret);
	return ret;
}

const struct peer_ops peer_mqtt = {
	.name = "mqtt",
	.default_port = 1883,
	.open = mqtt_open,
	.publish = mqtt_publish,
	.receive = mqtt_receive,
	.try_receive = mqtt_try_receive,
	.settle = mqtt_settle,
	.close = mqtt_close,
	.open_pub = mqtt_open_pub,
	.open_sub = mqtt_open_sub,
	.fd = mqtt_fd,
	.drain = mqtt_drain,
};
