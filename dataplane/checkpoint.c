/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The checkpoint store's side (checkpoint.h): one LMDB environment in
 * --checkpoint-dir, one record per context (key: the id, 4 bytes
 * big-endian; value: ckpt_record.h), served by a control thread of its own.
 * It takes SAVE and LOAD messages from every worker's to_store ring, commits
 * the saves of one burst in one transaction (LMDB syncs on commit, so a
 * committed record survives kill -9 and power loss), answers on the
 * worker's from_store ring, and frees the mbuf references the workers lent
 * it. Only this thread (or, before it starts and after it stops, the main
 * thread) touches LMDB.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lmdb.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "checkpoint.h"
#include "dataplane.h"

#define SERVICE_BURST 16
#define IDLE_NAP_NS (1000 * 1000)

/* A record being assembled from one worker's SAVE messages. */
struct assembly {
	uint8_t *buf;     /* body: entries, each a 16-bit length and the bytes */
	size_t len, cap;
	uint32_t nkeys;
	bool failed;
};

static struct {
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *wtxn;
	struct dp_worker *workers;
	unsigned nb_workers;
	struct dp_ckpt_worker *cw;
	struct assembly *as;
	struct rte_mempool *msgs;
	pthread_t thread;
	bool opened, running;
	volatile bool stop;
	char dir[256];
} st;

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "herald-dataplane: checkpoint %s: ", st.dir);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
	va_end(ap);
}

static bool assembly_grow(struct assembly *a, size_t more)
{
	if (a->len + more <= a->cap)
		return true;
	size_t cap = RTE_MAX(a->cap * 2, a->len + more + 4096);
	uint8_t *b = realloc(a->buf, cap);
	if (b == NULL)
		return false;
	a->buf = b;
	a->cap = cap;
	return true;
}

/* Append one key's body, read from its fragments (which stay the caller's). */
static void assembly_add(struct assembly *a, uint16_t msg_len, uint8_t nfrags,
			 struct rte_mbuf *const *frag)
{
	if (a->failed || !assembly_grow(a, 2u + msg_len)) {
		a->failed = true;
		return;
	}
	uint8_t *p = a->buf + a->len;
	size_t got = 0;
	p[0] = (uint8_t)(msg_len >> 8);
	p[1] = (uint8_t)msg_len;
	for (unsigned f = 0; f < nfrags && got <= msg_len; f++) {
		uint16_t n = frag[f]->data_len;
		if (got + n > msg_len)
			break;
		memcpy(p + 2 + got, rte_pktmbuf_mtod(frag[f], const void *), n);
		got += n;
	}
	if (got != msg_len) {
		a->failed = true; /* never write a body that is not what was stored */
		return;
	}
	a->len += 2u + msg_len;
	a->nkeys++;
}

static int txn_write(void)
{
	return st.wtxn != NULL ? 0 : mdb_txn_begin(st.env, NULL, 0, &st.wtxn);
}

/* Put the assembled record of @p context into the write transaction. */
static int record_put(uint32_t context, const char *policy, const struct assembly *a)
{
	uint32_t id_be = rte_cpu_to_be_32(context);
	MDB_val key = {.mv_size = sizeof(id_be), .mv_data = &id_be};
	MDB_val val = {.mv_size = DP_CKPT_HDR_LEN + a->len};
	int rc = txn_write();

	if (rc == 0)
		rc = mdb_put(st.wtxn, st.dbi, &key, &val, MDB_RESERVE);
	if (rc != 0) {
		log_line("context %u: not written: %s", context, mdb_strerror(rc));
		return rc;
	}
	memcpy((uint8_t *)val.mv_data + DP_CKPT_HDR_LEN, a->buf, a->len);
	dp_ckpt_rec_encode_hdr(val.mv_data, policy, a->nkeys, a->buf, a->len);
	return 0;
}

