/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cb-config.h"
#include "credbroker/broker.h"
#include "credbroker/buf.h"
#include "credbroker/config.h"
#include "credbroker/err.h"
#include "credbroker/server.h"
#include "credbroker/tls.h"
#include "credbroker/vault.h"

#define PASSPHRASE_MAX 1024

struct options {
	const char *config;
	const char *key_file;
	int passphrase_fd;
};

static void usage(FILE *f)
{
	fputs("usage: credbrokerd COMMAND --config FILE [OPTIONS]\n"
	      "\n"
	      "The credbroker daemon: holds long-term AWS keys encrypted, issues\n"
	      "short-lived, policy-narrowed STS sessions after two factors.\n"
	      "\n"
	      "Commands:\n"
	      "  init --config FILE [--key-file PATH | --passphrase-fd N]\n"
	      "          create the state directory (0700) and an empty encrypted vault;\n"
	      "          --key-file creates a 32-byte random key there (0600) when missing\n"
	      "  run --config FILE [--passphrase-fd N]\n"
	      "          unlock the vault and serve in the foreground, logging to stderr;\n"
	      "          SIGTERM/SIGINT stop, SIGHUP re-reads the profiles\n"
	      "  check --config FILE\n"
	      "          validate the config and every policy it references\n"
	      "\n"
	      "  --version  print the version\n"
	      "\n"
	      "See credbrokerd(8).\n",
	      f);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	fputs("credbrokerd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Print a multi-line reason, each line prefixed. */
static void say_lines(const struct buf *why)
{
	const char *s = buf_str(why);
	while (*s != '\0') {
		const char *nl = strchr(s, '\n');
		int n = nl ? (int)(nl - s) : (int)strlen(s);
		fprintf(stderr, "credbrokerd: %.*s\n", n, s);
		s += n + (nl != NULL);
	}
}

static int parse_options(int argc, char **argv, struct options *o, bool allow_key_file)
{
	o->passphrase_fd = -1;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--config") == 0 && v) {
			o->config = v, i++;
		} else if (allow_key_file && strcmp(a, "--key-file") == 0 && v) {
			o->key_file = v, i++;
		} else if (strcmp(a, "--passphrase-fd") == 0 && v) {
			char *end;
			long fd = strtol(v, &end, 10);
			if (*end != '\0' || fd < 0 || fd > INT_MAX) {
				say("--passphrase-fd needs a file descriptor number");
				return -1;
			}
			o->passphrase_fd = (int)fd, i++;
		} else {
			say("%s: unknown option or missing value '%s' (see 'credbrokerd --help')", argv[1], a);
			return -1;
		}
	}
	if (o->config == NULL) {
		say("%s needs --config FILE", argv[1]);
		return -1;
	}
	if (o->key_file && o->passphrase_fd >= 0) {
		say("--key-file and --passphrase-fd exclude each other");
		return -1;
	}
	return 0;
}

/* Read a passphrase into sodium_malloc memory: from fd (up to the first
 * newline or end of input), else from the terminal with echo off. */
