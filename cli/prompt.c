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

int prompt_secret(const char *question, char out[static PROMPT_CODE_MAX])
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

	char line[PROMPT_CODE_MAX + 2];
	size_t len = 0;
	int r = 0, over = 0;
	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR && caught == 0)
			continue;
		if (n < 0) {
			r = caught ? CB_ERR_INTERNAL : CB_ERR_IO;
			break;
		}
		if (n == 0 || c == '\n' || c == '\r')
			break;
		if (len < sizeof(line) - 1)
			line[len++] = c;
		else
			over = 1;
	}
	line[len] = '\0';
	write_all(fd, "\n");
	if (have_termios)
		tcsetattr(fd, TCSAFLUSH, &saved);
	close(fd);
	for (size_t i = 0; i < N_HANDLED; i++)
		sigaction(handled[i], &old[i], NULL);
	if (caught != 0) {
		sodium_memzero(line, sizeof(line));
		raise(caught);
		return CB_ERR_INTERNAL;
	}
	if (r == 0 && (len == 0 || over || len >= PROMPT_CODE_MAX))
		r = CB_ERR_INVALID;
	if (r == 0)
		memcpy(out, line, len + 1);
	sodium_memzero(line, sizeof(line));
	return r;
}
