/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_CLI_DLSSL_H
#define CREDBROKER_CLI_DLSSL_H

/*
 * OpenSSL, loaded only when a remote broker is used. Linking libssl and
 * libcrypto into credbroker cost every run ~0.75 ms (mapping and relocating
 * 5 MB of BIND_NOW libraries), doubling the credential-process cache hit
 * that the AWS CLI pays on every command (docs/performance.md). So cli/tls.c
 * includes this header after the OpenSSL headers: each OpenSSL function it
 * calls becomes a pointer filled by dlssl_load() from the system's libssl,
 * found by its soname exactly as the dynamic linker would (systemd's
 * dlopen-* pattern). A function used in cli/tls.c must be listed here, or
 * the link fails: nothing is left to resolve silently.
 */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define DLSSL_WHY_MAX 400

#define DLSSL_FUNCTIONS(X)                                                                  \
	X(CRYPTO_memcmp) X(ERR_clear_error) X(EVP_sha256) X(SSL_CTX_ctrl) X(SSL_CTX_free) \
	X(SSL_CTX_load_verify_file) X(SSL_CTX_new) X(SSL_CTX_set_default_verify_paths)    \
	X(SSL_CTX_set_options) X(SSL_CTX_set_verify) X(SSL_ctrl) X(SSL_do_handshake)      \
	X(SSL_free) X(SSL_get0_param) X(SSL_get0_peer_certificate) X(SSL_get_error)       \
	X(SSL_get_verify_result) X(SSL_new) X(SSL_read_ex) X(SSL_set1_host)               \
	X(SSL_set_connect_state) X(SSL_set_fd) X(SSL_shutdown) X(SSL_write_ex)            \
	X(TLS_client_method) X(X509_VERIFY_PARAM_set1_ip_asc)                             \
	X(X509_VERIFY_PARAM_set_hostflags) X(X509_digest) X(X509_verify_cert_error_string)

#define DLSSL_DECLARE(f) extern __typeof__(f) *dlssl_##f;
DLSSL_FUNCTIONS(DLSSL_DECLARE)
#undef DLSSL_DECLARE

/* Load libssl (once; later calls are free) and resolve every function
 * above. 0, or CB_ERR_NOT_FOUND with why saying what is missing. */
int dlssl_load(char why[static DLSSL_WHY_MAX]);

/* From here on, the calls in the including file go through the pointers
 * (dlssl.c itself needs the real names). */
#ifndef DLSSL_REAL_NAMES
#define CRYPTO_memcmp dlssl_CRYPTO_memcmp
#define ERR_clear_error dlssl_ERR_clear_error
#define EVP_sha256 dlssl_EVP_sha256
#define SSL_CTX_ctrl dlssl_SSL_CTX_ctrl
#define SSL_CTX_free dlssl_SSL_CTX_free
#define SSL_CTX_load_verify_file dlssl_SSL_CTX_load_verify_file
#define SSL_CTX_new dlssl_SSL_CTX_new
#define SSL_CTX_set_default_verify_paths dlssl_SSL_CTX_set_default_verify_paths
#define SSL_CTX_set_options dlssl_SSL_CTX_set_options
#define SSL_CTX_set_verify dlssl_SSL_CTX_set_verify
#define SSL_ctrl dlssl_SSL_ctrl
#define SSL_do_handshake dlssl_SSL_do_handshake
#define SSL_free dlssl_SSL_free
#define SSL_get0_param dlssl_SSL_get0_param
#define SSL_get0_peer_certificate dlssl_SSL_get0_peer_certificate
#define SSL_get_error dlssl_SSL_get_error
#define SSL_get_verify_result dlssl_SSL_get_verify_result
#define SSL_new dlssl_SSL_new
#define SSL_read_ex dlssl_SSL_read_ex
#define SSL_set1_host dlssl_SSL_set1_host
#define SSL_set_connect_state dlssl_SSL_set_connect_state
#define SSL_set_fd dlssl_SSL_set_fd
#define SSL_shutdown dlssl_SSL_shutdown
#define SSL_write_ex dlssl_SSL_write_ex
#define TLS_client_method dlssl_TLS_client_method
#define X509_VERIFY_PARAM_set1_ip_asc dlssl_X509_VERIFY_PARAM_set1_ip_asc
#define X509_VERIFY_PARAM_set_hostflags dlssl_X509_VERIFY_PARAM_set_hostflags
#define X509_digest dlssl_X509_digest
#define X509_verify_cert_error_string dlssl_X509_verify_cert_error_string
#endif

#endif
