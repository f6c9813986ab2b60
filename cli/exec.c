/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "credbroker/cbtime.h"
#include "credbroker/err.h"
#include "cli.h"
#include "client.h"
#include "opt.h"
#include "session.h"

static const char usage_text[] =
	"usage: credbroker exec PROFILE [--code CODE] [--duration D] -- CMD [ARG...]\n"
	"\n"
	"Run CMD with a session for PROFILE (cached, or fetched as 'get' does) in\n"
	"AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,\n"
	"AWS_CREDENTIAL_EXPIRATION (and AWS_REGION, AWS_DEFAULT_REGION when the\n"
	"profile has a region), with AWS_PROFILE and AWS_DEFAULT_PROFILE unset.\n"
	"SIGINT, SIGTERM and SIGHUP are passed on; the exit status is CMD's\n"
	"(128+N when a signal N killed it, 127 when it cannot be found, 126 when it\n"
	"cannot be run).\n";

static volatile sig_atomic_t child_pid;
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP };
#define N_FORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

static void forward(int sig, siginfo_t *info, void *uctx)
{
	/* A signal from the terminal already reached the child, which shares
	 * our process group; only pass on what was sent to us alone. */
	if (child_pid > 0 && info->si_code != SI_KERNEL)
		kill((pid_t)child_pid, sig);
}

static const char *const cleared[] = {
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION",
};

/* In the child: the environment, then exec. Never returns. */
static void run_child(const struct session *s, char **cmd, const sigset_t *mask)
{
	for (size_t i = 0; i < N_FORWARDED; i++)
		signal(forwarded[i], SIG_DFL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	for (size_t i = 0; i < sizeof(cleared) / sizeof(cleared[0]); i++)
		unsetenv(cleared[i]);
	if (setenv("AWS_ACCESS_KEY_ID", s->access_key_id, 1) < 0 ||
	    setenv("AWS_SECRET_ACCESS_KEY", s->secret_access_key, 1) < 0 ||
	    setenv("AWS_SESSION_TOKEN", s->session_token, 1) < 0 ||
	    setenv("AWS_CREDENTIAL_EXPIRATION", s->expiration, 1) < 0 ||
	    (s->region != NULL && (setenv("AWS_REGION", s->region, 1) < 0 ||
				   setenv("AWS_DEFAULT_REGION", s->region, 1) < 0))) {
		cli_error("exec: out of memory");
		_exit(CLIENT_EXIT_FAILURE);
	}
	execvp(cmd[0], cmd);
	int e = errno;
	cli_error("exec: %s: %s", cmd[0], strerror(e));
	_exit(e == ENOENT ? 127 : 126);
}

int exec_main(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(usage_text, stdout);
		return 0;
	}
	const char *profile = NULL, *code = NULL, *dur = NULL;
	char **cmd = NULL;
	for (int i = 1; i < argc; i++) {
		int m;
		if (strcmp(argv[i], "--") == 0) {
			cmd = argv + i + 1;
			break;
		}
		if ((m = opt_value(argc, argv, &i, "--code", &code)) != 0 ||
		    (m = opt_value(argc, argv, &i, "--duration", &dur)) != 0) {
			if (m < 0)
				return CLIENT_EXIT_USAGE;
			continue;
		}
		if (argv[i][0] == '-')
			return opt_usage_error("exec", "unknown option", argv[i]);
		if (profile == NULL) {
			profile = argv[i];
			continue;
		}
		cmd = argv + i;
		break;
	}
	if (profile == NULL || cmd == NULL || cmd[0] == NULL) {
		cli_error("exec: needs PROFILE and a command after '--' (see 'credbroker exec --help')");
		return CLIENT_EXIT_USAGE;
	}
	long duration = 0;
	if (dur != NULL && cbtime_parse_duration(dur, &duration) < 0)
		return opt_usage_error("exec", "bad duration (seconds, or 15m, 1h, 12h)", dur);

	struct session s;
	struct client_error err;
	int r = session_obtain(profile, code, duration, SESSION_MAY_PROMPT, &s, &err);
	if (r < 0) {
		client_report(&err);
		return session_exit_code(r);
	}

	/* Block the forwarded signals until the child's pid is known. */
	sigset_t block, old;
	sigemptyset(&block);
	for (size_t i = 0; i < N_FORWARDED; i++)
		sigaddset(&block, forwarded[i]);
	sigprocmask(SIG_BLOCK, &block, &old);
	struct sigaction sa = { .sa_sigaction = forward, .sa_flags = SA_SIGINFO | SA_RESTART };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_FORWARDED; i++)
		sigaction(forwarded[i], &sa, NULL);

	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		run_child(&s, cmd, &old);
	session_free(&s); /* the parent needs the secrets no more */
	if (pid < 0) {
		cli_error("exec: fork: %s", strerror(errno));
		return CLIENT_EXIT_FAILURE;
	}
	child_pid = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);

	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			cli_error("exec: waitpid: %s", strerror(errno));
			return CLIENT_EXIT_FAILURE;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return CLIENT_EXIT_FAILURE;
}
