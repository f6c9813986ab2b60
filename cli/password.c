/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "credbroker/err.h"
#include "password.h"

static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
	caught = sig;
}

static const int handled[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU };
#define N_HANDLED (sizeof(handled) / sizeof(handled[0]))

/* Up to the newline or end of input into pw (PASSWORD_MAX + 1 bytes). */
static int read_line(int fd, char *pw, size_t *ret_len)
{
	size_t n = 0;
	int over = 0;
	for (;;) {
		char c;
		ssize_t got = read(fd, &c, 1);
		if (got < 0 && errno == EINTR && caught == 0)
			continue;
		if (got < 0)
			return caught ? CB_ERR_INTERNAL : CB_ERR_IO;
		if (got == 0 || c == '\n')
			break;
		if (n < PASSWORD_MAX)
			pw[n++] = c;
		else
			over = 1;
	}
	if (n > 0 && pw[n - 1] == '\r')
		n--;
	pw[n] = '\0';
	if (over)
		return CB_ERR_TOO_LARGE;
	if (n == 0)
		return CB_ERR_INVALID;
	*ret_len = n;
	return 0;
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

static int read_tty(const char *user, char *pw)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENXIO || errno == ENOENT || errno == ENOTTY || errno == EACCES
			       ? CB_ERR_NOT_FOUND : CB_ERR_IO;
	/* As readpassphrase(3): a signal while echo is off must not leave the
	 * terminal silent, so catch it, restore, then deliver it. */
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
	char question[400];
	snprintf(question, sizeof(question), "Broker password for %.300s: ", user);
	write_all(fd, question);
	size_t len;
	int r = read_line(fd, pw, &len);
	write_all(fd, "\n");
	if (have_termios)
		tcsetattr(fd, TCSAFLUSH, &saved);
	close(fd);
	for (size_t i = 0; i < N_HANDLED; i++)
		sigaction(handled[i], &old[i], NULL);
	if (caught != 0) {
		raise(caught);
		return CB_ERR_INTERNAL;
	}
	return r;
}

int password_read(int from_stdin, const char *user, char **ret)
{
	if (sodium_init() < 0) /* idempotent; sodium_malloc needs it */
		return CB_ERR_CRYPTO;
	char *pw = sodium_malloc(PASSWORD_MAX + 1);
	if (pw == NULL)
		return CB_ERR_NOMEM;
	size_t len;
	int r = from_stdin ? read_line(STDIN_FILENO, pw, &len) : read_tty(user, pw);
	if (r < 0) {
		sodium_free(pw); /* wipes */
		return r;
	}
	*ret = pw;
	return 0;
}
