/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_BROKER_H
#define CREDBROKER_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "credbroker/server.h"

struct buf;

/*
 * The broker: the unlocked vault, the users, the audit log and the config,
 * and the request handler the server calls for every frame. Requests and
 * responses are documented in docs/protocol.md.
 */
struct broker;

/* How the vault is unlocked: a key file's 32 bytes, or a passphrase. The
 * bytes are borrowed for the duration of the call. */
struct broker_unlock {
	const uint8_t *key;    /* VAULT_KEY_BYTES, or NULL */
	const char *pass;      /* used when key is NULL */
	size_t passlen;
};

/* Load config_path, unlock the vault, load the users and open the audit log.
 * On failure returns the CB_ERR_* and appends one line saying what and where
 * to why ("vault: /var/lib/credbroker/vault: authentication failed ..."). */
int broker_open(const char *config_path, const struct broker_unlock *unlock, struct broker **ret,
		struct buf *why);

/* The config the broker was opened with (socket path, state dir, ...). */
const struct config *broker_config(const struct broker *b);

/* Re-read the config's profiles (SIGHUP) without dropping the vault. A
 * config that does not load leaves the old one in force; why says why. */
int broker_reload(struct broker *b, struct buf *why);

/* The server_handler_fn: parse one request, run it, append the response. */
void broker_handle(void *ctx, const struct server_peer *peer, const uint8_t *req, size_t len,
		   struct buf *resp);

/* Wipe and free everything. */
void broker_free(struct broker *b);

/* Create the state directory and an empty vault holding a fresh audit MAC
 * key, for `credbrokerd init`. */
int broker_init_state(const char *config_path, const struct broker_unlock *unlock, struct buf *why);

#endif