/* Commit the write transaction; every save in it fails with it. */
static int txn_commit(void)
{
	if (st.wtxn == NULL)
		return 0;
	int rc = mdb_txn_commit(st.wtxn);
	st.wtxn = NULL;
	if (rc != 0)
		log_line("commit failed: %s", mdb_strerror(rc));
	return rc;
}

static void txn_abort(void)
{
	if (st.wtxn != NULL)
		mdb_txn_abort(st.wtxn);
	st.wtxn = NULL;
}

/* Hand @p msg back to worker @p q; the worker drains without ever blocking. */
static void reply(unsigned q, struct dp_ckpt_msg *msg)
{
	struct timespec nap = {.tv_nsec = 100 * 1000};
	while (rte_ring_enqueue(st.cw[q].from_store, msg) != 0) {
		if (st.stop) { /* closing: the worker is gone */
			dp_ckpt_msg_free(st.msgs, msg);
			return;
		}
		nanosleep(&nap, NULL);
	}
}

static void save_rx(unsigned q, struct dp_ckpt_msg *msg, struct dp_ckpt_msg **done, unsigned *ndone)
{
	struct assembly *a = &st.as[q];

	if (msg->first) {
		a->len = 0;
		a->nkeys = 0;
		a->failed = false;
	}
	for (unsigned i = 0; i < msg->n; i++)
		assembly_add(a, msg->ent[i].msg_len, msg->ent[i].nfrags, msg->ent[i].frag);
	if (!msg->last) {
		dp_ckpt_msg_free(st.msgs, msg);
		return;
	}
	for (unsigned i = 0; i < msg->n; i++)
		for (unsigned f = 0; f < msg->ent[i].nfrags; f++)
			rte_pktmbuf_free(msg->ent[i].frag[f]);
	msg->n = 0;
	msg->kind = DP_CKPT_SAVED;
	msg->status = DP_CKPT_OK;
	if (a->failed) {
		log_line("context %u: not written: out of memory assembling %u keys", msg->context, a->nkeys);
		msg->status = DP_CKPT_FAILED;
	} else if (record_put(msg->context, msg->policy, a) != 0) {
		/* A failed put spoils the transaction: everything in it fails. */
		txn_abort();
		for (unsigned i = 0; i < *ndone; i++)
			done[i]->status = DP_CKPT_FAILED;
		msg->status = DP_CKPT_FAILED;
	}
	done[(*ndone)++] = msg;
}

/* Build LOADED messages from a checked record; 0 or -ENOBUFS (everything released). */
static int loaded_build(struct dp_worker *w, const struct dp_ckpt_rec *r, struct dp_ckpt_msg *first,
			struct dp_ckpt_msg ***out, unsigned *nout)
{
	unsigned nmsg = RTE_MAX((r->nkeys + DP_CKPT_BATCH - 1) / DP_CKPT_BATCH, 1u);
	struct dp_ckpt_msg **m = calloc(nmsg, sizeof(*m));
	size_t off = 0;

	if (m == NULL)
		return -ENOBUFS;
	m[0] = first;
	for (unsigned i = 1; i < nmsg; i++) {
		if (rte_mempool_get(st.msgs, (void **)&m[i]) != 0)
			goto fail;
		*m[i] = (struct dp_ckpt_msg){.kind = DP_CKPT_LOADED, .context = first->context};
	}
	for (uint32_t k = 0; k < r->nkeys; k++) {
		struct dp_ckpt_msg *msg = m[k / DP_CKPT_BATCH];
		uint16_t msg_len;
		const uint8_t *body = dp_ckpt_rec_entry(r, &off, &msg_len);
		struct dp_ckpt_entry *e = &msg->ent[msg->n++];
		*e = (struct dp_ckpt_entry){.msg_len = msg_len};
		for (unsigned done = 0; done < msg_len;) {
			uint16_t n = (uint16_t)RTE_MIN(msg_len - done, (unsigned)HERALD_FRAG_BODY_MAX);
			struct rte_mbuf *mb = rte_pktmbuf_alloc(w->pool);
			if (mb == NULL)
				goto fail;
			e->frag[e->nfrags++] = mb;
			memcpy(rte_pktmbuf_append(mb, n), body + done, n);
			done += n;
		}
	}
	m[0]->first = true;
	m[nmsg - 1]->last = true;
	*out = m;
	*nout = nmsg;
	return 0;
fail:
	for (unsigned i = 0; i < nmsg && m[i] != NULL; i++) {
		for (unsigned j = 0; j < m[i]->n; j++)
			for (unsigned f = 0; f < m[i]->ent[j].nfrags; f++)
				rte_pktmbuf_free(m[i]->ent[j].frag[f]);
		m[i]->n = 0;
		if (i != 0)
			rte_mempool_put(st.msgs, m[i]);
	}
	free(m);
	return -ENOBUFS;
}

