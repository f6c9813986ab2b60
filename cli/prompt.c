/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "credbroker/err.h"
#include "prompt.h"

static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
	caught = sig;
}

static const int handled[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU };
#define N_HANDLED (sizeof(handled) / sizeof(handled[0]))

/* One line from fd into out (size bytes, NUL included), up to the newline or
 * end of input, a trailing '\r' dropped. Stops reading at the first byte
 * over: CB_ERR_TOO_LARGE. CB_ERR_INVALID when empty. On failure out is
 * wiped. */
static int read_line(int fd, char *out, size_t size)
{
	size_t n = 0;
	int r = 0;
	for (;;) {
		char c;
		ssize_t got = read(fd, &c, 1);
		if (got < 0 && errno == EINTR && caught == 0)
			continue;
		if (got < 0) {
			r = caught ? CB_ERR_INTERNAL : CB_ERR_IO;
			break;
		}
		if (got == 0 || c == '\n')
			break;
		if (n + 1 == size) {
			r = CB_ERR_TOO_LARGE;
			break;
		}
		out[n++] = c;
	}
	if (n > 0 && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	if (r == 0 && n == 0)
		r = CB_ERR_INVALID;
	if (r < 0)
		sodium_memzero(out, size);
	return r;
}

static void write_all(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Ask question on /dev/tty with echo off; the answer as read_line(). */
static int ask_tty(const char *question, char *out, size_t size)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENXIO || errno == ENOENT || errno == ENOTTY || errno == EACCES
			       ? CB_ERR_NOT_FOUND : CB_ERR_IO;

	/* Like readpassphrase(3): a signal while echo is off must not leave
	 * the terminal silent, so catch them, restore, then re-raise. */
	struct sigaction sa = { .sa_handler = on_signal }, old[N_HANDLED];
	sigemptyset(&sa.sa_mask);
	caught = 0;
	for (size_t i = 0; i < N_HANDLED; i++)
		sigaction(handled[i], &sa, &old[i]);

	struct termios saved, quiet;
	int have_termios = tcgetattr(fd, &saved) == 0;
	if (have_termios) {
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	write_all(fd, question);
	int r = read_line(fd, out, size);
	write_all(fd, "\n");
	if (have_termios)
		tcsetattr(fd, TCSAFLUSH, &saved);
	close(fd);
	for (size_t i = 0; i < N_HANDLED; i++)
		sigaction(handled[i], &old[i], NULL);
	if (caught != 0) {
		sodium_memzero(out, size);
		raise(caught);
		return CB_ERR_INTERNAL;
	}
	return r;
}

int prompt_secret(const char *question, char out[static PROMPT_CODE_MAX])
{
	int r = ask_tty(question, out, PROMPT_CODE_MAX);
	return r == CB_ERR_TOO_LARGE ? CB_ERR_INVALID : r;
}

int prompt_password(const char *question, char **ret)
{
	if (sodium_init() < 0) /* idempotent; sodium_malloc needs it */
		return CB_ERR_CRYPTO;
	char *pw = sodium_malloc(PROMPT_PASSWORD_MAX + 1);
	if (pw == NULL)
		return CB_ERR_NOMEM;
	int r = question == NULL ? read_line(STDIN_FILENO, pw, PROMPT_PASSWORD_MAX + 1)
				 : ask_tty(question, pw, PROMPT_PASSWORD_MAX + 1);
	if (r < 0) {
		sodium_free(pw); /* wipes */
		return r;
	}
	*ret = pw;
	return 0;
}