static int read_passphrase(int fd, bool confirm, char **ret, size_t *ret_len)
{
	char *pass = sodium_malloc(PASSPHRASE_MAX + 2);
	char *again = NULL;
	if (pass == NULL)
		return CB_ERR_NOMEM;
	size_t len = 0;
	int r = 0;
	int tty = -1;
	struct termios saved;
	if (fd < 0) {
		tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
		if (tty < 0) {
			say("no terminal to ask for the vault passphrase; use --passphrase-fd N or a key file");
			sodium_free(pass);
			return CB_ERR_INVALID;
		}
		fd = tty;
		tcgetattr(tty, &saved);
		struct termios noecho = saved;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(tty, TCSAFLUSH, &noecho);
	}
	for (int round = 0; round < (tty >= 0 && confirm ? 2 : 1) && r == 0; round++) {
		if (tty >= 0) {
			const char *prompt = round == 0 ? "Vault passphrase: " : "\nAgain: ";
			if (write(tty, prompt, strlen(prompt)) < 0)
				r = CB_ERR_IO;
		}
		char *dst = round == 0 ? pass : (again = sodium_malloc(PASSPHRASE_MAX + 2));
		size_t n = 0;
		if (dst == NULL) {
			r = CB_ERR_NOMEM;
			break;
		}
		while (n <= PASSPHRASE_MAX) {
			char c;
			ssize_t got = read(fd, &c, 1);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0 || c == '\n')
				break;
			dst[n++] = c;
		}
		if (n > PASSPHRASE_MAX) {
			say("the passphrase is longer than %d bytes", PASSPHRASE_MAX);
			r = CB_ERR_TOO_LARGE;
		} else if (n == 0) {
			say("empty passphrase");
			r = CB_ERR_INVALID;
		}
		if (round == 0)
			len = n;
		else if (n != len || sodium_memcmp(pass, again, n) != 0) {
			say("the passphrases do not match");
			r = CB_ERR_INVALID;
		}
	}
	if (tty >= 0) {
		tcsetattr(tty, TCSAFLUSH, &saved);
		if (write(tty, "\n", 1) < 0) {
			/* Only cosmetic. */
		}
		close(tty);
	}
	sodium_free(again);
	if (r < 0) {
		sodium_free(pass);
		return r;
	}
	*ret = pass;
	*ret_len = len;
	return 0;
}

/* The key file or passphrase that unlocks the vault. */
struct unlock_material {
	uint8_t *key;
	char *pass;
	size_t passlen;
};

static void unlock_free(struct unlock_material *m)
{
	vault_key_free(m->key);
	sodium_free(m->pass);
}

static int get_unlock(const struct options *o, const struct config *cfg, bool init,
		      struct unlock_material *m)
{
	const char *key_file = o->key_file ? o->key_file : cfg->vault_key_file;
	if (key_file != NULL && o->passphrase_fd < 0) {
		int r = vault_keyfile_load(key_file, init, &m->key);
		if (r < 0)
			say("vault key file: %s: %s", key_file, vault_strerror_detail(r));
		return r;
	}
	return read_passphrase(o->passphrase_fd, init, &m->pass, &m->passlen);
}

static int load_config(const char *path, struct config **ret)
{
	struct buf problems;
	buf_init(&problems, 1 << 20);
	int r = config_load(path, ret, &problems);
	if (r < 0) {
		if (problems.len == 0)
			buf_printf(&problems, "%s: %s\n", path, cb_strerror(r));
		say_lines(&problems);
	}
	buf_free(&problems);
	return r;
}

static int cmd_check(int argc, char **argv)
{
	struct options o = { 0 };
	if (parse_options(argc, argv, &o, false) < 0)
		return 2;
	struct config *cfg;
	if (load_config(o.config, &cfg) < 0)
		return 1;
	printf("%s: OK: %zu profile%s, state in %s, socket %s\n", o.config, cfg->nprofiles,
	       cfg->nprofiles == 1 ? "" : "s", cfg->state_dir, cfg->socket);
	config_free(cfg);
	return 0;
}

static int cmd_init(int argc, char **argv)
{
	struct options o = { 0 };
	if (parse_options(argc, argv, &o, true) < 0)
		return 2;
	struct config *cfg;
	if (load_config(o.config, &cfg) < 0)
		return 1;
	struct unlock_material m = { 0 };
	int r = get_unlock(&o, cfg, true, &m);
	if (r == 0) {
		struct broker_unlock u = { .key = m.key, .pass = m.pass, .passlen = m.passlen };
		struct buf why;
		buf_init(&why, 8192);
		r = broker_init_state(o.config, &u, &why);
		if (r < 0)
			say_lines(&why);
		else
			printf("initialised %s: empty vault at %s/vault, unlocked by %s\n", cfg->state_dir,
			       cfg->state_dir, m.key ? "the key file" : "the passphrase");
		buf_free(&why);
	}
	unlock_free(&m);
	config_free(cfg);
	return r < 0 ? 1 : 0;
}

static struct server *the_server;

static void on_stop(int sig)
{
	(void)sig;
	if (the_server)
		server_stop(the_server);
}

static void on_hup(int sig)
{
	(void)sig;
	if (the_server)
		server_reload(the_server);
}

