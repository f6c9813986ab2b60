/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "credbroker/buf.h"
#include "credbroker/err.h"

#include "check.h"

int main(void)
{
	struct buf b;
	buf_init(&b, 8);
	CHECK_STR(buf_str(&b), "");
	CHECK_INT(buf_puts(&b, "abcd"), 0);
	CHECK_INT(buf_printf(&b, "%d", 1234), 0);
	CHECK_STR(buf_str(&b), "abcd1234");
	/* The cap holds and a refused append changes nothing. */
	CHECK_INT(buf_putc(&b, 'x'), CB_ERR_TOO_LARGE);
	CHECK_INT(buf_printf(&b, "%s", "y"), CB_ERR_TOO_LARGE);
	CHECK_INT((long long)b.len, 8);
	CHECK_STR(buf_str(&b), "abcd1234");
	buf_consume(&b, 3);
	CHECK_STR(buf_str(&b), "d1234");
	/* Embedded NULs are kept: len is the truth. */
	CHECK_INT(buf_append(&b, "\0z", 2), 0);
	CHECK_INT((long long)b.len, 7);
	char *s = buf_steal(&b);
	CHECK(s != NULL && memcmp(s, "d1234\0z", 8) == 0);
	free(s);
	CHECK(b.data == NULL && b.len == 0);
	/* Growth past the first allocation keeps the contents. */
	struct buf big;
	buf_init(&big, 1 << 20);
	for (int i = 0; i < 10000; i++)
		CHECK_INT(buf_putc(&big, (char)('a' + i % 26)), 0) ;
	CHECK_INT((long long)big.len, 10000);
	CHECK(big.data[9999] == 'a' + 9999 % 26 && big.data[10000] == '\0');
	buf_free(&big);
	buf_free(&b);
	return check_status();
}
