/* SPDX-License-Identifier: MIT */
/*
 * Arbitrary bytes as an audit log, through the same verifier the
 * `admin audit verify` command uses. The key is fixed so that the seed
 * corpus (logs made under it) reaches the chain checks, not only the
 * parser.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "credbroker/audit.h"
#include "credbroker/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[AUDIT_KEY_BYTES];
	memset(key, 0x42, sizeof(key));
	int fd = memfd_create("fuzz-audit", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	lseek(fd, 0, SEEK_SET);
	struct buf why;
	buf_init(&why, 256);
	size_t records = 0, bad_line = 0;
	(void)audit_verify_fd(fd, key, &records, &bad_line, &why);
	buf_free(&why);
	close(fd);
	return 0;
}
