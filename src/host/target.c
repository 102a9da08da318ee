/* Transport ID strings in the form SPDK's tools take them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "host/host.h"

static int copy_value(char *dst, size_t size, const char *value, size_t len, const char *key,
		      char *err, size_t errlen)
{
	if (len == 0 || len >= size) {
		snprintf(err, errlen, "%s: value must have 1..%zu characters", key, size - 1);
		return -EINVAL;
	}
	memcpy(dst, value, len);
	dst[len] = '\0';
	return 0;
}

int host_target_parse(struct host_target *target, const char *str, char *err, size_t errlen)
{
	memset(target, 0, sizeof(*target));
	snprintf(target->trsvcid, sizeof(target->trsvcid), "4420");
	bool have_trtype = false;

	const char *p = str;
	while (*p) {
		p += strspn(p, " \t");
		if (!*p)
			break;
		size_t toklen = strcspn(p, " \t");
		const char *colon = memchr(p, ':', toklen);
		/* Accept key=value as well; SPDK does. */
		const char *eq = memchr(p, '=', toklen);
		const char *sep = colon && (!eq || colon < eq) ? colon : eq;
		if (!sep) {
			snprintf(err, errlen, "'%.*s': expected key:value", (int)toklen, p);
			return -EINVAL;
		}
		size_t keylen = (size_t)(sep - p);
		const char *value = sep + 1;
		size_t vlen = toklen - keylen - 1;
		int rc = 0;

		if (keylen == 6 && !strncasecmp(p, "trtype", 6)) {
			if (vlen != 3 || strncasecmp(value, "TCP", 3)) {
				snprintf(err, errlen, "trtype:%.*s: only TCP is supported", (int)vlen, value);
				return -EINVAL;
			}
			have_trtype = true;
		} else if (keylen == 6 && !strncasecmp(p, "adrfam", 6)) {
			if (vlen != 4 || strncasecmp(value, "IPv4", 4)) {
				snprintf(err, errlen, "adrfam:%.*s: only IPv4 is supported", (int)vlen, value);
				return -EINVAL;
			}
		} else if (keylen == 6 && !strncasecmp(p, "traddr", 6)) {
			rc = copy_value(target->traddr, sizeof(target->traddr), value, vlen, "traddr", err,
					errlen);
		} else if (keylen == 7 && !strncasecmp(p, "trsvcid", 7)) {
			rc = copy_value(target->trsvcid, sizeof(target->trsvcid), value, vlen, "trsvcid",
					err, errlen);
		} else if (keylen == 6 && !strncasecmp(p, "subnqn", 6)) {
			rc = copy_value(target->subnqn, sizeof(target->subnqn), value, vlen, "subnqn", err,
					errlen);
		} else {
			snprintf(err, errlen, "unknown key '%.*s'", (int)keylen, p);
			return -EINVAL;
		}
		if (rc)
			return rc;
		p += toklen;
	}
	if (!have_trtype) {
		snprintf(err, errlen, "trtype:TCP is required");
		return -EINVAL;
	}
	if (!target->traddr[0]) {
		snprintf(err, errlen, "traddr is required");
		return -EINVAL;
	}
	return 0;
}