/* No core dumps, no ptrace by other processes of our uid (ssh-agent.c). */
static void harden(void)
{
	struct rlimit rl = { 0, 0 };
	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		say("warning: cannot disable core dumps: %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		say("warning: cannot clear the dumpable flag: %s", strerror(errno));
	umask(077);
}

/* Make the socket's directory when missing; it stays traversable (0755) so
 * members of the socket's group can reach it. */
static void make_socket_dir(const char *socket_path)
{
	char dir[PATH_MAX];
	size_t n = strlen(socket_path);
	const char *slash = strrchr(socket_path, '/');
	if (slash == NULL || slash == socket_path || n >= sizeof(dir))
		return;
	memcpy(dir, socket_path, (size_t)(slash - socket_path));
	dir[slash - socket_path] = '\0';
	if (mkdir(dir, 0755) == 0)
		chmod(dir, 0755);
}

static int cmd_run(int argc, char **argv)
{
	struct options o = { 0 };
	if (parse_options(argc, argv, &o, false) < 0)
		return 2;
	harden();
	struct config *cfg;
	if (load_config(o.config, &cfg) < 0)
		return 1;
	struct unlock_material m = { 0 };
	int r = get_unlock(&o, cfg, false, &m);
	config_free(cfg);
	if (r < 0)
		return 1;

	struct broker *b = NULL;
	struct buf why;
	buf_init(&why, 1 << 20);
	struct broker_unlock u = { .key = m.key, .pass = m.pass, .passlen = m.passlen };
	r = broker_open(o.config, &u, &b, &why);
	unlock_free(&m);
	if (r < 0) {
		say_lines(&why);
		buf_free(&why);
		return 1;
	}
	const struct config *c = broker_config(b);
	make_socket_dir(c->socket);
	struct server_options so = {
		.socket_path = c->socket, .max_connections = 512, .io_timeout_ms = 5000, .workers = 8,
	};
	r = server_new(&so, broker_handle, b, &the_server);
	if (r < 0) {
		say("socket %s: %s", c->socket,
		    r == CB_ERR_EXISTS ? "another broker is serving on it"
		    : r == CB_ERR_PERM ? "exists and is not a socket"
				       : strerror(errno));
		broker_free(b);
		buf_free(&why);
		return 1;
	}
	/* The TLS gateway (remote users) runs on threads of its own. Its
	 * settings are read at start; SIGHUP does not change them. */
	struct tls_gateway *gateway = NULL;
	if (c->tls_listen != NULL) {
		struct tls_options to = {
			.listen = c->tls_listen, .cert = c->tls_cert, .key = c->tls_key,
			.max_connections = 128, .workers = 4, .timeout_ms = 5000,
		};
		r = tls_new(&to, broker_handle, b, &gateway, &why);
		if (r < 0) {
			if (why.len == 0)
				buf_printf(&why, "tls: %s\n", cb_strerror(r));
			say_lines(&why);
			server_free(the_server);
			the_server = NULL;
			broker_free(b);
			buf_free(&why);
			return 1;
		}
		say("serving TLS on %s", c->tls_listen);
	}
	struct sigaction sa = { 0 };
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	say("serving on %s (%zu profiles, state in %s)", c->socket, c->nprofiles, c->state_dir);
	while ((r = server_run(the_server)) == 1) {
		buf_reset(&why);
		if (broker_reload(b, &why) == 0) {
			say("reloaded %s (%zu profiles)", o.config, broker_config(b)->nprofiles);
			if (why.len)
				say_lines(&why);
		} else {
			say("reload failed; the previous config stays in force:");
			say_lines(&why);
		}
	}
	say(r == 0 ? "stopping" : "stopping after an error");
	tls_free(gateway);
	server_free(the_server);
	the_server = NULL;
	broker_free(b);
	buf_free(&why);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("credbrokerd %s\n", CB_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (sodium_init() < 0) {
		say("libsodium cannot be initialised");
		return 1;
	}
	if (strcmp(argv[1], "check") == 0)
		return cmd_check(argc, argv);
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc, argv);
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc, argv);
	say("unknown command '%s' (see 'credbrokerd --help')", argv[1]);
	return 2;
}
