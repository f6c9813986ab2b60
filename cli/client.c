/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "credbroker/buf.h"
#include "credbroker/cbtime.h"
#include "credbroker/err.h"
#include "credbroker/frame.h"
#include "cli.h"
#include "client.h"
#include "tls.h"

/* How long to keep retrying a connect the broker's backlog refused. */
#define CONNECT_TIMEOUT_MS 5000

void client_error_set(struct client_error *err, const char *code, const char *fmt, ...)
{
	va_list ap;
	snprintf(err->code, sizeof(err->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* Copy untrusted text for a terminal: control bytes become '?'. */
static void copy_printable(char *out, size_t size, const char *in)
{
	size_t i = 0;
	for (; in[i] != '\0' && i + 1 < size; i++) {
		unsigned char c = (unsigned char)in[i];
		out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	out[i] = '\0';
}

static int connect_unix(const char *path, int *ret_fd, struct client_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		client_error_set(err, "broker_unreachable", "socket path too long: %s", path);
		return CB_ERR_BROKER_UNREACHABLE;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		client_error_set(err, "broker_unreachable", "socket: %s", strerror(errno));
		return CB_ERR_BROKER_UNREACHABLE;
	}
	/* A unix connect either completes or fails at once; EAGAIN means the
	 * backlog is full, so retry briefly rather than block forever. */
	long deadline = cbtime_now_ms() + CONNECT_TIMEOUT_MS;
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if ((errno == EAGAIN || errno == EINTR) && cbtime_now_ms() < deadline) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
			continue;
		}
		int e = errno;
		close(fd);
		client_error_set(err, "broker_unreachable", "cannot reach the broker at %s: %s", path,
				 e == EAGAIN ? "busy" : strerror(e));
		return CB_ERR_BROKER_UNREACHABLE;
	}
	*ret_fd = fd;
	return 0;
}

/* The broker's error object into err and a CB_ERR_* code. */
static int broker_error(const cJSON *root, struct client_error *err)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
	if (!cJSON_IsString(code)) {
		client_error_set(err, "bad_response", "the broker refused without saying why");
		return CB_ERR_PARSE;
	}
	copy_printable(err->code, sizeof(err->code), code->valuestring);
	int r = cb_errfromname(err->code);
	if (cJSON_IsString(msg) && msg->valuestring[0] != '\0')
		copy_printable(err->message, sizeof(err->message), msg->valuestring);
	else
		copy_printable(err->message, sizeof(err->message), cb_strerror(r));
	return r;
}

int client_call(const cJSON *request, int timeout_ms, cJSON **ret_response,
		struct client_error *err)
{
	const struct cli_globals *g = &cli_globals;
	char *text = cJSON_PrintUnformatted(request);
	if (text == NULL) {
		client_error_set(err, "internal", "out of memory");
		return CB_ERR_NOMEM;
	}
	size_t text_len = strlen(text);

	struct buf in;
	buf_init(&in, FRAME_MAX_RESPONSE);
	cJSON *root = NULL;
	int fd = -1;
	int r;
	if (g->broker_url != NULL) {
		/* A remote broker: cli/tls.c verifies it, adds the password and
		 * does the exchange. */
		char why[TLSCLIENT_WHY_MAX];
		r = tlsclient_call(request, timeout_ms, &in, why);
		if (r < 0) {
			client_error_set(err, r == CB_ERR_TIMEOUT ? "timeout"
					      : r == CB_ERR_NOT_FOUND ? "no_terminal"
					      : r == CB_ERR_INVALID ? "usage" : "broker_unreachable",
					 "%s", why);
			goto out;
		}
		goto parse;
	}
	r = connect_unix(g->socket_path, &fd, err);
	if (r < 0)
		goto out;
	r = frame_send(fd, text, text_len, CLIENT_TIMEOUT_MS);
	if (r == 0)
		r = frame_recv(fd, FRAME_MAX_RESPONSE, &in, timeout_ms);
	if (r == CB_ERR_TIMEOUT) {
		client_error_set(err, "timeout", "the broker at %s did not answer within %d s",
				 g->socket_path, timeout_ms / 1000);
		goto out;
	}
	if (r < 0) {
		client_error_set(err, "broker_unreachable", "the broker at %s closed the connection%s",
				 g->socket_path, r == CB_ERR_TOO_LARGE ? " (answer too large)" : "");
		r = CB_ERR_BROKER_UNREACHABLE;
		goto out;
	}
parse:;
	/* A NUL inside, or anything after the object, is not an answer. */
	const char *end = NULL;
	if (strlen(buf_str(&in)) == in.len)
		root = cJSON_ParseWithOpts(buf_str(&in), &end, 1);
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(root, "ok");
	if (!cJSON_IsObject(root) || !cJSON_IsBool(ok)) {
		client_error_set(err, "bad_response", "the broker at %s answered something that is "
				 "not a credbroker response",
				 g->broker_url != NULL ? g->broker_url : g->socket_path);
		r = CB_ERR_PARSE;
		goto out;
	}
	if (cJSON_IsFalse(ok)) {
		r = broker_error(root, err);
		goto out;
	}
	*ret_response = root;
	root = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	cJSON_Delete(root);
	buf_free(&in);
	sodium_memzero(text, text_len);
	cJSON_free(text);
	return r;
}

void client_report(const struct client_error *err)
{
	cli_error("%s (%s)", err->message, err->code);
}

int client_exit_code(int err)
{
	switch (err) {
	case 0:
		return CLIENT_EXIT_OK;
	case CB_ERR_BROKER_UNREACHABLE:
	case CB_ERR_TIMEOUT:
	case CB_ERR_PARSE:
	case CB_ERR_BUSY:
		return CLIENT_EXIT_BROKER;
	case CB_ERR_TOTP_INVALID:
	case CB_ERR_TOTP_REPLAYED:
	case CB_ERR_LOCKED:
	case CB_ERR_UNAUTHORIZED:
		return CLIENT_EXIT_AUTH;
	case CB_ERR_NOT_GRANTED:
	case CB_ERR_PROFILE_UNKNOWN:
	case CB_ERR_GRANT_EXPIRED:
	case CB_ERR_USER_DISABLED:
	case CB_ERR_USER_UNKNOWN:
	case CB_ERR_NOT_ADMIN:
		return CLIENT_EXIT_ACCESS;
	case CB_ERR_STS_DENIED:
	case CB_ERR_STS_UNAVAILABLE:
	case CB_ERR_STS_BAD_RESPONSE:
		return CLIENT_EXIT_AWS;
	default:
		return CLIENT_EXIT_FAILURE;
	}
}