static void load_rx(unsigned q, struct dp_ckpt_msg *msg)
{
	uint32_t id_be = rte_cpu_to_be_32(msg->context);
	MDB_val key = {.mv_size = sizeof(id_be), .mv_data = &id_be}, val;
	MDB_txn *txn = st.wtxn;
	struct dp_ckpt_msg **m = NULL;
	unsigned nmsg = 0;
	char err[160];

	msg->kind = DP_CKPT_LOADED;
	msg->first = msg->last = true;
	msg->n = 0;
	msg->status = DP_CKPT_FAILED;
	int rc = txn != NULL ? 0 : mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn);
	if (rc == 0)
		rc = mdb_get(txn, st.dbi, &key, &val);
	if (rc == MDB_NOTFOUND) {
		msg->status = DP_CKPT_NOT_FOUND;
	} else if (rc != 0) {
		log_line("context %u: not read: %s", msg->context, mdb_strerror(rc));
	} else {
		struct dp_ckpt_rec r;
		struct dp_policy policy;
		if (dp_ckpt_rec_decode(val.mv_data, val.mv_size, &r, err, sizeof(err)) < 0 ||
		    dp_policy_parse(r.policy, &policy, err, sizeof(err)) < 0) {
			log_line("context %u: record refused: %s; the context starts empty", msg->context, err);
			msg->status = DP_CKPT_CORRUPT;
		} else if (loaded_build(&st.workers[q], &r, msg, &m, &nmsg) < 0) {
			log_line("context %u: no buffers for its %u keys; retried on its next frame",
				 msg->context, r.nkeys);
		} else {
			memcpy(msg->policy, r.policy, sizeof(msg->policy));
			for (unsigned i = 0; i < nmsg; i++)
				m[i]->status = DP_CKPT_OK;
		}
	}
	if (txn != NULL && txn != st.wtxn)
		mdb_txn_abort(txn);
	if (m == NULL)
		return reply(q, msg);
	for (unsigned i = 0; i < nmsg; i++)
		reply(q, m[i]);
	free(m);
}

/* Deletes ride in the burst's write transaction: after any save queued before them. */
static void delete_rx(struct dp_ckpt_msg *msg, struct dp_ckpt_msg **done, unsigned ndone)
{
	uint32_t id_be = rte_cpu_to_be_32(msg->context);
	MDB_val key = {.mv_size = sizeof(id_be), .mv_data = &id_be};
	int rc = txn_write();

	if (rc == 0)
		rc = mdb_del(st.wtxn, st.dbi, &key, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		log_line("context %u: record not deleted: %s", msg->context, mdb_strerror(rc));
		txn_abort();
		for (unsigned i = 0; i < ndone; i++)
			done[i]->status = DP_CKPT_FAILED;
	}
	dp_ckpt_msg_free(st.msgs, msg);
}

