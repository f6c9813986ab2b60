/* SPDX-License-Identifier: MIT */
#ifndef CREDBROKER_CLI_H
#define CREDBROKER_CLI_H

/*
 * What the CLI's verbs share. Each verb lives in cli/<verb>.c as
 * int <verb>_main(int argc, char **argv), where argv[0] is the verb and the
 * global options have already been consumed into cli_globals.
 */
struct cli_globals {
	const char *socket_path; /* --socket, $CREDBROKER_SOCKET, or the default */
	const char *broker_url;  /* --broker tls://HOST:PORT, or NULL */
	const char *user;        /* --user, $CREDBROKER_USER, or the login name */
	const char *ca_file;     /* --ca */
	const char *pin;         /* --pin sha256 fingerprint */
	int password_stdin;      /* get --password-stdin: a remote broker's password on stdin */
};

extern struct cli_globals cli_globals;

/* Print "credbroker: <msg>" on stderr. Never pass a secret. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True when argv holds -h or --help before any "--". */
int cli_wants_help(int argc, char **argv);

/* The broker socket when neither --socket nor $CREDBROKER_SOCKET says. */
#define CLI_DEFAULT_SOCKET "/run/credbroker/broker.sock"

/* The verbs (cli/<verb>.c). */
int admin_main(int argc, char **argv);
int get_main(int argc, char **argv);
int credential_process_main(int argc, char **argv);
int exec_main(int argc, char **argv);
int aws_config_main(int argc, char **argv);
int console_main(int argc, char **argv);
int status_main(int argc, char **argv);
int logout_main(int argc, char **argv);

#endif
