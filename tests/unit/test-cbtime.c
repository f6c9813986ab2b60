/* SPDX-License-Identifier: MIT */
#include "credbroker/cbtime.h"
#include "credbroker/err.h"

#include "check.h"

int main(void)
{
	long s;
	CHECK(cbtime_parse_duration("3600", &s) == 0 && s == 3600);
	CHECK(cbtime_parse_duration("15m", &s) == 0 && s == 900);
	CHECK(cbtime_parse_duration("1h", &s) == 0 && s == 3600);
	CHECK(cbtime_parse_duration("12h", &s) == 0 && s == 43200);
	CHECK(cbtime_parse_duration("90s", &s) == 0 && s == 90);
	const char *bad[] = { "", "h", "-5", "1.5h", "1d", "1hh", " 1h", "99999999999999999999", "169h", NULL };
	for (int i = 0; bad[i]; i++)
		CHECK_INT(cbtime_parse_duration(bad[i], &s), CB_ERR_INVALID);

	time_t t;
	CHECK(cbtime_parse_rfc3339("2015-08-30T12:36:00Z", &t) == 0 && t == 1440938160);
	CHECK(cbtime_parse_rfc3339("2015-08-30T12:36:00.123Z", &t) == 0 && t == 1440938160);
	CHECK(cbtime_parse_rfc3339("2015-08-30T14:36:00+02:00", &t) == 0 && t == 1440938160);
	CHECK(cbtime_parse_rfc3339("2015-08-30T10:36:00-02:00", &t) == 0 && t == 1440938160);
	const char *badt[] = { "2015-08-30", "2015-02-30T00:00:00Z", "2015-08-30T12:36:00",
			       "2015-08-30T25:00:00Z", "2015-08-30T12:36:00Zjunk", "2015-8-30T12:36:00Z",
			       "2015-08-30T12:36:00+0200", NULL };
	for (int i = 0; badt[i]; i++)
		CHECK_INT(cbtime_parse_rfc3339(badt[i], &t), CB_ERR_INVALID);

	/* A date means "through that day". */
	CHECK(cbtime_parse_when("2015-08-30", &t) == 0 && t == 1440979200);
	CHECK(cbtime_parse_when("2024-02-29", &t) == 0);
	CHECK_INT(cbtime_parse_when("2023-02-29", &t), CB_ERR_INVALID);

	char out[CBTIME_RFC3339_LEN];
	cbtime_format_rfc3339(1440938160, out);
	CHECK_STR(out, "2015-08-30T12:36:00Z");
	return check_status();
}