unsigned dp_ckpt_service(void)
{
	unsigned handled = 0;

	for (unsigned q = 0; q < st.nb_workers; q++) {
		struct dp_ckpt_msg *objs[SERVICE_BURST], *done[SERVICE_BURST];
		unsigned ndone = 0;
		unsigned n = rte_ring_dequeue_burst(st.cw[q].to_store, (void **)objs, SERVICE_BURST, NULL);
		for (unsigned i = 0; i < n; i++) {
			if (objs[i]->kind == DP_CKPT_SAVE)
				save_rx(q, objs[i], done, &ndone);
			else if (objs[i]->kind == DP_CKPT_DELETE)
				delete_rx(objs[i], done, ndone);
			else
				load_rx(q, objs[i]);
		}
		if (txn_commit() != 0)
			for (unsigned i = 0; i < ndone; i++)
				done[i]->status = DP_CKPT_FAILED;
		for (unsigned i = 0; i < ndone; i++)
			reply(q, done[i]);
		handled += n;
	}
	return handled;
}

static void *ckpt_main(void *arg)
{
	struct timespec nap = {.tv_nsec = IDLE_NAP_NS};
	(void)arg;

	while (!st.stop && !dp_quit)
		if (dp_ckpt_service() == 0)
			nanosleep(&nap, NULL);
	return NULL;
}

/* Every record's id goes into every worker's parked table (docs/checkpoints.md, N workers). */
static int records_park(void)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val key, val;
	unsigned n = 0, bad = 0, full = 0;

	int rc = mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn);
	if (rc == 0 && (rc = mdb_cursor_open(txn, st.dbi, &cur)) != 0)
		mdb_txn_abort(txn);
	if (rc != 0)
		return rc;
	while ((rc = mdb_cursor_get(cur, &key, &val, n + bad + full == 0 ? MDB_FIRST : MDB_NEXT)) == 0) {
		uint32_t id_be;
		if (key.mv_size != sizeof(id_be)) {
			bad++;
			continue;
		}
		memcpy(&id_be, key.mv_data, sizeof(id_be));
		/* The policy as the record names it, unchecked: the record is checked when loaded. */
		char text[DP_CKPT_POLICY_LEN] = "";
		struct dp_policy policy, *pp = NULL;
		if (val.mv_size >= DP_CKPT_HDR_LEN)
			memcpy(text, (const uint8_t *)val.mv_data + 8, sizeof(text) - 1);
		if (dp_policy_parse(text, &policy, (char[8]){0}, 8) == 0)
			pp = &policy;
		bool parked = true;
		for (unsigned q = 0; q < st.nb_workers; q++)
			parked &= dp_ckpt_park(&st.workers[q], rte_be_to_cpu_32(id_be), pp) == 0;
		n += parked;
		full += !parked;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (bad != 0) {
		log_line("%u records with a key that is not a context id: ignored", bad);
		st.workers[0].ctr[HERALD_CTR_CHECKPOINT_ERRORS] += bad;
	}
	if (full != 0)
		log_line("%u contexts beyond the parked table (%u x --max-contexts): not loadable",
			 full, DP_CKPT_PARKED_PER_CONTEXT);
	log_line("%u contexts checkpointed", n);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int dp_ckpt_open(const struct dp_config *cfg, struct dp_worker *workers, unsigned nb_workers)
{
	int rc;

	if (cfg->checkpoint_dir == NULL)
		return 0;
	snprintf(st.dir, sizeof(st.dir), "%s", cfg->checkpoint_dir);
	st.workers = workers;
	st.nb_workers = nb_workers;
	st.stop = false;
	if (mkdir(st.dir, 0750) < 0 && errno != EEXIST) {
		rc = -errno;
		log_line("cannot create the directory: %s", strerror(errno));
		return rc;
	}
	if ((rc = mdb_env_create(&st.env)) != 0 ||
	    (rc = mdb_env_set_mapsize(st.env, (size_t)cfg->checkpoint_map_mb << 20)) != 0 ||
	    (rc = mdb_env_open(st.env, st.dir, 0, 0640)) != 0) {
		log_line("cannot open the LMDB environment: %s", mdb_strerror(rc));
		goto fail;
	}
	mdb_reader_check(st.env, &(int){0}); /* readers left by a process that was killed */
	MDB_txn *txn;
	if ((rc = mdb_txn_begin(st.env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, NULL, 0, &st.dbi)) != 0 || (rc = mdb_txn_commit(txn)) != 0) {
		log_line("cannot open the database: %s", mdb_strerror(rc));
		goto fail;
	}

	unsigned ring = dp_ckpt_ring_size(cfg);
	st.msgs = rte_mempool_create("herald_ckpt", 2 * ring * nb_workers + 256,
				     sizeof(struct dp_ckpt_msg), 32, 0, NULL, NULL, NULL, NULL,
				     (int)rte_socket_id(), 0);
	st.cw = rte_zmalloc("ckpt_workers", sizeof(*st.cw) * nb_workers, RTE_CACHE_LINE_SIZE);
	st.as = calloc(nb_workers, sizeof(*st.as));
	if (st.msgs == NULL || st.cw == NULL || st.as == NULL) {
		rc = ENOMEM;
		goto fail;
	}
	for (unsigned q = 0; q < nb_workers; q++) {
		st.cw[q].msgs = st.msgs;
		if (dp_ckpt_worker_init(&workers[q], &st.cw[q], q) < 0) {
			rc = ENOMEM;
			goto fail;
		}
	}
	if ((rc = records_park()) != 0) {
		log_line("cannot list the records: %s", mdb_strerror(rc));
		goto fail;
	}
	st.opened = true;
	return 0;
fail:
	dp_ckpt_close();
	return rc > 0 ? -rc : -EIO; /* MDB_* codes are negative: report them as I/O errors */
}

int dp_ckpt_start(void)
{
	if (st.env == NULL)
		return 0;
	int rc = rte_ctrl_thread_create(&st.thread, "herald-ckpt", NULL, ckpt_main, NULL);
	if (rc != 0)
		return -rc;
	st.running = true;
	return 0;
}

/* At exit: every context whose state the store does not hold yet. */
static void final_checkpoint(void)
{
	unsigned n = 0;
	char policy[DP_CKPT_POLICY_LEN];

	for (unsigned q = 0; q < st.nb_workers; q++) {
		struct dp_worker *w = &st.workers[q];
		for (uint32_t i = 0; i < w->max_contexts + 8; i++) {
			const struct dp_context *c = &w->contexts[i];
			if (!c->in_use || c->ephemeral || (!c->dirty && c->saved_tsc != 0))
				continue;
			struct assembly *a = &st.as[q];
			*a = (struct assembly){.buf = a->buf, .cap = a->cap};
			for (uint32_t o = 0; o < c->nkeys; o++) {
				const struct dp_key *k = &w->keys[c->keys[o]];
				assembly_add(a, k->msg_len, k->nfrags, k->frag);
			}
			if (a->failed || record_put(c->id, dp_policy_name(&c->policy, policy, sizeof(policy)), a) != 0) {
				w->ctr[HERALD_CTR_CHECKPOINT_ERRORS]++;
				continue;
			}
			w->ctr[HERALD_CTR_CHECKPOINTS_WRITTEN]++;
			n++;
		}
	}
	if (txn_commit() == 0 && n != 0)
		log_line("%u contexts written at exit", n);
}

void dp_ckpt_close(void)
{
	if (st.running) {
		st.stop = true;
		pthread_join(st.thread, NULL);
		st.running = false;
	}
	st.stop = true;
	if (st.opened) {
		dp_ckpt_service(); /* saves already handed over are committed */
		final_checkpoint();
	}
	for (unsigned q = 0; st.cw != NULL && q < st.nb_workers; q++)
		dp_ckpt_worker_free(&st.workers[q]);
	txn_abort();
	if (st.env != NULL)
		mdb_env_close(st.env);
	st.env = NULL;
	for (unsigned q = 0; st.as != NULL && q < st.nb_workers; q++)
		free(st.as[q].buf);
	free(st.as);
	st.as = NULL;
	rte_free(st.cw);
	st.cw = NULL;
	rte_mempool_free(st.msgs);
	st.msgs = NULL;
	st.opened = false;
}
